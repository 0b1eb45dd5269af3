package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHealthcheckAndCluster(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	code, r := tn.call("GET", "/goscheduler/healthcheck", nil)
	if code != 200 || !strings.Contains(string(r.raw), `"statusMessage":"Success"`) {
		t.Fatalf("healthcheck: %d %s", code, r.raw)
	}
	code, r = tn.call("GET", "/cluster", nil)
	if code != 200 {
		t.Fatalf("cluster: %d %s", code, r.raw)
	}
	for _, want := range []string{`"nodeId":"node1"`, `"leaderId":"node1"`, `"members":[{"id":"node1"`, `"voter":true`} {
		if !strings.Contains(string(r.raw), want) {
			t.Errorf("cluster answer lacks %s: %s", want, r.raw)
		}
	}
	code, r = tn.call("GET", "/no/such/path", nil)
	if code != 404 || r.Status.StatusType != "Fail" {
		t.Fatalf("unknown path: %d %s", code, r.raw)
	}
	code, r = tn.call("PUT", "/goscheduler/apps", nil)
	if code != 405 || r.Status.StatusType != "Fail" {
		t.Fatalf("wrong method: %d %s", code, r.raw)
	}
}

func TestAppsEndpoints(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	r := tn.must(200, "POST", "/goscheduler/apps", map[string]any{"appId": "revamp", "partitions": 2, "active": true})
	if r.Status.StatusCode != 201 || r.Status.StatusType != "Success" || *r.Status.TotalCount != 1 ||
		string(r.Data) != `{"appId":"revamp","partitions":2,"active":true}` {
		t.Fatalf("register answer: %s", r.raw)
	}
	r = tn.must(200, "POST", "/goscheduler/apps", map[string]any{"appId": "opensource", "partitions": 0})
	if string(r.Data) != `{"appId":"opensource","partitions":2,"active":true}` {
		t.Fatalf("partitions 0 must take the default and active default true: %s", r.Data)
	}
	r = tn.must(200, "GET", "/goscheduler/apps", nil)
	if *r.Status.TotalCount != 2 || !strings.Contains(string(r.Data), `"apps":[{"appId":"opensource"`) {
		t.Fatalf("get apps: %s", r.raw)
	}
	r = tn.must(200, "GET", "/goscheduler/apps?app_id=revamp", nil)
	if string(r.Data) != `{"apps":[{"appId":"revamp","partitions":2,"active":true}]}` {
		t.Fatalf("get one app: %s", r.raw)
	}

	errorsWanted := []struct {
		method, path string
		body         any
		http, code   int
		msg          string
	}{
		{"POST", "/goscheduler/apps", map[string]any{"appId": "", "partitions": 1}, 400, 400, "AppId cannot be empty"},
		{"POST", "/goscheduler/apps", `{"appId": "x", "partitions": "two"}`, 400, 400, "field partitions must be an integer"},
		{"POST", "/goscheduler/apps", `{"appId": "x",`, 400, 400, "malformed JSON"},
		{"POST", "/goscheduler/apps", ``, 400, 400, "request body is empty"},
		{"POST", "/goscheduler/apps", `[1,2]`, 400, 400, "must be a JSON object"},
		{"POST", "/goscheduler/apps", map[string]any{"appId": "x", "partitions": -1}, 400, 400, "partitions must be between"},
		{"POST", "/goscheduler/apps", map[string]any{"appId": "x", "partitions": 100000}, 400, 400, "partitions must be between"},
		{"POST", "/goscheduler/apps", map[string]any{"appId": "bad id/with slash"}, 400, 400, "is invalid"},
		{"POST", "/goscheduler/apps", map[string]any{"appId": strings.Repeat("a", 200)}, 400, 400, "is invalid"},
		{"POST", "/goscheduler/apps", map[string]any{"appId": "."}, 400, 400, "is invalid"},
		{"POST", "/goscheduler/apps", map[string]any{"appId": ".."}, 400, 400, "is invalid"},
		{"POST", "/goscheduler/apps/../activate", nil, 400, 400, "is invalid"},
		{"POST", "/goscheduler/apps", map[string]any{"appId": "revamp", "partitions": 3}, 409, 4002, "app already registered"},
		{"POST", "/goscheduler/apps", `{"appId":"big","pad":"` + strings.Repeat("x", 2<<20) + `"}`, 413, 413, "larger than"},
		{"GET", "/goscheduler/apps?app_id=nope", nil, 404, 4001, "unregistered App"},
		{"POST", "/goscheduler/apps/revamp/activate", nil, 409, 4003, "app is already activated"},
		{"POST", "/goscheduler/apps/nope/activate", nil, 400, 4001, "unregistered App"},
		{"POST", "/goscheduler/apps/nope/deactivate", nil, 400, 4001, "unregistered App"},
	}
	for _, c := range errorsWanted {
		code, r := tn.call(c.method, c.path, c.body)
		if code != c.http || r.Status.StatusCode != c.code || r.Status.StatusType != "Fail" ||
			!strings.Contains(r.Status.StatusMessage, c.msg) {
			t.Errorf("%s %s %.60v: got HTTP %d %s; want HTTP %d code %d containing %q", c.method, c.path, c.body, code, r.raw, c.http, c.code, c.msg)
		}
	}
	// None of the bad requests changed what was stored.
	r = tn.must(200, "GET", "/goscheduler/apps", nil)
	if *r.Status.TotalCount != 2 || !strings.Contains(string(r.Data), `{"appId":"revamp","partitions":2,"active":true}`) {
		t.Fatalf("apps changed by rejected requests: %s", r.raw)
	}

	r = tn.must(200, "POST", "/goscheduler/apps/revamp/deactivate", nil)
	if r.Status.StatusCode != 201 || string(r.Data) != `{"Active":false,"appId":"revamp"}` {
		t.Fatalf("deactivate: %s", r.raw)
	}
	code, r := tn.call("POST", "/goscheduler/apps/revamp/deactivate", nil)
	if code != 409 || r.Status.StatusCode != 4004 {
		t.Fatalf("second deactivate: %d %s", code, r.raw)
	}
	r = tn.must(200, "POST", "/goscheduler/apps/revamp/activate", nil)
	if string(r.Data) != `{"Active":true,"appId":"revamp"}` {
		t.Fatalf("activate: %s", r.raw)
	}
}

func validCreate(app string, at int64, url string) map[string]any {
	return map[string]any{"appId": app, "payload": "{}", "scheduleTime": at,
		"callback": map[string]any{"type": "http", "details": map[string]any{"url": url, "method": "GET"}}}
}

func TestCreateScheduleValidation(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	tn.registerApp("revamp", 1)
	future := time.Now().Unix() + 3600
	with := func(mut func(m map[string]any)) map[string]any {
		m := validCreate("revamp", future, "http://127.0.0.1:1/hook")
		mut(m)
		return m
	}
	details := func(m map[string]any) map[string]any {
		return m["callback"].(map[string]any)["details"].(map[string]any)
	}
	cases := []struct {
		name string
		body any
		http int
		msg  string
	}{
		{"missing callback", with(func(m map[string]any) { delete(m, "callback") }), 400, "callback is required"},
		{"bad url", with(func(m map[string]any) { details(m)["url"] = "www.myntra.com" }), 400, `parse "www.myntra.com": invalid URI for request`},
		{"ftp url", with(func(m map[string]any) { details(m)["url"] = "ftp://host/x" }), 400, "must be an absolute http or https URL"},
		{"bad method", with(func(m map[string]any) { details(m)["method"] = "FETCH" }), 400, "Invalid http callback method FETCH"},
		{"past", with(func(m map[string]any) { m["scheduleTime"] = 1629772970 }), 400, "schedule time : 1629772970 is less than current time"},
		{"millis", with(func(m map[string]any) { m["scheduleTime"] = future * 1000 }), 400, "looks like milliseconds"},
		{"string time", with(func(m map[string]any) { m["scheduleTime"] = "soon" }), 400, "field scheduleTime must be an integer"},
		{"float time", with(func(m map[string]any) { m["scheduleTime"] = 1.5 }), 400, "field scheduleTime must be an integer"},
		{"both", with(func(m map[string]any) { m["cronExpression"] = "* * * * *" }), 400, "not both"},
		{"neither", with(func(m map[string]any) { delete(m, "scheduleTime") }), 400, "scheduleTime (epoch seconds) or cronExpression is required"},
		{"inverted cron", with(func(m map[string]any) { delete(m, "scheduleTime"); m["cronExpression"] = "5-3 * * * *" }), 400, "5-3"},
		{"garbage cron", with(func(m map[string]any) { delete(m, "scheduleTime"); m["cronExpression"] = "every tuesday" }), 400, "cron"},
		{"bad zone", with(func(m map[string]any) {
			delete(m, "scheduleTime")
			m["cronExpression"] = "* * * * *"
			m["timeZone"] = "Mars/Base"
		}), 400, "Mars/Base"},
		{"callback type", with(func(m map[string]any) { m["callback"].(map[string]any)["type"] = "kafka" }), 400, "use http, or workflow with tasks"},
		{"header", with(func(m map[string]any) { details(m)["headers"] = map[string]string{"Bad Header": "x"} }), 400, "invalid callback header name"},
		{"payload type", with(func(m map[string]any) { m["payload"] = map[string]any{"a": 1} }), 400, "field payload must be a string"},
		{"retry", with(func(m map[string]any) { m["retry"] = map[string]any{"maxAttempts": 99} }), 400, "retry.maxAttempts must be between"},
		{"unknown app", with(func(m map[string]any) { m["appId"] = "ghost" }), 400, "unregistered App"},
		{"empty app", with(func(m map[string]any) { m["appId"] = "" }), 400, "AppId cannot be empty"},
		{"payload not UTF-8", `{"appId":"revamp","payload":"caf` + "\xe9" + `","scheduleTime":` + fmt.Sprint(future) +
			`,"callback":{"type":"http","details":{"url":"http://127.0.0.1:1/hook","method":"GET"}}}`, 400, "not valid UTF-8"},
		{"payload half a surrogate pair", `{"appId":"revamp","payload":"\ud800x","scheduleTime":` + fmt.Sprint(future) +
			`,"callback":{"type":"http","details":{"url":"http://127.0.0.1:1/hook","method":"GET"}}}`, 400, "surrogate"},
		{"several at once", with(func(m map[string]any) {
			details(m)["url"] = "www.myntra.com"
			details(m)["method"] = ""
			m["scheduleTime"] = 1629772970
		}), 400, `parse "www.myntra.com": invalid URI for request,Invalid http callback method ,schedule time : 1629772970`},
	}
	for _, c := range cases {
		code, r := tn.call("POST", "/goscheduler/schedules", c.body)
		if code != c.http || r.Status.StatusType != "Fail" || !strings.Contains(r.Status.StatusMessage, c.msg) {
			t.Errorf("%s: got HTTP %d %s; want %d containing %q", c.name, code, r.raw, c.http, c.msg)
		}
	}
	// Methods are case-insensitive; httpCallback is accepted as the seed's alternative.
	s := tn.createOnce("revamp", future, "http://127.0.0.1:1/hook", "post", "{}")
	if s.Callback.Details.Method != "POST" || s.Callback.Type != "http" || s.Status != "SCHEDULED" ||
		s.ScheduleGroup != future-future%60 || s.AppID != "revamp" || s.ScheduleTime != future {
		t.Fatalf("created schedule: %+v", s)
	}
	r := tn.must(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "revamp", "payload": "{}", "scheduleTime": future,
		"httpCallback": map[string]any{"url": "http://127.0.0.1:1/x", "method": "PUT"}})
	if r.Status.StatusCode != 201 || !strings.Contains(string(r.Data), `"method":"PUT"`) {
		t.Fatalf("httpCallback form: %s", r.raw)
	}
	// A payload is stored as sent: an escaped surrogate pair is one character.
	r = tn.must(200, "POST", "/goscheduler/schedules", `{"appId":"revamp","payload":"smile \ud83d\ude00","scheduleTime":`+
		fmt.Sprint(future)+`,"callback":{"type":"http","details":{"url":"http://127.0.0.1:1/x","method":"GET"}}}`)
	emoji := decodeData[struct{ Schedule schedule }](t, r).Schedule
	if got := tn.getSchedule(emoji.ScheduleID).Payload; got != "smile \U0001F600" {
		t.Fatalf("payload with an escaped surrogate pair stored as %q", got)
	}
	// Only the three valid creates are stored.
	q := fmt.Sprintf("/goscheduler/apps/revamp/schedules?start_time=%s&end_time=%s",
		urlTime(time.Unix(future-60, 0)), urlTime(time.Unix(future+60, 0)))
	r = tn.must(200, "GET", q, nil)
	if *r.Status.TotalCount != 3 {
		t.Fatalf("rejected creates were stored: %s", r.raw)
	}
	// Get schedule errors.
	code, r := tn.call("GET", "/goscheduler/schedules/4588e23e-ae06-11ec-bcba-acde48001122", nil)
	if code != 404 || r.Status.StatusMessage != "Schedule with id: 4588e23e-ae06-11ec-bcba-acde48001122 not found" {
		t.Fatalf("missing schedule: %d %s", code, r.raw)
	}
	code, _ = tn.call("GET", "/goscheduler/schedules/"+strings.Repeat("x", 300), nil)
	if code != 400 {
		t.Fatalf("absurd id: %d", code)
	}
}

func urlTime(t time.Time) string {
	return strings.ReplaceAll(t.UTC().Format("2006-01-02 15:04:05"), " ", "%20")
}

func TestOneTimeCallbackOnTimeWithEverything(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	tn.registerApp("revamp", 2)
	at := time.Now().Unix() + 2
	s := tn.createOnce("revamp", at, rc.url("/hook?x=1"), "POST", `{"order":42}`)
	done := tn.waitStatus(s.ScheduleID, "SUCCESS", 10*time.Second)
	hits := rc.hitsFor("/hook")
	if len(hits) != 1 {
		t.Fatalf("want exactly one call, got %d", len(hits))
	}
	h := hits[0]
	late := h.At.Sub(time.Unix(at, 0))
	t.Logf("callback lateness: %v", late)
	if late < 0 || late > time.Second {
		t.Fatalf("callback at %v for scheduleTime %d: %v late", h.At, at, late)
	}
	if h.Method != "POST" || h.Body != `{"order":42}` || h.Header.Get("X-Test") != "yes" ||
		h.Header.Get("X-Chronicle-Schedule-Id") != s.ScheduleID || h.RunID != s.ScheduleID || h.Attempt != "1" ||
		h.Header.Get("X-Chronicle-Scheduled-Time") != time.Unix(at, 0).UTC().Format(time.RFC3339) {
		t.Fatalf("callback request: %+v", h)
	}
	if done.ErrorMessage != "" {
		t.Fatalf("success with error message: %+v", done)
	}
	r := tn.must(200, "GET", "/goscheduler/schedules/"+s.ScheduleID+"/runs?when=past&size=1", nil)
	runs := decodeData[struct{ Schedules []schedule }](t, r).Schedules
	if len(runs) != 1 || runs[0].Status != "SUCCESS" {
		t.Fatalf("past runs: %s", r.raw)
	}
	code, r := tn.call("GET", "/goscheduler/schedules/"+s.ScheduleID+"/runs?when=future", nil)
	if code != 404 || !strings.Contains(r.Status.StatusMessage, "No runs found for schedule with id "+s.ScheduleID) {
		t.Fatalf("future runs of a fired schedule: %d %s", code, r.raw)
	}
}

// TestMillisecondDueTimes: scheduleTimeMs (a Chronicle extension) fires at
// its millisecond, never before it, and reports it in the callback header.
func TestMillisecondDueTimes(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	tn.registerApp("ms", 1)
	base := (time.Now().Unix() + 2) * 1000
	var ids []string
	for i, off := range []int64{130, 470, 910} {
		r := tn.must(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "ms", "payload": "", "scheduleTimeMs": base + off,
			"callback": map[string]any{"type": "http", "details": map[string]any{"url": rc.url(fmt.Sprintf("/ms/%d", i)), "method": "GET"}}})
		s := decodeData[struct {
			Schedule struct {
				ScheduleID     string
				ScheduleTime   int64
				ScheduleTimeMs int64
			}
		}](t, r).Schedule
		if s.ScheduleTimeMs != base+off || s.ScheduleTime != base/1000 {
			t.Fatalf("created: %s", r.raw)
		}
		ids = append(ids, s.ScheduleID)
	}
	for i, off := range []int64{130, 470, 910} {
		tn.waitStatus(ids[i], "SUCCESS", 10*time.Second)
		h := rc.hitsFor(fmt.Sprintf("/ms/%d", i))[0]
		due := time.UnixMilli(base + off)
		if h.At.Before(due) || h.At.Sub(due) > time.Second {
			t.Errorf("run %d due %v called at %v", i, due.Format("15:04:05.000"), h.At.Format("15:04:05.000"))
		}
		if got := h.Header.Get("X-Chronicle-Scheduled-Time"); got != due.UTC().Format("2006-01-02T15:04:05.000Z") {
			t.Errorf("run %d scheduled-time header %q", i, got)
		}
	}
	now := time.Now()
	for _, c := range []struct {
		body map[string]any
		msg  string
	}{
		{map[string]any{"scheduleTimeMs": now.Unix() + 60}, "looks like seconds"},
		{map[string]any{"scheduleTimeMs": now.UnixMilli() + 60_000, "scheduleTime": now.Unix() + 120}, "name different seconds"},
		{map[string]any{"scheduleTimeMs": now.UnixMilli() - 5000}, "Time cannot be in past"},
		{map[string]any{"scheduleTimeMs": now.UnixMilli() + 60_000, "cronExpression": "* * * * *"}, "not both"},
	} {
		c.body["appId"], c.body["payload"] = "ms", ""
		c.body["callback"] = map[string]any{"type": "http", "details": map[string]any{"url": rc.url("/x"), "method": "GET"}}
		code, r := tn.call("POST", "/goscheduler/schedules", c.body)
		if code != 400 || !strings.Contains(r.Status.StatusMessage, c.msg) {
			t.Errorf("%v: %d %s, want 400 %q", c.body, code, r.raw, c.msg)
		}
	}
}

func TestFailureRecordedWithRetries(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	rc.answer("/broken", http.StatusInternalServerError)
	rc.answer("/gone", http.StatusNotFound)
	tn.registerApp("revamp", 1)
	at := time.Now().Unix() + 1
	broken := tn.createOnce("revamp", at, rc.url("/broken"), "GET", "")
	gone := tn.createOnce("revamp", at, rc.url("/gone"), "GET", "")
	b := tn.waitStatus(broken.ScheduleID, "FAILURE", 10*time.Second)
	if !strings.Contains(b.ErrorMessage, "500 Internal Server Error") || !strings.Contains(b.ErrorMessage, "after 2 attempts") {
		t.Fatalf("failure message: %q", b.ErrorMessage)
	}
	hits := rc.hitsFor("/broken")
	if len(hits) != 2 || hits[0].RunID != hits[1].RunID || hits[0].Attempt != "1" || hits[1].Attempt != "2" {
		t.Fatalf("retries must carry the same run id: %+v", hits)
	}
	g := tn.waitStatus(gone.ScheduleID, "FAILURE", 10*time.Second)
	if !strings.Contains(g.ErrorMessage, "404 Not Found") || len(rc.hitsFor("/gone")) != 1 {
		t.Fatalf("4xx must not be retried: %q, %d calls", g.ErrorMessage, len(rc.hitsFor("/gone")))
	}
}

func TestTwoHundredSchedulesInOneSecondFireOnce(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	tn.registerApp("burst", 4)
	at := time.Now().Unix() + 3
	ids := make([]string, 200)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			code, r := tn.call("POST", "/goscheduler/schedules", validCreate("burst", at, rc.url(fmt.Sprintf("/r/%d", i))))
			if code != 200 {
				t.Errorf("create %d: %d %s", i, code, r.raw)
				return
			}
			ids[i] = decodeData[struct{ Schedule schedule }](t, r).Schedule.ScheduleID
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	worst := rc.deliveredOnceEach(t, tn, 200, 15*time.Second, func(string) time.Time { return time.Unix(at, 0) })
	// Lateness under load is measured by the benchmarks; here a generous
	// bound only catches a run that waited for a later window or retry.
	t.Logf("200 callbacks due in one second: latest arrived %v after scheduleTime", worst)
	if worst > 5*time.Second {
		t.Fatalf("latest callback %v after its second", worst)
	}
}

// The create answer is built from the accepted event rather than read
// back; it must be exactly what a read of the schedule returns.
func TestCreateAnswerIsTheStoredSchedule(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	tn.registerApp("echo", 3)
	bodies := []map[string]any{
		{"appId": "echo", "payload": `{"ü":"\u2028"}`, "scheduleTime": time.Now().Unix() + 3600,
			"callback": map[string]any{"type": "http", "details": map[string]any{"url": "http://127.0.0.1:1/x", "method": "PUT",
				"headers": map[string]string{"A": "1", "B": "2"}}}},
		{"appId": "echo", "payload": "", "scheduleTimeMs": time.Now().UnixMilli() + 3_600_250,
			"callback": map[string]any{"type": "http", "details": map[string]any{"url": "http://127.0.0.1:1/y", "method": "POST", "headers": map[string]string{}}}},
		{"appId": "echo", "payload": "c", "cronExpression": "*/5 * * * *",
			"callback": map[string]any{"type": "http", "details": map[string]any{"url": "http://127.0.0.1:1/z", "method": "POST"}}},
	}
	for _, b := range bodies {
		created := tn.must(200, "POST", "/goscheduler/schedules", b)
		id := decodeData[struct{ Schedule schedule }](t, created).Schedule.ScheduleID
		read := tn.must(200, "GET", "/goscheduler/schedules/"+id, nil)
		if !bytes.Equal(created.Data, read.Data) {
			t.Fatalf("create answered\n%s\nbut the stored schedule reads\n%s", created.Data, read.Data)
		}
	}
}

// Paths are never cleaned or re-cased into another route: each of these
// once got a redirect (to the global event stream, to the membership
// endpoint); now a JSON 404.
func TestPathsAreNotRedirectedToOtherRoutes(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	noRedirects := &http.Client{Transport: recording(http.DefaultTransport), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{
		"/goscheduler/schedules/..%2F..%2Fevents", "/goscheduler/schedules/..%2F..%2F",
		"/goscheduler/schedules/%2e%2e%2f%2e%2e%2fevents", "/goscheduler/schedules/..",
		"/goscheduler/schedules/a%2Fb", "/CLUSTER/members", "/Goscheduler/apps", "/goscheduler/apps/",
		"/goscheduler//apps", "/events/",
	} {
		for _, method := range []string{"GET", "POST", "DELETE"} {
			req, _ := http.NewRequest(method, tn.base+path, nil)
			res, err := noRedirects.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 404 && res.StatusCode != 405 {
				t.Errorf("%s %s: %d (Location %q), want a JSON 404", method, path, res.StatusCode, res.Header.Get("Location"))
				continue
			}
			var r resp
			if err := json.Unmarshal(body, &r); err != nil || r.Status.StatusType != "Fail" {
				t.Errorf("%s %s: not a JSON error: %s", method, path, body)
			}
		}
	}
}
