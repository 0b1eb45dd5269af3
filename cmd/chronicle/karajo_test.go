package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeKarajo writes karajo.conf (dir_base is its own directory) and
// returns its path.
func writeKarajo(t *testing.T, dir, jobs string) string {
	t.Helper()
	conf := fmt.Sprintf("[karajo]\nname = test\ndir_base = %s\nsecret = global-secret\n\n%s", dir, jobs)
	path := filepath.Join(dir, "karajo.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// karajoSchedules is the karajo app's schedules by name as its history
// tells them: id, and the types of the events about each (its own
// history, which survives config edits).
func (tn *testNode) karajoSchedules() map[string]string {
	tn.t.Helper()
	out := map[string]string{}
	for _, ev := range tn.history("/goscheduler/apps/karajo/events?size=1000").Events {
		var d struct{ ScheduleID, Name string }
		if json.Unmarshal(ev.Data, &d) == nil && ev.Type == "ScheduleCreated" {
			out[d.Name] = d.ScheduleID
		}
	}
	return out
}

// A karajo.conf's HTTP job calls its receiver every 2 s with a JSON body
// {"_karajo_epoch":N} signed with the job's secret, as karajo does. Edits
// between restarts change, add and remove jobs as events, keeping each
// job's schedule (and history); the same file again changes nothing.
func TestKarajoHTTPJobsFromTheConfig(t *testing.T) {
	dir := t.TempDir()
	rc := newReceiver(t)
	ping := fmt.Sprintf("[job.http \"Ping receiver\"]\ninterval = 2s\nhttp_url = %s\nhttp_method = POST\n"+
		"http_request_type = json\nsecret = job-secret\nhttp_header = X-Team: ops\n", rc.url("/ping"))
	cfg := testConfig(t, filepath.Join(dir, "data"))
	cfg.karajoConfig = writeKarajo(t, dir, ping)
	tn := startTestNode(t, cfg)

	waitFor(t, 15*time.Second, "two calls of the HTTP job", func() bool { return len(rc.hitsFor("/ping")) >= 2 })
	hits := rc.hitsFor("/ping")
	for _, h := range hits[:2] {
		var body map[string]int64
		if err := json.Unmarshal([]byte(h.Body), &body); err != nil || body["_karajo_epoch"] < h.At.Unix()-2 {
			t.Fatalf("body %q: want {\"_karajo_epoch\": now}", h.Body)
		}
		if !verifyKarajoSign("job-secret", h.Body, h.Header.Get("X-Karajo-Sign")) || h.Header.Get("X-Team") != "ops" {
			t.Fatalf("headers %v: want X-Karajo-Sign of the body with the job's secret and X-Team", h.Header)
		}
	}
	if gap := hits[1].At.Sub(hits[0].At); gap < 1500*time.Millisecond || gap > 2500*time.Millisecond {
		t.Fatalf("calls %s apart, want every 2 s", gap)
	}
	first := tn.karajoSchedules()
	id := first["job_http/ping_receiver"]
	if id == "" {
		t.Fatalf("no schedule job_http/ping_receiver in %v", first)
	}

	// The same file again: nothing proposed.
	before := len(tn.history("/goscheduler/schedules/" + id + "/events?size=1000").Events)
	tn.stop()
	tn.start()
	// The restarted leader's pass starts at its take-over, as its timers
	// do: a second after it fires the job again, it is done.
	hitsBefore := len(rc.hitsFor("/ping"))
	waitFor(t, 10*time.Second, "a call after the restart", func() bool { return len(rc.hitsFor("/ping")) > hitsBefore })
	time.Sleep(time.Second)
	for _, ev := range tn.history("/goscheduler/schedules/" + id + "/events?size=1000").Events[before:] {
		if ev.Type != "RunFired" && ev.Type != "RunCompleted" {
			t.Fatalf("restart with the same file proposed %s", ev.Type)
		}
	}

	// Changed (3 s, GET: the epoch in the query) and a job added.
	changed := strings.Replace(strings.Replace(ping, "interval = 2s", "interval = 3s", 1), "http_method = POST", "http_method = GET", 1)
	tn.stop()
	writeKarajo(t, dir, changed+"\n[job.http \"second\"]\nschedule = minutely\nhttp_url = "+rc.url("/second")+"\n")
	tn.start()
	waitFor(t, 15*time.Second, "a GET of the changed job", func() bool {
		for _, h := range rc.hitsFor("/ping") {
			if h.Method == "GET" && strings.HasPrefix(h.Query, "_karajo_epoch=") && verifyKarajoSign("job-secret", h.Query, h.Header.Get("X-Karajo-Sign")) {
				return true
			}
		}
		return false
	})
	now := tn.karajoSchedules()
	if now["job_http/ping_receiver"] != id || now["job_http/second"] == "" {
		t.Fatalf("after the edit: %v, want the same schedule %s and a new one for second", now, id)
	}
	var updated bool
	for _, ev := range tn.history("/goscheduler/schedules/" + id + "/events?size=1000").Events {
		updated = updated || ev.Type == "ScheduleUpdated" && strings.Contains(string(ev.Data), "@every 3s")
	}
	if !updated {
		t.Fatal("the changed job has no ScheduleUpdated to @every 3s in its history")
	}

	// Removed: its schedule is deleted, its history kept.
	tn.stop()
	writeKarajo(t, dir, "[job.http \"second\"]\nschedule = minutely\nhttp_url = "+rc.url("/second")+"\n")
	tn.start()
	waitFor(t, 10*time.Second, "the removed job deleted", func() bool {
		return tn.getSchedule(id).Status == "DELETED"
	})
	h := tn.history("/goscheduler/schedules/" + id + "/events?size=1000").Events
	if h[0].Type != "ScheduleCreated" || h[len(h)-1].Type != "ScheduleDeleted" {
		t.Fatalf("history of the removed job runs from %s to %s", h[0].Type, h[len(h)-1].Type)
	}
}

// A configuration error stops the start, naming the file and line.
func TestKarajoConfigErrorStopsTheStart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, filepath.Join(dir, "data"))
	cfg.karajoConfig = writeKarajo(t, dir, "[job.http \"x\"]\ninterval = 1500ms\nhttp_url = http://example.com/\n")
	_, err := startNode(cfg, testLogger())
	if err == nil || !strings.Contains(err.Error(), "karajo.conf:7:") || !strings.Contains(err.Error(), "not whole seconds") {
		t.Fatalf("start with a bad karajo.conf: %v, want its file:line and reason", err)
	}
}

// A karajo command job runs on the leader in <data>/karajo/job/<id> with
// its counter, its output kept for its log_retention newest runs; a
// failing command fails the run; cancel kills a long run (CANCELED).
func TestKarajoCommandJobsRunOnTheLeader(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, filepath.Join(dir, "data"))
	cfg.karajoConfig = writeKarajo(t, dir, `
[job "Echo counter"]
interval = 1s
log_retention = 2
command = echo counter=$KARAJO_JOB_COUNTER
command = pwd

[job "fails"]
interval = 1s
command = echo before
command = exit 7
command = echo never

[job "long"]
path = /long
secret = s
command = sleep 30
`)
	tn := startTestNode(t, cfg)
	ids := map[string]string{}
	waitFor(t, 10*time.Second, "the jobs defined", func() bool { ids = tn.karajoSchedules(); return len(ids) == 3 })

	echo := ids["job/echo_counter"]
	waitFor(t, 15*time.Second, "four runs of the echo job", func() bool {
		return tn.lifeCall(200, "GET", "/goscheduler/schedules/"+echo, nil).Runs >= 4
	})
	// Paused, so that no newer run drops the outputs read below.
	tn.must(200, "POST", "/goscheduler/schedules/"+echo+"/pause", nil)
	waitFor(t, 10*time.Second, "its last run done", func() bool {
		for _, run := range decodeData[struct{ Schedules []lifeSchedule }](t,
			tn.must(200, "GET", "/goscheduler/schedules/"+echo+"/runs?size=3", nil)).Schedules {
			if run.Status == "SCHEDULED" {
				return false
			}
		}
		return true
	})
	runs := decodeData[struct{ Schedules []lifeSchedule }](t, tn.must(200, "GET", "/goscheduler/schedules/"+echo+"/runs?size=100", nil)).Schedules
	var kept, gone int
	keptRun := ""
	for _, run := range runs {
		if run.Status != "SUCCESS" {
			continue
		}
		code, r := tn.call("GET", "/goscheduler/schedules/"+run.ScheduleID+"/output", nil)
		switch code {
		case 200:
			kept++
			keptRun = run.ScheduleID
			out := decodeData[struct{ Output string }](t, r).Output
			want := fmt.Sprintf("$ echo counter=$KARAJO_JOB_COUNTER\ncounter=%d\n$ pwd\n%s\n", run.Counter,
				filepath.Join(dir, "data", "karajo", "job", "echo_counter"))
			if out != want {
				t.Fatalf("run %d's output %q, want %q", run.Counter, out, want)
			}
		case 404:
			gone++
		default:
			t.Fatalf("output of %s: HTTP %d %s", run.ScheduleID, code, r.raw)
		}
	}
	if out, err := tn.api().Output(context.Background(), keptRun); err != nil || !strings.Contains(out.Output, "counter=") {
		t.Fatalf("the Go client's Output of the newest run: %+v, %v", out, err)
	}
	if r := mustCLI(t, tn.cli("schedules", "output", keptRun)); !strings.HasPrefix(r.out, "$ echo counter=$KARAJO_JOB_COUNTER\ncounter=") {
		t.Fatalf("chronicle schedules output: %v", r)
	}
	if kept != 2 || gone == 0 {
		t.Fatalf("%d outputs kept and %d dropped of %d runs, want the 2 newest kept (log_retention)", kept, gone, len(runs))
	}

	waitFor(t, 10*time.Second, "a failed run", func() bool {
		for _, run := range decodeData[struct{ Schedules []lifeSchedule }](t,
			tn.must(200, "GET", "/goscheduler/schedules/"+ids["job/fails"]+"/runs?size=10", nil)).Schedules {
			if run.Status == "FAILURE" {
				if !strings.Contains(run.ErrorMessage, "command 2 of 3 failed (exit status 7): exit 7") {
					t.Fatalf("failure %q", run.ErrorMessage)
				}
				out := decodeData[struct{ Output string }](t, tn.must(200, "GET", "/goscheduler/schedules/"+run.ScheduleID+"/output", nil)).Output
				if !strings.Contains(out, "before") || strings.Contains(out, "never") {
					t.Fatalf("failed run's output %q", out)
				}
				return true
			}
		}
		return false
	})

	long := ids["job/long"]
	if s := tn.lifeCall(200, "GET", "/goscheduler/schedules/"+long, nil); s.NextRunTime != 0 {
		t.Fatalf("a job with only a path has a next run %d", s.NextRunTime)
	}
	tn.must(200, "POST", "/goscheduler/schedules/"+long+"/trigger", nil)
	waitFor(t, 10*time.Second, "the long job running", func() bool {
		return tn.lifeCall(200, "GET", "/goscheduler/schedules/"+long, nil).Runs == 1
	})
	time.Sleep(300 * time.Millisecond) // its sleep has begun
	start := time.Now()
	ctx := context.Background()
	canceled, err := tn.api().Cancel(ctx, long) // the Go client, as a program would
	if err != nil || len(canceled.RunIDs) != 1 {
		t.Fatalf("cancel: %+v, %v", canceled, err)
	}
	runID := canceled.RunIDs[0]
	if run := tn.lifeCall(200, "GET", "/goscheduler/schedules/"+runID, nil); run.Status != "CANCELED" || time.Since(start) > 5*time.Second {
		t.Fatalf("canceled run %s after %s: %+v", run.Status, time.Since(start), run)
	}
	if r := tn.cli("schedules", "cancel", long); r.code != 1 || !strings.Contains(r.err, "no run of the schedule is running") {
		t.Fatalf("chronicle schedules cancel with nothing running: %v", r)
	}
	// The API never defines commands.
	code, body := tn.call("PATCH", "/goscheduler/schedules/"+long, map[string]any{"callback": map[string]any{"type": "http",
		"details": map[string]any{"url": "https://example.com/", "method": "GET"}}})
	if code != 400 || !strings.Contains(string(body.raw), "configuration") {
		t.Fatalf("changing a command job's callback: HTTP %d %s", code, body.raw)
	}
}
