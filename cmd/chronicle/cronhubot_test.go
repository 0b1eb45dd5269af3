package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// hubJob is CronHubot's CronJob object, with Chronicle's additions.
type hubJob struct {
	ID             uint64 `json:"id"`
	Name           string `json:"name"`
	URL            string `json:"url"`
	Expression     string `json:"expression"`
	Status         int    `json:"status"`
	Retries        int    `json:"retries"`
	RequestTimeout int    `json:"request_timeout"`
	StopAt         any    `json:"stop_at"` // a string, or nil (null)
	CreatedAt      string `json:"created_at"`
	UpdatedAt      string `json:"updated_at"`
	GroupID        int64  `json:"group_id"`
	State          string `json:"state"`
	ScheduleID     string `json:"schedule_id"`
}

// hubError is CronHubot's error (and delete) answer.
type hubError struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
}

// hub calls CronHubot's API and decodes the answer into out (if not nil),
// failing the test unless the HTTP status is want.
func (tn *testNode) hub(want int, method, path string, body any, out any) {
	tn.t.Helper()
	code, r := tn.call(method, path, body)
	if code != want {
		tn.t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, code, want, r.raw)
	}
	if out != nil {
		if err := json.Unmarshal(r.raw, out); err != nil {
			tn.t.Fatalf("%s %s: %v in %s", method, path, err, r.raw)
		}
	}
}

func (tn *testNode) hubJob(id uint64) hubJob {
	tn.t.Helper()
	var j hubJob
	tn.hub(200, "GET", fmt.Sprintf("/cronjobs/%d", id), nil, &j)
	return j
}

// hubTime is t as CronHubot writes times (UTC by default).
func hubTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// TestCronHubotAPI: every endpoint, each error case and the seed's
// examples, as a CronHubot client uses them.
func TestCronHubotAPI(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)

	var health map[string]any
	tn.hub(200, "GET", "/health", nil, &health)
	if health["api"] != true || health["mysql"] != true {
		t.Fatalf("health: %v", health)
	}

	// The seed's create, with a url a real receiver serves and a stop_at
	// in the future.
	stopAt := hubTime(time.Now().Add(48 * time.Hour))
	seed := map[string]any{"name": "cronjob-1", "url": rc.url("/job"), "expression": "0 5 * * * *", "status": 1,
		"retries": 2, "request_timeout": 3, "stop_at": stopAt}
	code, r := tn.call("POST", "/cronjobs", seed)
	var created hubJob
	if code != 201 || json.Unmarshal(r.raw, &created) != nil {
		t.Fatalf("seed create: HTTP %d %s", code, r.raw)
	}
	var keys map[string]any
	_ = json.Unmarshal(r.raw, &keys)
	for _, k := range []string{"id", "name", "url", "expression", "status", "retries", "request_timeout", "stop_at",
		"created_at", "updated_at", "group_id"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("the created job has no %q: %s", k, r.raw)
		}
	}
	if created.ID == 0 || created.Name != "cronjob-1" || created.URL != rc.url("/job") || created.Expression != "0 5 * * * *" ||
		created.Status != 1 || created.Retries != 2 || created.RequestTimeout != 3 || created.StopAt != stopAt || created.State != "active" || created.GroupID != 0 {
		t.Fatalf("created: %+v", created)
	}
	if _, err := time.Parse("2006-01-02 15:04:05", created.CreatedAt); err != nil || created.UpdatedAt != created.CreatedAt {
		t.Fatalf("created_at %q, updated_at %q", created.CreatedAt, created.UpdatedAt)
	}
	if got := tn.hubJob(created.ID); got != created {
		t.Fatalf("GET /cronjobs/%d: %+v, want %+v", created.ID, got, created)
	}

	t.Run("errors", func(t *testing.T) {
		valid := func(change map[string]any) map[string]any {
			body := map[string]any{"name": "e", "url": rc.url("/e"), "expression": "*/10 * * * * *"}
			for k, v := range change {
				if v == nil {
					delete(body, k)
				} else {
					body[k] = v
				}
			}
			return body
		}
		cases := []struct {
			name   string
			body   any
			code   int
			status string
			want   string // in the message (422) or reason (400)
		}{
			{"truncated JSON", `{"name":"x",`, 400, "invalid_json", "ends too early"},
			{"not an object", `[1,2]`, 400, "invalid_json", "JSON object"},
			{"retries as a string", valid(map[string]any{"retries": "2"}), 400, "invalid_json", "retries"},
			{"no url", valid(map[string]any{"url": nil}), 422, "invalid_cronjob", "url is required"},
			{"url without scheme (the seed's example)", valid(map[string]any{"url": "your-api/job"}), 422, "invalid_cronjob", "url must be an absolute http or https URL"},
			{"ftp url", valid(map[string]any{"url": "ftp://example.com/x"}), 422, "invalid_cronjob", "url must be"},
			{"no expression", valid(map[string]any{"expression": nil}), 422, "invalid_cronjob", "expression is required"},
			{"five fields", valid(map[string]any{"expression": "*/5 * * * *"}), 422, "invalid_cronjob", "six fields"},
			{"@every", valid(map[string]any{"expression": "@every 5s"}), 422, "invalid_cronjob", "six fields"},
			{"seven fields", valid(map[string]any{"expression": "0 0 0 1 1 * 2030"}), 422, "invalid_cronjob", "six fields"},
			{"second 60", valid(map[string]any{"expression": "60 * * * * *"}), 422, "invalid_cronjob", "second value 60 is out of range"},
			{"hour 24", valid(map[string]any{"expression": "0 0 24 * * *"}), 422, "invalid_cronjob", "hour value 24"},
			{"day of week 7", valid(map[string]any{"expression": "0 0 0 * * 7"}), 422, "invalid_cronjob", "0-6"},
			{"L", valid(map[string]any{"expression": "0 0 0 L * *"}), 422, "invalid_cronjob", "day-of-month"},
			{"retries 11", valid(map[string]any{"retries": 11}), 422, "invalid_cronjob", "retries must be between 0 and 10"},
			{"retries -1", valid(map[string]any{"retries": -1}), 422, "invalid_cronjob", "retries must be between 0 and 10"},
			{"status 2", valid(map[string]any{"status": 2}), 422, "invalid_cronjob", "status must be 1"},
			{"stop_at in the past (the seed's example)", valid(map[string]any{"stop_at": "2019-11-11 01:00:00"}), 422, "invalid_cronjob", "stop_at 2019-11-11 01:00:00 is not in the future"},
			{"stop_at in another layout", valid(map[string]any{"stop_at": "2030-01-01T00:00:00Z"}), 422, "invalid_cronjob", "stop_at must be a time written YYYY-MM-DD HH:MM:SS"},
			{"request_timeout 301", valid(map[string]any{"request_timeout": 301}), 422, "invalid_cronjob", "request_timeout"},
			{"no name", valid(map[string]any{"name": nil}), 422, "invalid_cronjob", "name is required"},
			{"a name taken", valid(map[string]any{"name": "cronjob-1"}), 422, "invalid_cronjob", "Cronjob already exists"},
		}
		for _, c := range cases {
			code, r := tn.call("POST", "/cronjobs", c.body)
			var e hubError
			if code != c.code || json.Unmarshal(r.raw, &e) != nil || e.Status != c.status {
				t.Errorf("%s: HTTP %d %s, want %d %s", c.name, code, r.raw, c.code, c.status)
				continue
			}
			if c.code == 400 && (e.Message != "Cannot decode the given JSON payload" || !strings.Contains(e.Reason, c.want)) {
				t.Errorf("%s: %+v, want the seed's message and a reason with %q", c.name, e, c.want)
			}
			if c.code == 422 && !strings.Contains(e.Message, c.want) {
				t.Errorf("%s: message %q, want %q in it", c.name, e.Message, c.want)
			}
		}
		var list []hubJob
		tn.hub(200, "GET", "/cronjobs", nil, &list)
		if len(list) != 1 || list[0].ID != created.ID {
			t.Fatalf("after the refused creates the list is %+v", list)
		}
		var e hubError
		tn.hub(404, "GET", "/cronjobs/999999", nil, &e)
		if e != (hubError{Status: "cronjob_not_found", Message: "The cronjob was not found"}) {
			t.Fatalf("GET a missing job: %+v", e)
		}
		tn.hub(404, "GET", "/cronjobs/abc", nil, &e)
		if e.Status != "cronjob_not_found" || !strings.Contains(e.Reason, "positive integer") {
			t.Fatalf("GET /cronjobs/abc: %+v", e)
		}
		tn.hub(405, "PUT", fmt.Sprintf("/cronjobs/%d", created.ID), map[string]any{}, &e)
		if e.Status != "method_not_allowed" {
			t.Fatalf("PUT: %+v", e)
		}
	})

	t.Run("list filters and pages", func(t *testing.T) {
		ids := map[string]uint64{}
		for _, j := range []struct {
			name, expr string
			status     int
		}{{"l-a", "0 0 3 * * *", 1}, {"l-b", "0 0 4 * * *", 9}, {"l-c", "0 0 3 * * *", 99}} {
			var got hubJob
			tn.hub(201, "POST", "/cronjobs", map[string]any{"name": j.name, "url": rc.url("/l"), "expression": j.expr, "status": j.status}, &got)
			if got.Status != j.status {
				t.Fatalf("created %s with status %d, shown %d", j.name, j.status, got.Status)
			}
			ids[j.name] = got.ID
		}
		names := func(query string) []string {
			var list []hubJob
			tn.hub(200, "GET", "/cronjobs"+query, nil, &list)
			var out []string
			for _, j := range list {
				if strings.HasPrefix(j.Name, "l-") {
					out = append(out, j.Name)
				}
			}
			return out
		}
		for query, want := range map[string][]string{
			"":           {"l-a", "l-b", "l-c"},
			"?status=9":  {"l-b"},
			"?status=99": {"l-c"},
			"?expression=" + url.QueryEscape("0 0 3 * * *"):                       {"l-a", "l-c"},
			"?expression=" + url.QueryEscape("0 0 3 * * *") + "&status=1":         {"l-a"},
			"?expression=" + url.QueryEscape("0 0 3 * * *") + "&limit=1&offset=1": {"l-c"},
		} {
			if got := names(query); !slices.Equal(got, want) {
				t.Errorf("GET /cronjobs%s: %v, want %v", query, got, want)
			}
		}
		res, _ := rawCall(t, tn, tn.token, "GET", "/cronjobs?expression="+url.QueryEscape("0 0 3 * * *")+"&limit=1", nil)
		if res.Header.Get("X-Total-Count") != "2" {
			t.Errorf("X-Total-Count %q, want 2", res.Header.Get("X-Total-Count"))
		}
		for _, q := range []string{"?limit=x", "?limit=0", "?offset=-1", "?status=3"} {
			var e hubError
			tn.hub(400, "GET", "/cronjobs"+q, nil, &e)
			if e.Status != "invalid_query" {
				t.Errorf("GET /cronjobs%s: %+v", q, e)
			}
		}
	})

	t.Run("patch", func(t *testing.T) {
		var j hubJob
		tn.hub(201, "POST", "/cronjobs", map[string]any{"name": "p", "url": rc.url("/p?x=1"), "expression": "0 5 * * * *",
			"retries": 2, "request_timeout": 5, "group_id": 7}, &j)
		path := fmt.Sprintf("/cronjobs/%d", j.ID)
		var u hubJob
		tn.hub(200, "PATCH", path, map[string]any{"expression": "0 2 * * * *"}, &u) // the seed's example
		want := j
		want.Expression, want.UpdatedAt = "0 2 * * * *", u.UpdatedAt
		if u != want {
			t.Fatalf("after the seed's PATCH: %+v, want %+v", u, want)
		}
		tn.hub(200, "PATCH", path, map[string]any{"retries": 0, "group_id": 0, "stop_at": hubTime(time.Now().Add(time.Hour))}, &u)
		if u.Retries != 0 || u.GroupID != 0 || u.StopAt == nil || u.RequestTimeout != 5 || u.Expression != "0 2 * * * *" {
			t.Fatalf("zero is a value: %+v", u)
		}
		tn.hub(200, "PATCH", path, map[string]any{"stop_at": nil}, &u)
		if u.StopAt != nil {
			t.Fatalf("stop_at null removes it: %+v", u)
		}
		before := tn.hubJob(j.ID)
		var e hubError
		tn.hub(422, "PATCH", path, map[string]any{"expression": "0 3 * * * *", "retries": 11}, &e)
		if e.Status != "invalid_cronjob" || !strings.Contains(e.Message, "retries") {
			t.Fatalf("invalid PATCH: %+v", e)
		}
		tn.hub(422, "PATCH", path, map[string]any{"name": "cronjob-1"}, &e)
		if e.Message != "Cronjob already exists" {
			t.Fatalf("PATCH to a taken name: %+v", e)
		}
		tn.hub(400, "PATCH", path, `{"retries":`, &e)
		if e.Status != "invalid_json" {
			t.Fatalf("PATCH with broken JSON: %+v", e)
		}
		if after := tn.hubJob(j.ID); after != before {
			t.Fatalf("refused PATCHes changed the job: %+v, was %+v", after, before)
		}
		tn.hub(404, "PATCH", "/cronjobs/999999", map[string]any{"retries": 1}, &e)
		if e.Status != "cronjob_not_found" {
			t.Fatalf("PATCH a missing job: %+v", e)
		}
		tn.hub(200, "PATCH", path, map[string]any{"status": 99}, &u)
		if u.Status != 99 || u.State != "paused" || tn.hubJob(j.ID).Status != 99 {
			t.Fatalf("PATCH status 99: %+v", u)
		}
		tn.hub(200, "PATCH", path, map[string]any{"status": 1, "url": rc.url("/p2")}, &u)
		if u.Status != 1 || u.State != "active" || u.URL != rc.url("/p2") {
			t.Fatalf("PATCH status 1 and url: %+v", u)
		}
	})

	t.Run("delete, runs and events", func(t *testing.T) {
		var j hubJob
		tn.hub(201, "POST", "/cronjobs", map[string]any{"name": "d", "url": rc.url("/d"), "expression": "0 0 0 * * *"}, &j)
		path := fmt.Sprintf("/cronjobs/%d", j.ID)
		var runs struct {
			Runs []map[string]any `json:"runs"`
		}
		tn.hub(200, "GET", path+"/runs", nil, &runs)
		if len(runs.Runs) != 0 {
			t.Fatalf("runs of a job that never fired: %+v", runs)
		}
		var e hubError
		tn.hub(200, "DELETE", path, nil, &e)
		if e != (hubError{Status: "cronjob_deleted", Message: "The cronjob was successfully deleted"}) {
			t.Fatalf("DELETE: %+v", e)
		}
		tn.hub(404, "GET", path, nil, &e)
		tn.hub(404, "DELETE", path, nil, &e)
		if e.Status != "cronjob_not_found" {
			t.Fatalf("DELETE again: %+v", e)
		}
		// The history stays with the native id.
		var hist struct {
			Events []eventView `json:"events"`
		}
		tn.hub(200, "GET", fmt.Sprintf("/cronjobs/%d/events", created.ID), nil, &hist)
		if len(hist.Events) == 0 || hist.Events[0].Type != "ScheduleCreated" {
			t.Fatalf("events of job %d: %+v", created.ID, hist)
		}
		types := tn.scheduleHistory(j.ScheduleID)
		if len(types) != 2 || types[0].Type != "ScheduleCreated" || types[1].Type != "ScheduleDeleted" {
			t.Fatalf("native history of the deleted job: %+v", types)
		}
	})
}

// TestCronHubotJobsFire: a job calls GET on its url with __cronId added to
// the url's own query on every tick; DELETE and status 9 stop the calls,
// status 1 brings them back; stop_at expires the job; {"code":400} stops
// it; retries retry.
func TestCronHubotJobsFire(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	create := func(name, path string, extra map[string]any) hubJob {
		body := map[string]any{"name": name, "url": rc.url(path), "expression": "*/2 * * * * *"}
		for k, v := range extra {
			body[k] = v
		}
		var j hubJob
		tn.hub(201, "POST", "/cronjobs", body, &j)
		return j
	}
	// quiet fails the test if path is called during d after a grace for
	// a call already under way.
	quiet := func(t *testing.T, path string, d time.Duration) {
		time.Sleep(500 * time.Millisecond)
		n := len(rc.hitsFor(path))
		time.Sleep(d)
		if got := len(rc.hitsFor(path)); got != n {
			t.Fatalf("%s was called %d times during %s of silence", path, got-n, d)
		}
	}

	t.Run("ticks every two seconds with __cronId", func(t *testing.T) {
		t.Parallel()
		j := create("tick", "/tick?b=2&a=1", nil)
		waitFor(t, 15*time.Second, "three calls", func() bool { return len(rc.hitsFor("/tick")) >= 3 })
		for _, h := range rc.hitsFor("/tick") {
			if h.Method != "GET" || h.Query != fmt.Sprintf("b=2&a=1&__cronId=%d", j.ID) {
				t.Fatalf("call %s ?%s", h.Method, h.Query)
			}
		}
		type runJSON struct {
			ScheduleTime int64  `json:"schedule_time"`
			Status       string `json:"status"`
			HTTPStatus   int    `json:"http_status"`
		}
		var done []runJSON // recorded successes, newest first
		waitFor(t, 10*time.Second, "three recorded runs", func() bool {
			var page struct {
				Runs []runJSON `json:"runs"`
			}
			tn.hub(200, "GET", fmt.Sprintf("/cronjobs/%d/runs?limit=4", j.ID), nil, &page)
			done = slices.DeleteFunc(page.Runs, func(r runJSON) bool { return r.Status == "scheduled" })
			return len(done) >= 3
		})
		for i, run := range done {
			if run.Status != "success" || run.ScheduleTime%2 != 0 || (i > 0 && done[i-1].ScheduleTime-run.ScheduleTime != 2) || run.HTTPStatus != 200 {
				t.Fatalf("runs, newest first: %+v", done)
			}
		}
		tn.hub(200, "DELETE", fmt.Sprintf("/cronjobs/%d", j.ID), nil, nil)
		quiet(t, "/tick", 3*time.Second)
	})

	t.Run("status 9 pauses, 1 resumes", func(t *testing.T) {
		t.Parallel()
		j := create("pause", "/pause", nil)
		waitFor(t, 10*time.Second, "a call", func() bool { return len(rc.hitsFor("/pause")) >= 1 })
		tn.hub(200, "PATCH", fmt.Sprintf("/cronjobs/%d", j.ID), map[string]any{"status": 9}, nil)
		quiet(t, "/pause", 3*time.Second)
		n := len(rc.hitsFor("/pause"))
		tn.hub(200, "PATCH", fmt.Sprintf("/cronjobs/%d", j.ID), map[string]any{"status": 1}, nil)
		waitFor(t, 10*time.Second, "a call after status 1", func() bool { return len(rc.hitsFor("/pause")) > n })
		if got := len(rc.hitsFor("/pause")) - n; got > 2 {
			t.Fatalf("%d calls right after the resume: missed ticks were replayed", got)
		}
	})

	t.Run("created paused never fires", func(t *testing.T) {
		t.Parallel()
		j := create("born-paused", "/born", map[string]any{"status": 9})
		if j.State != "paused" || j.Status != 9 {
			t.Fatalf("created with status 9: %+v", j)
		}
		quiet(t, "/born", 3*time.Second)
	})

	t.Run("stop_at expires it", func(t *testing.T) {
		t.Parallel()
		end := time.Now().Add(5 * time.Second).Truncate(time.Second)
		j := create("expiring", "/exp", map[string]any{"stop_at": hubTime(end)})
		waitFor(t, 15*time.Second, "the job expired", func() bool { return tn.hubJob(j.ID).State == "expired" })
		for _, h := range rc.hitsFor("/exp") {
			if h.At.After(end.Add(time.Second)) {
				t.Fatalf("called at %s, after stop_at %s", h.At.Format(time.RFC3339Nano), end)
			}
		}
		if len(rc.hitsFor("/exp")) == 0 {
			t.Fatal("never called before stop_at")
		}
		quiet(t, "/exp", 3*time.Second)
	})

	t.Run(`{"code":400} stops it`, func(t *testing.T) {
		t.Parallel()
		rc.answerWith("/stop", 200, `{"code":400,"message":"enough"}`)
		j := create("stopper", "/stop", nil)
		waitFor(t, 15*time.Second, "the job stopped", func() bool { return tn.hubJob(j.ID).State == "stopped" })
		quiet(t, "/stop", 3*time.Second)
		if n := len(rc.hitsFor("/stop")); n != 1 {
			t.Fatalf("called %d times; the first answer stops it", n)
		}
		// Any other answer continues.
		rc.answerWith("/go-on", 200, `{"code":200,"message":"OK"}`)
		k := create("goer", "/go-on", nil)
		waitFor(t, 15*time.Second, "two calls", func() bool { return len(rc.hitsFor("/go-on")) >= 2 })
		if s := tn.hubJob(k.ID).State; s != "active" {
			t.Fatalf("state %s after code 200", s)
		}
		tn.hub(200, "DELETE", fmt.Sprintf("/cronjobs/%d", k.ID), nil, nil)
	})

	t.Run("a slow tick does not hold back the next", func(t *testing.T) {
		t.Parallel()
		rc.answerAfter("/overlap", 3*time.Second)
		j := create("overlap", "/overlap", map[string]any{"request_timeout": 5})
		waitFor(t, 15*time.Second, "three calls", func() bool { return len(rc.hitsFor("/overlap")) >= 3 })
		tn.hub(200, "DELETE", fmt.Sprintf("/cronjobs/%d", j.ID), nil, nil)
		hits := rc.hitsFor("/overlap")
		runs := map[string]bool{}
		for i, h := range hits {
			if runs[h.RunID] {
				t.Fatalf("run %s called twice", h.RunID)
			}
			runs[h.RunID] = true
			if i > 0 && h.At.Sub(hits[i-1].At) > 2500*time.Millisecond {
				t.Fatalf("call %d came %s after the one before, which took 3 s to answer: ticks waited", i, h.At.Sub(hits[i-1].At))
			}
		}
	})

	t.Run("request_timeout bounds each attempt", func(t *testing.T) {
		t.Parallel()
		rc.answerAfter("/slow", 3*time.Second)
		j := create("slow", "/slow", map[string]any{"request_timeout": 1, "expression": "0 0 0 1 1 *"})
		tn.must(200, "POST", "/goscheduler/schedules/"+j.ScheduleID+"/trigger", nil)
		var page struct {
			Runs []struct {
				Status   string `json:"status"`
				Attempts int    `json:"attempts"`
				Error    string `json:"error"`
			} `json:"runs"`
		}
		waitFor(t, 10*time.Second, "the triggered run's outcome", func() bool {
			tn.hub(200, "GET", fmt.Sprintf("/cronjobs/%d/runs", j.ID), nil, &page)
			return len(page.Runs) == 1 && page.Runs[0].Status != "scheduled"
		})
		if r := page.Runs[0]; r.Status != "failure" || r.Attempts != 1 || !strings.Contains(r.Error, "timed out after 1s") {
			t.Fatalf("a 3 s answer to a job with request_timeout 1 and no retries: %+v", r)
		}
	})

	t.Run("retries retry", func(t *testing.T) {
		t.Parallel()
		rc.answer("/flaky", http.StatusInternalServerError)
		j := create("flaky", "/flaky", map[string]any{"retries": 2, "expression": "0 0 0 1 1 *"})
		var run string
		tn.call("POST", "/goscheduler/schedules/"+j.ScheduleID+"/trigger", nil)
		waitFor(t, 10*time.Second, "three attempts", func() bool {
			hits := rc.hitsFor("/flaky")
			if len(hits) > 0 {
				run = hits[0].RunID
			}
			return len(hits) >= 3
		})
		time.Sleep(500 * time.Millisecond)
		var attempts []string
		for _, h := range rc.hitsFor("/flaky") {
			if h.RunID != run {
				t.Fatalf("calls of two runs: %s and %s", run, h.RunID)
			}
			attempts = append(attempts, h.Attempt)
		}
		if !slices.Equal(attempts, []string{"1", "2", "3"}) {
			t.Fatalf("attempts %v, want 1 2 3 (retries 2)", attempts)
		}
	})
}

// TestCronHubotAcrossTheCluster: jobs created through any node get ids
// unique in the cluster and read the same on every node; the API's
// errors keep CronHubot's format with auth on.
func TestCronHubotAcrossTheCluster(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{})
	leader, followers := leaderAndFollowers(t, nodes)
	rc := newReceiver(t)
	seen := map[uint64]bool{}
	for i, tn := range []*testNode{leader, followers[0], followers[1], leader} {
		var j hubJob
		tn.hub(201, "POST", "/cronjobs", map[string]any{"name": fmt.Sprintf("c%d", i), "url": rc.url("/c"), "expression": "0 0 0 * * *"}, &j)
		if seen[j.ID] {
			t.Fatalf("id %d given twice", j.ID)
		}
		seen[j.ID] = true
	}
	waitForReplication(t, nodes)
	var want []hubJob
	leader.hub(200, "GET", "/cronjobs", nil, &want)
	for _, tn := range followers {
		var got []hubJob
		tn.hub(200, "GET", "/cronjobs", nil, &got)
		if !slices.Equal(got, want) {
			t.Fatalf("%s lists %+v, the leader %+v", tn.cfg.nodeID, got, want)
		}
	}
	ensureSame(t, nodes)

	// A node that has lost its quorum cannot serve: /health says so.
	for _, f := range followers {
		f.stop()
	}
	waitFor(t, 15*time.Second, "/health answering 503 without a quorum", func() bool {
		code, r := leader.call("GET", "/health", nil)
		var h map[string]any
		return code == 503 && json.Unmarshal(r.raw, &h) == nil && h["api"] == true && h["mysql"] == false && h["reason"] != ""
	})
}

// With auth on, CronHubot's paths need a token like every other, and
// refuse in CronHubot's format; /health stays open.
func TestCronHubotBehindTokens(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.adminTokenFile = writeSecret(t, "admin-token", "admin-"+strings.Repeat("h", 20))
	tn := startTestNode(t, cfg)
	if res, body := rawCall(t, tn, "", "GET", "/health", nil); res.StatusCode != 200 || !strings.Contains(body, `"mysql":true`) {
		t.Fatalf("health without a token: %d %s", res.StatusCode, body)
	}
	res, body := rawCall(t, tn, "", "GET", "/cronjobs", nil)
	var e hubError
	if res.StatusCode != 401 || json.Unmarshal([]byte(body), &e) != nil || e.Status != "unauthorized" || res.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d %s", res.StatusCode, body)
	}
	other := tn.issueToken("other", "writer", "billing")
	res, body = rawCall(t, tn, other.Token, "GET", "/cronjobs", nil)
	if res.StatusCode != 403 || json.Unmarshal([]byte(body), &e) != nil || e.Status != "forbidden" {
		t.Fatalf("a token of another app: %d %s", res.StatusCode, body)
	}
	reader := tn.issueToken("hub-reader", "reader", "cronhubot")
	writer := tn.issueToken("hub-writer", "writer", "cronhubot")
	rc := newReceiver(t)
	code, r := tn.callAs(writer.Token, "POST", "/cronjobs", map[string]any{"name": "a", "url": rc.url("/a"), "expression": "0 0 0 * * *"})
	if code != 201 {
		t.Fatalf("the app's writer creates: %d %s", code, r.raw)
	}
	if code, r := tn.callAs(reader.Token, "GET", "/cronjobs", nil); code != 200 || !strings.Contains(string(r.raw), `"name":"a"`) {
		t.Fatalf("the app's reader lists: %d %s", code, r.raw)
	}
	if code, r := tn.callAs(reader.Token, "POST", "/cronjobs", map[string]any{"name": "b"}); code != 403 || !strings.Contains(string(r.raw), `"status":"forbidden"`) {
		t.Fatalf("the app's reader creates: %d %s", code, r.raw)
	}
}
