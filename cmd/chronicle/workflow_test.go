package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/client"
)

// Workflow schedules through the native API (issue 19): a job's tasks run
// in phases against a real receiver, with their outcomes in the job.

type jobTask struct {
	ID                int             `json:"id"`
	URL               string          `json:"url"`
	Phase             string          `json:"phase"`
	Active            bool            `json:"active"`
	Status            string          `json:"status"`
	TaskRunID         string          `json:"taskRunId"`
	Attempts          int             `json:"attempts"`
	StartedAt         time.Time       `json:"startedAt"`
	FinishedAt        time.Time       `json:"finishedAt"`
	Response          json.RawMessage `json:"response"`
	ContinueOnFailure bool            `json:"continueOnFailure"`
}

type job struct {
	ID            uint64    `json:"id"`
	ScheduleID    string    `json:"scheduleId"`
	Status        string    `json:"status"`
	InitializedBy string    `json:"initializedBy"`
	CreatedAt     time.Time `json:"createdAt"`
	StartedAt     time.Time `json:"startedAt"`
	EndedAt       time.Time `json:"endedAt"`
	Tasks         []jobTask `json:"tasks"`
}

// createWorkflow creates a workflow schedule of app (cron expr, "@manual"
// for none) with tasks, and returns its id.
func (tn *testNode) createWorkflow(app, expr string, tasks ...map[string]any) string {
	tn.t.Helper()
	return tn.lifeCall(200, "POST", "/goscheduler/schedules", map[string]any{"appId": app, "cronExpression": expr,
		"callback": map[string]any{"type": "workflow", "details": map[string]any{"tasks": tasks}}}).ScheduleID
}

func (tn *testNode) newJob(schedule string) job {
	tn.t.Helper()
	return decodeData[job](tn.t, tn.must(200, "POST", "/goscheduler/schedules/"+schedule+"/jobs", nil))
}

func (tn *testNode) getJob(id uint64) job {
	tn.t.Helper()
	return decodeData[job](tn.t, tn.must(200, "GET", fmt.Sprintf("/goscheduler/jobs/%d", id), nil))
}

// waitJob waits until job id has one of the statuses.
func (tn *testNode) waitJob(id uint64, within time.Duration, statuses ...string) job {
	tn.t.Helper()
	var j job
	waitFor(tn.t, within, fmt.Sprintf("job %d %v", id, statuses), func() bool {
		j = tn.getJob(id)
		for _, s := range statuses {
			if j.Status == s {
				return true
			}
		}
		return false
	})
	return j
}

// asyncComponent answers a task's call 202 with a Location to poll, which
// says processing twice, then success.
type asyncComponent struct {
	srv   *httptest.Server
	mu    sync.Mutex
	polls int
	runID string // the task-run id the call carried
}

func newAsyncComponent(t *testing.T) *asyncComponent {
	a := &asyncComponent{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/run":
			a.runID = r.Header.Get("X-Chronicle-Task-Run-Id")
			w.Header().Set("Location", "/jobs/77")
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"id":77,"status":"waiting"}`)
		case "/jobs/77":
			a.polls++
			if a.polls < 3 {
				fmt.Fprint(w, `{"id":77,"status":"processing","isFinished":false}`)
				return
			}
			fmt.Fprint(w, `{"id":77,"status":"success","isFinished":true,"result":{"rows":42}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// An orchestration of tasks in phases [1, 1, none, "x"] and an inactive
// one: the two of phase 1 overlap in time, the rest follow in order, the
// inactive one is never called; the 202 task is polled until it finished;
// each call carries its task-run id and its parameters as the body.
func TestWorkflowJobRunsItsPhasesInOrder(t *testing.T) {
	rc := newReceiver(t)
	cfg := testConfig(t, t.TempDir())
	cfg.taskPoll = 100 * time.Millisecond
	cfg.componentURL = rc.url("/components/{component}/{action}")
	tn := startTestNode(t, cfg)
	tn.registerApp("etl", 1)
	rc.answerAfter("/extract-a", 700*time.Millisecond)
	rc.answerAfter("/extract-b", 700*time.Millisecond)
	rc.answerWith("/transform", 200, `{"ok":true}`)
	async := newAsyncComponent(t)
	id := tn.createWorkflow("etl", "@manual",
		map[string]any{"url": rc.url("/extract-a"), "phase": "1", "parameters": map[string]any{"config": "a"}},
		map[string]any{"url": rc.url("/extract-b"), "phase": "1"},
		map[string]any{"url": rc.url("/transform")},
		map[string]any{"url": async.srv.URL + "/run", "phase": "x"},
		map[string]any{"component": "ex-db", "action": "extract", "phase": "x"},
		map[string]any{"url": rc.url("/never"), "phase": "x", "active": false},
	)
	created := tn.newJob(id)
	if created.Status != "waiting" || created.InitializedBy != "manually" || len(created.Tasks) != 6 {
		t.Fatalf("created job %+v", created)
	}
	j := tn.waitJob(created.ID, 20*time.Second, "success", "warning", "error")
	if j.Status != "success" {
		t.Fatalf("job ended %s: %+v", j.Status, j.Tasks)
	}
	a, b, tr := rc.hitsFor("/extract-a"), rc.hitsFor("/extract-b"), rc.hitsFor("/transform")
	if len(a) != 1 || len(b) != 1 || len(tr) != 1 {
		t.Fatalf("calls: extract-a %d, extract-b %d, transform %d; want one each", len(a), len(b), len(tr))
	}
	if gap := a[0].At.Sub(b[0].At).Abs(); gap > 500*time.Millisecond {
		t.Fatalf("phase 1's tasks began %s apart: they did not run together (each takes 700 ms)", gap)
	}
	if tr[0].At.Before(a[0].At.Add(650*time.Millisecond)) || tr[0].At.Before(b[0].At.Add(650*time.Millisecond)) {
		t.Fatal("the task after phase 1 began before phase 1's calls ended")
	}
	if a[0].Body != `{"config":"a"}` || b[0].Body != `{}` {
		t.Fatalf("bodies %q and %q: want the task's parameters, {} for none", a[0].Body, b[0].Body)
	}
	if got, want := a[0].Header.Get("X-Chronicle-Task-Run-Id"), fmt.Sprintf("%d.1", j.ID); got != want {
		t.Fatalf("task-run id %q, want %q", got, want)
	}
	if len(rc.hitsFor("/never")) != 0 {
		t.Fatal("an inactive task was called")
	}
	async.mu.Lock()
	polls, asyncRun := async.polls, async.runID
	async.mu.Unlock()
	if polls != 3 || asyncRun != fmt.Sprintf("%d.4", j.ID) {
		t.Fatalf("the 202 task was polled %d times (want 3, until it said success), run id %q", polls, asyncRun)
	}
	if c := rc.hitsFor("/components/ex-db/extract"); len(c) != 1 || c[0].Header.Get("X-Chronicle-Task-Run-Id") != fmt.Sprintf("%d.5", j.ID) {
		t.Fatalf("the component task was called %d times at its template's URL", len(c))
	}
	for i, want := range []string{"success", "success", "success", "success", "success", "cancelled"} {
		if j.Tasks[i].Status != want {
			t.Fatalf("task %d: %s, want %s (%+v)", i+1, j.Tasks[i].Status, want, j.Tasks)
		}
	}
	if !strings.Contains(string(j.Tasks[3].Response), `"rows":42`) || string(j.Tasks[2].Response) != `{"ok":true}` {
		t.Fatalf("responses %s and %s: want the receivers' answers", j.Tasks[2].Response, j.Tasks[3].Response)
	}
	if !j.Tasks[3].FinishedAt.After(j.Tasks[2].FinishedAt) || j.EndedAt.Before(j.Tasks[3].FinishedAt) {
		t.Fatalf("times out of order: %+v", j)
	}
}

// A failed task with continueOnFailure lets the job go on and end
// warning; one without ends it error, and later phases never run; a task
// past its timeout fails.
func TestWorkflowJobFailures(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	tn.registerApp("etl", 1)
	rc := newReceiver(t)
	rc.answerWith("/bad", 400, `{"error":"no such table"}`)
	rc.answerAfter("/hang", 4*time.Second)

	warned := tn.newJob(tn.createWorkflow("etl", "@manual",
		map[string]any{"url": rc.url("/bad"), "continueOnFailure": true},
		map[string]any{"url": rc.url("/after-warning")}))
	failed := tn.newJob(tn.createWorkflow("etl", "@manual",
		map[string]any{"url": rc.url("/bad"), "phase": "p"},
		map[string]any{"url": rc.url("/beside"), "phase": "p"},
		map[string]any{"url": rc.url("/after-error")}))
	timedOut := tn.newJob(tn.createWorkflow("etl", "@manual",
		map[string]any{"url": rc.url("/hang"), "timeoutSeconds": 1}))

	w := tn.waitJob(warned.ID, 15*time.Second, "success", "warning", "error")
	if w.Status != "warning" || w.Tasks[0].Status != "error" || w.Tasks[1].Status != "success" || len(rc.hitsFor("/after-warning")) != 1 {
		t.Fatalf("continueOnFailure: job %s, tasks %+v", w.Status, w.Tasks)
	}
	if !strings.Contains(string(w.Tasks[0].Response), "no such table") {
		t.Fatalf("a failed task's response %s: want the receiver's answer", w.Tasks[0].Response)
	}
	f := tn.waitJob(failed.ID, 15*time.Second, "success", "warning", "error")
	if f.Status != "error" || f.Tasks[1].Status != "success" || f.Tasks[2].Status != "cancelled" {
		t.Fatalf("a plain failure: job %s, tasks %+v", f.Status, f.Tasks)
	}
	if len(rc.hitsFor("/after-error")) != 0 {
		t.Fatal("a phase after a failed one ran")
	}
	to := tn.waitJob(timedOut.ID, 15*time.Second, "success", "warning", "error")
	if to.Status != "error" || !strings.Contains(string(to.Tasks[0].Response), "timeout") {
		t.Fatalf("a task past its timeout: job %s, task %+v", to.Status, to.Tasks[0])
	}
	if took := to.Tasks[0].FinishedAt.Sub(to.Tasks[0].StartedAt); took > 3*time.Second {
		t.Fatalf("the 1 s timeout ended the task after %s (the receiver answers after 4 s)", took)
	}
}

// A workflow runs one job at a time with at most one waiting: a third is
// refused (409); a waiting job is cancelled, a processing one is not.
// A cron workflow creates its jobs itself until it is paused.
func TestWorkflowJobQueueAndCron(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	tn.registerApp("etl", 1)
	rc := newReceiver(t)
	rc.answerAfter("/slow", 1500*time.Millisecond)
	id := tn.createWorkflow("etl", "@manual", map[string]any{"url": rc.url("/slow")})
	first := tn.newJob(id)
	tn.waitJob(first.ID, 10*time.Second, "processing")
	second := tn.newJob(id)
	if code, r := tn.call("POST", "/goscheduler/schedules/"+id+"/jobs", nil); code != 409 || !strings.Contains(string(r.raw), "waiting") {
		t.Fatalf("a third job: HTTP %d %s; want 409 naming the waiting job", code, r.raw)
	}
	if code, r := tn.call("DELETE", fmt.Sprintf("/goscheduler/jobs/%d", first.ID), nil); code != 409 {
		t.Fatalf("cancel of a processing job: HTTP %d %s; want 409", code, r.raw)
	}
	cancelled := decodeData[job](t, tn.must(200, "DELETE", fmt.Sprintf("/goscheduler/jobs/%d", second.ID), nil))
	if cancelled.Status != "cancelled" {
		t.Fatalf("cancelled job %+v", cancelled)
	}
	if done := tn.waitJob(first.ID, 10*time.Second, "success", "error"); done.Status != "success" {
		t.Fatalf("first job %+v", done)
	}
	if got := tn.getJob(second.ID); got.Status != "cancelled" || len(rc.hitsFor("/slow")) != 1 {
		t.Fatalf("the cancelled job ran: %+v, %d calls", got, len(rc.hitsFor("/slow")))
	}
	list := decodeData[struct{ Jobs []job }](t, tn.must(200, "GET", "/goscheduler/schedules/"+id+"/jobs", nil))
	if len(list.Jobs) != 2 || list.Jobs[0].ID != second.ID || list.Jobs[1].ID != first.ID {
		t.Fatalf("jobs newest first: %+v", list.Jobs)
	}

	cron := tn.createWorkflow("etl", "@every 1s", map[string]any{"url": rc.url("/tick")})
	waitFor(t, 10*time.Second, "two jobs of the cron", func() bool { return len(rc.hitsFor("/tick")) >= 2 })
	tn.must(200, "POST", "/goscheduler/schedules/"+cron+"/pause", nil)
	byCron := decodeData[struct{ Jobs []job }](t, tn.must(200, "GET", "/goscheduler/schedules/"+cron+"/jobs", nil)).Jobs
	if len(byCron) < 2 || byCron[0].InitializedBy != "scheduler" {
		t.Fatalf("the cron's jobs %+v", byCron)
	}
	time.Sleep(2500 * time.Millisecond)
	after := decodeData[struct{ Jobs []job }](t, tn.must(200, "GET", "/goscheduler/schedules/"+cron+"/jobs", nil)).Jobs
	if len(after) > len(byCron)+1 { // one may have been on its way when the pause came
		t.Fatalf("a paused cron created jobs: %d, then %d", len(byCron), len(after))
	}
}

// Kill -9 the leader of a three-node cluster while a job's task is being
// called: the new leader calls that task again under the same task-run
// id (its outcome was never recorded), then the rest, and the job
// finishes; no task is lost, and none that finished is called again.
func TestKillLeaderMidJob(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{child: true})
	leader, followers := leaderAndFollowers(t, nodes)
	rc := newReceiver(t)
	rc.answerAfter("/long", 1500*time.Millisecond)
	follower := followers[0]
	follower.registerApp("etl", 1)
	id := follower.createWorkflow("etl", "@manual",
		map[string]any{"url": rc.url("/first")},
		map[string]any{"url": rc.url("/long"), "timeoutSeconds": 30},
		map[string]any{"url": rc.url("/last")})
	j := follower.newJob(id)
	waitFor(t, 15*time.Second, "the long task called", func() bool { return len(rc.hitsFor("/long")) == 1 })
	leader.kill9()

	survivor := followers[1]
	done := survivor.waitJob(j.ID, 30*time.Second, "success", "warning", "error")
	if done.Status != "success" {
		t.Fatalf("the job ended %s after the failover: %+v", done.Status, done.Tasks)
	}
	long := rc.hitsFor("/long")
	if len(long) < 2 {
		t.Fatalf("the task in flight when the leader died was called %d times: the new leader did not call it again", len(long))
	}
	want := fmt.Sprintf("%d.2", j.ID)
	for _, h := range long {
		if got := h.Header.Get("X-Chronicle-Task-Run-Id"); got != want {
			t.Fatalf("a repeated call carried task-run id %q, want %q", got, want)
		}
	}
	if long[0].Header.Get("X-Chronicle-Fired-By") == long[len(long)-1].Header.Get("X-Chronicle-Fired-By") {
		t.Fatal("the repeated call came from the same leader and term")
	}
	if n := len(rc.hitsFor("/first")); n != 1 {
		t.Fatalf("the task that finished before the failover was called %d times", n)
	}
	if n := len(rc.hitsFor("/last")); n != 1 {
		t.Fatalf("the task after the failover was called %d times", n)
	}
	if done.Tasks[1].Attempts < 2 || done.Tasks[1].TaskRunID != want {
		t.Fatalf("the repeated task's record %+v", done.Tasks[1])
	}
	leader.start()
	leader.waitHealthy()
	waitFor(t, 15*time.Second, "the restarted node has the job's end", func() bool { return leader.getJob(j.ID).Status == "success" })
}

// A workflow job's notifications each arrive once, by email (a real SMTP
// server: STARTTLS, AUTH) and by a webhook signed with the app's secret:
// error and warning when jobs end so, waiting when a job waits past its
// timeout, processing when a job runs past its workflow's usual time by
// more than the tolerance. Each is recorded in the schedule's history.
func TestWorkflowNotificationsArriveOnce(t *testing.T) {
	mb := startMailbox(t, "robot", "mail-pass")
	cfg := testConfig(t, t.TempDir())
	cfg.smtpURL, cfg.smtpUser, cfg.smtpFrom = "smtp://"+mb.addr, "robot", "Chronicle <chronicle@example.com>"
	cfg.smtpPasswordFile = writeSecret(t, "smtp-pass", "mail-pass")
	cfg.notify.RootCAs = mb.roots
	cfg.notify.Policy.MaxAttempts, cfg.notify.Policy.InitialBackoff = 2, 10*time.Millisecond
	tn := startTestNode(t, cfg)
	tn.registerApp("etl", 1)
	secret := decodeData[struct{ Secret string }](t, tn.must(200, "GET", "/goscheduler/apps/etl/signing-secret", nil)).Secret
	rc := newReceiver(t)
	rc.answerWith("/bad", 400, `{"error":"bad input"}`)
	rc.answerAfter("/slow", 1500*time.Millisecond)
	rc.answerAfter("/varies", 100*time.Millisecond)

	workflow := func(task map[string]any, channel string, params map[string]any) string {
		return tn.lifeCall(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "etl", "cronExpression": "@manual",
			"callback": map[string]any{"type": "workflow", "details": map[string]any{"tasks": []any{task},
				"notifications": []any{
					map[string]any{"channel": channel, "email": channel + "@example.com", "parameters": params},
					map[string]any{"channel": channel, "url": rc.url("/hook-" + channel), "parameters": params},
				}}}}).ScheduleID
	}
	failing := workflow(map[string]any{"url": rc.url("/bad")}, "error", nil)
	warned := workflow(map[string]any{"url": rc.url("/bad"), "continueOnFailure": true}, "warning", nil)
	waiting := workflow(map[string]any{"url": rc.url("/slow")}, "waiting", map[string]any{"timeout": 0.01})
	processing := workflow(map[string]any{"url": rc.url("/varies")}, "processing", map[string]any{"tolerance": 50})

	tn.waitJob(tn.newJob(failing).ID, 10*time.Second, "error")
	tn.waitJob(tn.newJob(warned).ID, 10*time.Second, "warning")
	first := tn.newJob(waiting) // processing at once: never waits
	second := tn.newJob(waiting)
	tn.waitJob(tn.newJob(processing).ID, 10*time.Second, "success") // its usual: about 100 ms
	rc.answerAfter("/varies", 1500*time.Millisecond)
	tn.waitJob(tn.newJob(processing).ID, 10*time.Second, "success")
	tn.waitJob(second.ID, 15*time.Second, "success")
	tn.waitJob(first.ID, 5*time.Second, "success")

	channels := []string{"error", "warning", "waiting", "processing"}
	waitFor(t, 15*time.Second, "a mail and a webhook on each channel", func() bool {
		for _, ch := range channels {
			if len(rc.hitsFor("/hook-"+ch)) == 0 || len(mailsTo(mb, ch+"@example.com")) == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // room for a second one, which must not come
	for _, ch := range channels {
		hooks, mails := rc.hitsFor("/hook-"+ch), mailsTo(mb, ch+"@example.com")
		if len(hooks) != 1 || len(mails) != 1 {
			t.Fatalf("channel %s: %d webhooks and %d mails, want one each", ch, len(hooks), len(mails))
		}
		h := hooks[0]
		if !verifyWebhook(secret, h.Header.Get("webhook-id"), h.Header.Get("webhook-timestamp"), h.Body, h.Header.Get("webhook-signature")) {
			t.Fatalf("channel %s: the webhook's signature does not verify with the app's secret", ch)
		}
		var doc struct {
			JobID   uint64 `json:"jobId"`
			Channel string `json:"channel"`
		}
		if err := json.Unmarshal([]byte(h.Body), &doc); err != nil || doc.Channel != ch || doc.JobID == 0 {
			t.Fatalf("channel %s: webhook body %s", ch, h.Body)
		}
		if ch == "waiting" && doc.JobID != second.ID {
			t.Fatalf("the waiting notification named job %d, want %d (the one that waited)", doc.JobID, second.ID)
		}
		if !mails[0].tls || mails[0].user != "robot" || !strings.Contains(mails[0].data, fmt.Sprintf("Job %d", doc.JobID)) {
			t.Fatalf("channel %s: mail %+v", ch, mails[0])
		}
	}
	recorded := func() int {
		n := 0
		for i, id := range []string{failing, warned, waiting, processing} {
			for _, ev := range tn.scheduleHistory(id) {
				if ev.Type == "NotificationSent" && strings.Contains(string(ev.Data), `"status":"sent"`) &&
					strings.Contains(string(ev.Data), `"notice":"`+channels[i]+`"`) {
					n++
				}
			}
		}
		return n
	}
	waitFor(t, 5*time.Second, "8 notifications recorded as sent", func() bool { return recorded() >= 8 })
	if n := recorded(); n != 8 {
		t.Fatalf("%d sent notifications recorded, want 8", n)
	}
}

// mailsTo are the mails mb accepted for address to.
func mailsTo(mb *mailbox, to string) []mail {
	var out []mail
	for _, m := range mb.received() {
		for _, r := range m.to {
			if r == to {
				out = append(out, m)
			}
		}
	}
	return out
}

// chronicle jobs run|get|list|cancel drive a workflow's jobs through the
// Go client: a run with a task disabled for it only, its outcome per
// task, the list with its total, and a cancel refused once it started.
func TestJobsCLI(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	tn.registerApp("etl", 1)
	rc := newReceiver(t)
	id := tn.createWorkflow("etl", "@manual",
		map[string]any{"url": rc.url("/a"), "phase": "p"},
		map[string]any{"url": rc.url("/b"), "phase": "p"})
	run := cliJSON[client.Job](t, tn.cli("jobs", "run", id, "--disable", "2", "-o", "json"))
	if run.Status != "waiting" || len(run.Tasks) != 2 || *run.Tasks[1].Active {
		t.Fatalf("jobs run printed %+v", run)
	}
	var done client.Job
	waitFor(t, 10*time.Second, "the job's end", func() bool {
		done = cliJSON[client.Job](t, tn.cli("jobs", "get", fmt.Sprint(run.ID), "-o", "json"))
		return done.Status == "success"
	})
	if done.Tasks[0].Status != "success" || done.Tasks[1].Status != "cancelled" || len(rc.hitsFor("/b")) != 0 {
		t.Fatalf("the job %+v (task 2 was disabled for it)", done)
	}
	if table := mustCLI(t, tn.cli("jobs", "get", fmt.Sprint(run.ID))); !strings.Contains(table.out, "success") {
		t.Fatalf("jobs get as a table:\n%s", table.out)
	}
	list := cliJSON[client.JobList](t, tn.cli("jobs", "list", id, "-o", "json"))
	if len(list.Jobs) != 1 || list.Jobs[0].ID != run.ID {
		t.Fatalf("jobs list printed %+v", list)
	}
	if res := tn.cli("jobs", "cancel", fmt.Sprint(run.ID)); res.code == 0 || !strings.Contains(res.err, "not waiting") {
		t.Fatalf("cancel of a finished job: %v", res)
	}
	if res := tn.cli("jobs", "get", "x"); res.code != 2 {
		t.Fatalf("a job id that is not a number: %v", res)
	}
}
