package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Keboola Orchestrator's API (issue 19), called as its clients call it:
// X-StorageApi-Token on every request, bodies as its PHP client sends them
// (every task key, null for the unset ones), answers read as they read
// them.

// kbc calls tn's Keboola API with token (sent as X-StorageApi-Token) and
// returns the status, the headers and the decoded body.
func kbc(t *testing.T, tn *testNode, token, method, path string, body any) (int, http.Header, any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, tn.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Keboola Orchestrator API PHP Client")
	if token != "" {
		req.Header.Set("X-StorageApi-Token", token)
	}
	res, err := tn.httpClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var v any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s %s: HTTP %d, not JSON: %q", method, path, res.StatusCode, raw)
		}
	}
	return res.StatusCode, res.Header, v
}

// kbcMust calls and fails unless the status is want; it returns the body
// as an object (or list).
func kbcMust(t *testing.T, tn *testNode, want int, method, path string, body any) any {
	t.Helper()
	code, _, v := kbc(t, tn, "any-token", method, path, body)
	if code != want {
		js, _ := json.Marshal(v)
		t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, code, want, js)
	}
	return v
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }

// kbcTask is a task as Keboola's PHP client sends it: every key.
func kbcTask(url string, phase any, extra map[string]any) map[string]any {
	t := map[string]any{"component": nil, "componentUrl": url, "action": nil, "actionParameters": map[string]any{},
		"continueOnFailure": false, "timeoutMinutes": nil, "active": true, "phase": phase}
	for k, v := range extra {
		t[k] = v
	}
	return t
}

// waitKbcJob polls GET /jobs/{id} until isFinished, as Keboola's clients do.
func waitKbcJob(t *testing.T, tn *testNode, id any, within time.Duration) map[string]any {
	t.Helper()
	var j map[string]any
	waitFor(t, within, fmt.Sprintf("job %v finished", id), func() bool {
		j = obj(kbcMust(t, tn, 200, "GET", fmt.Sprintf("/jobs/%v", id), nil))
		return j["isFinished"] == true
	})
	return j
}

var keboolaTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$`)

func TestKeboolaOrchestrationsRunTheirJobs(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	rc.answerAfter("/ex-a", 600*time.Millisecond)
	rc.answerAfter("/ex-b", 600*time.Millisecond)
	rc.answerWith("/tr", 200, `{"status":"success","result":{"message":"done"}}`)

	// A 5-field crontab fires at the next minute: created first, checked
	// last, while the rest runs.
	cron := obj(kbcMust(t, tn, 201, "POST", "/orchestrations", map[string]any{"name": "Hourly-ish",
		"crontabRecord": "* * * * *", "crontabTimezone": nil, "tasks": []any{kbcTask(rc.url("/tick"), nil, nil)}}))

	// The minimal create, read back alike.
	minimal := obj(kbcMust(t, tn, 201, "POST", "/orchestrations", map[string]any{"name": "PHP Client test"}))
	if minimal["crontabRecord"] != nil || minimal["active"] != true || len(list(minimal["tasks"])) != 0 ||
		len(list(minimal["notifications"])) != 0 || minimal["lastExecutedJob"] != nil || minimal["lastScheduledTime"] != nil ||
		minimal["nextScheduledTime"] != nil || !keboolaTime.MatchString(minimal["createdTime"].(string)) {
		t.Fatalf("minimal orchestration %v", minimal)
	}
	if tasks, has := minimal["tasks"]; !has || tasks == nil {
		t.Fatalf("a new orchestration shows no tasks list: %v", minimal)
	}
	if tok := obj(minimal["token"]); tok["description"] != "PHP Client test Orchestrator" {
		t.Fatalf("token %v", tok)
	}
	id := minimal["id"].(float64)
	if got := obj(kbcMust(t, tn, 200, "GET", fmt.Sprintf("/orchestrations/%v", id), nil)); fmt.Sprint(got) != fmt.Sprint(minimal) {
		t.Fatalf("GET differs from the create:\n%v\n%v", got, minimal)
	}

	// Phases [1, 1, null, "x"]: tasks and notifications through their own
	// endpoints (the seed's misspelt one too).
	tasks := list(kbcMust(t, tn, 202, "PUT", fmt.Sprintf("/orchestrations/%v/tasks", id), []any{
		kbcTask(rc.url("/ex-a"), 1, map[string]any{"actionParameters": map[string]any{"config": "123"}}),
		kbcTask(rc.url("/ex-b"), 1, nil),
		kbcTask(rc.url("/tr"), nil, nil),
		kbcTask(rc.url("/wr"), "x", nil),
	}))
	if len(tasks) != 4 || obj(tasks[0])["phase"] != "1" || obj(tasks[2])["phase"] != nil || obj(tasks[0])["component"] != nil {
		t.Fatalf("tasks %v", tasks)
	}
	if _, has := obj(tasks[0])["component"]; has {
		t.Fatalf("an unset component is shown: %v", tasks[0])
	}
	notes := list(kbcMust(t, tn, 202, "PUT", fmt.Sprintf("/orchestrations/%v/nofitications", id), []any{
		map[string]any{"email": "ops@example.com", "channel": "error"}}))
	if len(notes) != 1 || fmt.Sprint(obj(notes[0])["parameters"]) != "map[]" {
		t.Fatalf("notifications %v", notes)
	}
	if got := list(kbcMust(t, tn, 200, "GET", fmt.Sprintf("/orchestrations/%v/notifications", id), nil)); len(got) != 1 {
		t.Fatalf("notifications read back %v", got)
	}
	if got := kbcMust(t, tn, 200, "GET", fmt.Sprintf("/orchestrations/%v/tasks", id), nil); fmt.Sprint(got) != fmt.Sprint(tasks) {
		t.Fatalf("tasks read back %v, put %v", got, tasks)
	}
	renewed := obj(kbcMust(t, tn, 200, "POST", fmt.Sprintf("/orchestrations/%v/create-token", id), nil))
	if tok := obj(renewed["token"]); tok["id"] != float64(2) || len(list(renewed["tasks"])) != 4 {
		t.Fatalf("create-token answered %v", renewed)
	}

	created := obj(kbcMust(t, tn, 201, "POST", fmt.Sprintf("/orchestrations/%v/jobs", id), nil))
	if created["status"] != "waiting" || created["isFinished"] != false || created["results"] != nil ||
		created["initializedBy"] != "manually" || created["orchestrationId"] != id || created["url"] == nil {
		t.Fatalf("created job %v", created)
	}
	j := waitKbcJob(t, tn, created["id"], 20*time.Second)
	if j["status"] != "success" {
		t.Fatalf("job %v", j)
	}
	results := obj(j["results"])
	phases := list(results["phases"])
	if len(list(results["tasks"])) != 4 || len(phases) != 3 || len(list(phases[0])) != 2 || len(list(phases[1])) != 1 {
		t.Fatalf("results %v", results)
	}
	tr := obj(list(results["tasks"])[2])
	if tr["status"] != "success" || obj(obj(tr["response"])["result"])["message"] != "done" ||
		!keboolaTime.MatchString(fmt.Sprint(tr["startTime"])) {
		t.Fatalf("a task's result %v", tr)
	}
	a, b := rc.hitsFor("/ex-a"), rc.hitsFor("/ex-b")
	if len(a) != 1 || len(b) != 1 || a[0].At.Sub(b[0].At).Abs() > 400*time.Millisecond || a[0].Body != `{"config":"123"}` {
		t.Fatalf("phase 1's calls: %d and %d, %s apart, body %q", len(a), len(b), a[0].At.Sub(b[0].At), a[0].Body)
	}
	if rc.hitsFor("/tr")[0].At.Before(a[0].At.Add(550 * time.Millisecond)) {
		t.Fatal("the task after phase 1 began before it ended")
	}
	code, hdr, jobs := kbc(t, tn, "any-token", "GET", fmt.Sprintf("/orchestrations/%v/jobs?limit=1", id), nil)
	if code != 200 || hdr.Get("X-Total-Count") != "1" || len(list(jobs)) != 1 {
		t.Fatalf("jobs list: HTTP %d, X-Total-Count %q, %v", code, hdr.Get("X-Total-Count"), jobs)
	}

	// A manual run's tasks must be the orchestration's, but for active.
	ts := []any{}
	for _, x := range tasks {
		tk := obj(x)
		delete(tk, "id")
		ts = append(ts, tk)
	}
	obj(ts[3])["action"] = "other"
	code, _, v := kbc(t, tn, "any-token", "POST", "/run", map[string]any{"config": fmt.Sprint(id), "tasks": ts})
	if m := obj(v); code != 400 || m["status"] != "warning" || m["code"] != "JOB_VALIDATION" ||
		!strings.Contains(fmt.Sprint(m["message"]), "different from orchestration task") {
		t.Fatalf("a run with a changed task: HTTP %d %v", code, v)
	}
	delete(obj(ts[3]), "action")
	obj(ts[3])["active"] = false
	run := obj(kbcMust(t, tn, 202, "POST", "/run", map[string]any{"config": id, "tasks": ts, "notificationsEmails": []string{"me@example.com"}}))
	done := waitKbcJob(t, tn, run["id"], 20*time.Second)
	if done["status"] != "success" || len(list(obj(done["results"])["tasks"])) != 3 || len(rc.hitsFor("/wr")) != 1 ||
		fmt.Sprint(done["notificationsEmails"]) != "[me@example.com]" {
		t.Fatalf("a run with task 4 made inactive: %v (writer called %d times)", done, len(rc.hitsFor("/wr")))
	}

	// The queue: one processing, one waiting, the third refused.
	rc.answerAfter("/slow", 1500*time.Millisecond)
	slow := obj(kbcMust(t, tn, 201, "POST", "/orchestrations", map[string]any{"name": "slow",
		"tasks": []any{kbcTask(rc.url("/slow"), nil, nil)}}))
	sid := slow["id"]
	first := obj(kbcMust(t, tn, 202, "POST", "/run", map[string]any{"config": sid}))
	waitFor(t, 10*time.Second, "the first job processing", func() bool {
		return obj(kbcMust(t, tn, 200, "GET", fmt.Sprintf("/jobs/%v", first["id"]), nil))["status"] == "processing"
	})
	second := obj(kbcMust(t, tn, 201, "POST", fmt.Sprintf("/orchestrations/%v/jobs", sid), map[string]any{}))
	code, _, v = kbc(t, tn, "any-token", "POST", fmt.Sprintf("/orchestrations/%v/jobs", sid), nil)
	if m := obj(v); code != 409 || m["status"] != "error" || m["error"] != "User error" || m["code"] != float64(409) ||
		m["message"] != fmt.Sprintf("Orchestration %v has 1 waiting job. Current limit is 1.", sid) {
		t.Fatalf("a third job: HTTP %d %v", code, v)
	}
	if code, _, v := kbc(t, tn, "any-token", "DELETE", fmt.Sprintf("/jobs/%v", first["id"]), nil); code != 409 {
		t.Fatalf("cancel of a processing job: HTTP %d %v", code, v)
	}
	if code, _, v := kbc(t, tn, "any-token", "DELETE", fmt.Sprintf("/jobs/%v", second["id"]), nil); code != 204 || v != nil {
		t.Fatalf("cancel of the waiting job: HTTP %d %v", code, v)
	}
	if c := obj(kbcMust(t, tn, 200, "GET", fmt.Sprintf("/jobs/%v", second["id"]), nil)); c["status"] != "cancelled" ||
		c["startTime"] != nil || c["endTime"] == nil || c["results"] != nil || c["isFinished"] != true {
		t.Fatalf("cancelled job %v", c)
	}

	// Trigger: 409 while inactive, a job once active again.
	kbcMust(t, tn, 200, "PUT", fmt.Sprintf("/orchestrations/%v", id), map[string]any{"active": false})
	if code, _, v := kbc(t, tn, "any-token", "POST", fmt.Sprintf("/orchestrations/%v/trigger", id), nil); code != 409 {
		t.Fatalf("trigger of an inactive orchestration: HTTP %d %v", code, v)
	}
	kbcMust(t, tn, 200, "PUT", fmt.Sprintf("/orchestrations/%v", id), map[string]any{"active": true})
	trig := obj(kbcMust(t, tn, 202, "POST", fmt.Sprintf("/orchestrations/%v/trigger", id), nil))
	if trig["initializedBy"] != "trigger" || len(list(trig["notificationsEmails"])) != 0 {
		t.Fatalf("triggered job %v", trig)
	}

	// A task past its timeoutMinutes fails the job (minutes may have a
	// fraction: Chronicle counts seconds).
	rc.answerAfter("/hang", 6*time.Second)
	hang := obj(kbcMust(t, tn, 201, "POST", "/orchestrations", map[string]any{"name": "hangs",
		"tasks": []any{kbcTask(rc.url("/hang"), nil, map[string]any{"timeoutMinutes": 0.05})}}))
	if tm := obj(list(hang["tasks"])[0])["timeoutMinutes"]; tm != 0.05 {
		t.Fatalf("timeoutMinutes read back %v", tm)
	}
	hung := waitKbcJob(t, tn, obj(kbcMust(t, tn, 202, "POST", "/run", map[string]any{"config": hang["id"]}))["id"], 10*time.Second)
	if r := obj(list(obj(hung["results"])["tasks"])[0]); hung["status"] != "error" || !strings.Contains(fmt.Sprint(r["response"]), "timeout") {
		t.Fatalf("a task past its timeout: %v", hung)
	}

	// Errors in Keboola's envelope.
	for _, c := range []struct {
		method, path string
		body         any
		code         int
		message      string
	}{
		{"GET", "/orchestrations/999999", nil, 404, "Orchestration 999999 not found"},
		{"GET", "/jobs/999999", nil, 404, "Job 999999 not found"},
		{"POST", "/orchestrations", map[string]any{"crontabRecord": "* * * * *"}, 400, `Parameter "name" is required`},
		{"POST", "/orchestrations", map[string]any{"name": "x", "crontabRecord": "61 * * * *"}, 400, "Invalid crontab record"},
		{"POST", "/orchestrations", map[string]any{"name": "x", "tasks": []any{map[string]any{"action": "run"}}}, 400, `one of "component" or "componentUrl"`},
		{"POST", "/run", map[string]any{}, 400, `Parameter "config" is required`},
		{"POST", "/run", map[string]any{"config": id, "notificationsEmails": []string{"not-an-address"}}, 400, "notificationsEmails"},
	} {
		code, _, v := kbc(t, tn, "any-token", c.method, c.path, c.body)
		if m := obj(v); code != c.code || m["status"] != "error" || m["code"] != float64(c.code) || !strings.Contains(fmt.Sprint(m["message"]), c.message) {
			t.Fatalf("%s %s: HTTP %d %v; want %d with %q", c.method, c.path, code, v, c.code, c.message)
		}
	}

	// Deleted while a job runs and one waits: 204, the waiting one is
	// cancelled, the running one ends; then 404, and gone from the list.
	waitKbcJob(t, tn, first["id"], 10*time.Second)
	running := obj(kbcMust(t, tn, 202, "POST", "/run", map[string]any{"config": sid}))
	waitFor(t, 10*time.Second, "a job processing", func() bool {
		return obj(kbcMust(t, tn, 200, "GET", fmt.Sprintf("/jobs/%v", running["id"]), nil))["status"] == "processing"
	})
	queued := obj(kbcMust(t, tn, 201, "POST", fmt.Sprintf("/orchestrations/%v/jobs", sid), nil))
	if code, _, _ := kbc(t, tn, "any-token", "DELETE", fmt.Sprintf("/orchestrations/%v", sid), nil); code != 204 {
		t.Fatalf("delete: HTTP %d", code)
	}
	if j := waitKbcJob(t, tn, queued["id"], 10*time.Second); j["status"] != "cancelled" {
		t.Fatalf("the waiting job of a deleted orchestration ended %v", j["status"])
	}
	if j := waitKbcJob(t, tn, running["id"], 10*time.Second); j["status"] != "success" {
		t.Fatalf("the running job of a deleted orchestration ended %v: %v", j["status"], j["results"])
	}
	kbcMust(t, tn, 404, "GET", fmt.Sprintf("/orchestrations/%v", sid), nil)
	for _, o := range list(kbcMust(t, tn, 200, "GET", "/orchestrations", nil)) {
		if obj(o)["id"] == sid {
			t.Fatal("a deleted orchestration is listed")
		} else if _, has := obj(o)["tasks"]; has {
			t.Fatal("the list shows tasks")
		}
	}

	// A schedule of its own (@every, Chronicle's) creates jobs until the
	// orchestration is made inactive.
	every := obj(kbcMust(t, tn, 201, "POST", "/orchestrations", map[string]any{"name": "often",
		"crontabRecord": "@every 1s", "tasks": []any{kbcTask(rc.url("/often"), nil, nil)}}))
	waitFor(t, 10*time.Second, "two scheduled jobs", func() bool { return len(rc.hitsFor("/often")) >= 2 })
	off := obj(kbcMust(t, tn, 200, "PUT", fmt.Sprintf("/orchestrations/%v", every["id"]), map[string]any{"active": false}))
	if off["active"] != false || off["nextScheduledTime"] != nil {
		t.Fatalf("inactive orchestration %v", off)
	}
	_, hdr, _ = kbc(t, tn, "any-token", "GET", fmt.Sprintf("/orchestrations/%v/jobs", every["id"]), nil)
	before := hdr.Get("X-Total-Count")
	time.Sleep(2500 * time.Millisecond)
	if _, hdr, _ = kbc(t, tn, "any-token", "GET", fmt.Sprintf("/orchestrations/%v/jobs", every["id"]), nil); hdr.Get("X-Total-Count") != before {
		t.Fatalf("an inactive orchestration's jobs went from %s to %s", before, hdr.Get("X-Total-Count"))
	}

	// The crontab's job, made by the scheduler on the minute.
	cid := cron["id"]
	waitFor(t, 75*time.Second, "the crontab's first job", func() bool {
		return len(list(kbcMust(t, tn, 200, "GET", fmt.Sprintf("/orchestrations/%v/jobs", cid), nil))) > 0
	})
	cj := obj(list(kbcMust(t, tn, 200, "GET", fmt.Sprintf("/orchestrations/%v/jobs", cid), nil))[0])
	co := obj(kbcMust(t, tn, 200, "GET", fmt.Sprintf("/orchestrations/%v", cid), nil))
	if cj["initializedBy"] != "scheduler" || co["lastScheduledTime"] == nil || co["lastExecutedJob"] == nil ||
		!keboolaTime.MatchString(fmt.Sprint(co["nextScheduledTime"])) {
		t.Fatalf("the crontab's job %v, orchestration %v", cj, co)
	}
}

// With auth on, X-StorageApi-Token carries a Chronicle token: none is
// Keboola's 400, an unknown one its 401; the admin's opens the API.
func TestKeboolaTokens(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	admin := "admin-" + strings.Repeat("k", 20)
	cfg.adminTokenFile = writeSecret(t, "admin-token", admin)
	tn := startTestNode(t, cfg)
	for _, c := range []struct {
		token   string
		code    int
		message string
	}{{"", 400, "Missing StorageAPI token"}, {"nope", 401, "Invalid StorageApi Token"}} {
		code, _, v := kbc(t, tn, c.token, "GET", "/orchestrations", nil)
		if m := obj(v); code != c.code || m["message"] != c.message || m["status"] != "error" {
			t.Fatalf("token %q: HTTP %d %v", c.token, code, v)
		}
	}
	code, _, v := kbc(t, tn, admin, "POST", "/orchestrations", map[string]any{"name": "n"})
	if code != 201 {
		t.Fatalf("the admin token: HTTP %d %v", code, v)
	}
	code, _, v = kbc(t, tn, admin, "POST", "/run", map[string]any{"config": obj(v)["id"]})
	if who := obj(obj(v)["initiatorToken"]); code != 202 || who["description"] != "admin" || who["userAgent"] != "Keboola Orchestrator API PHP Client" {
		t.Fatalf("a run by the admin token: HTTP %d, initiator %v", code, who)
	}
	reader := tn.issueToken("dash", "reader")
	if code, _, _ := kbc(t, tn, reader.Token, "GET", "/orchestrations", nil); code != 200 {
		t.Fatalf("a reader lists: HTTP %d", code)
	}
	if code, _, v := kbc(t, tn, reader.Token, "POST", "/orchestrations", map[string]any{"name": "m"}); code != 403 {
		t.Fatalf("a reader creates: HTTP %d %v", code, v)
	}
}
