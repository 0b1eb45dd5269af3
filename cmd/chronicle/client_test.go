package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/client"
)

// What tests do with a node's API, and the receiver standing in for a
// user's endpoint.

// resp is a decoded answer envelope.
type resp struct {
	Status struct {
		StatusCode    int    `json:"statusCode"`
		StatusMessage string `json:"statusMessage"`
		StatusType    string `json:"statusType"`
		TotalCount    *int   `json:"totalCount"`
	} `json:"status"`
	Data    json.RawMessage `json:"data"`
	Remarks string          `json:"remarks"`
	raw     []byte
}

// call calls the node with its admin token, if auth is on.
func (tn *testNode) call(method, path string, body any) (int, resp) {
	tn.t.Helper()
	return tn.callAs(tn.token, method, path, body)
}

// callAs calls the node with token ("": none).
func (tn *testNode) callAs(token, method, path string, body any) (int, resp) {
	tn.t.Helper()
	return doCall(tn.t, tn.httpClient(), token, method, tn.base+path, body)
}

func callURL(t testing.TB, method, url string, body any) (int, resp) {
	t.Helper()
	return doCall(t, apiClient, "", method, url, body)
}

func doCall(t testing.TB, client *http.Client, token, method, url string, body any) (int, resp) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, resp{}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r resp
	if len(raw) > 0 {
		if !json.Valid(raw) {
			t.Fatalf("%s %s: answer is not JSON (%d): %q", method, url, res.StatusCode, raw)
		}
		_ = json.Unmarshal(raw, &r) // another API's answer leaves the envelope empty
	}
	r.raw = raw
	return res.StatusCode, r
}

// must calls and fails the test unless the HTTP status is want.
func (tn *testNode) must(want int, method, path string, body any) resp {
	tn.t.Helper()
	code, r := tn.call(method, path, body)
	if code != want {
		tn.t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, code, want, r.raw)
	}
	return r
}

func decodeData[T any](t testing.TB, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatalf("decode data %s: %v", r.Data, err)
	}
	return v
}

// schedule is the API's schedule shape.
type schedule struct {
	ScheduleID       string `json:"scheduleId"`
	ParentScheduleID string `json:"parentScheduleId"`
	Payload          string `json:"payload"`
	AppID            string `json:"appId"`
	ScheduleTime     int64  `json:"scheduleTime"`
	PartitionID      int    `json:"partitionId"`
	ScheduleGroup    int64  `json:"scheduleGroup"`
	Callback         struct {
		Type    string `json:"type"`
		Details struct {
			URL     string            `json:"url"`
			Method  string            `json:"method"`
			Headers map[string]string `json:"headers"`
		} `json:"details"`
	} `json:"callback"`
	CronExpression string `json:"cronExpression"`
	NextRunTime    int64  `json:"nextRunTime"`
	Status         string `json:"status"`
	ErrorMessage   string `json:"errorMessage"`
}

// api is the Go client of the node, as a program using Chronicle would
// build it: its admin token, and its CA when it serves HTTPS.
func (tn *testNode) api(opts ...client.Option) *client.Client {
	tn.t.Helper()
	c, err := client.New(tn.base, append([]client.Option{client.WithToken(tn.token), client.WithHTTPClient(tn.httpClient())}, opts...)...)
	if err != nil {
		tn.t.Fatal(err)
	}
	return c
}

// registerApp registers an active app through the Go client.
func (tn *testNode) registerApp(id string, partitions int) {
	tn.t.Helper()
	active := true
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	app, err := tn.api().RegisterApp(ctx, client.RegisterAppRequest{AppID: id, Partitions: partitions, Active: &active})
	if err != nil || app.AppID != id || !app.Active {
		tn.t.Fatalf("register app %s: %+v, %v", id, app, err)
	}
}

func (tn *testNode) createOnce(app string, at int64, url, method string, payload string) schedule {
	tn.t.Helper()
	r := tn.must(200, "POST", "/goscheduler/schedules", map[string]any{
		"appId": app, "payload": payload, "scheduleTime": at,
		"callback": map[string]any{"type": "http", "details": map[string]any{
			"url": url, "method": method, "headers": map[string]string{"X-Test": "yes"}}},
	})
	return decodeData[struct{ Schedule schedule }](tn.t, r).Schedule
}

func (tn *testNode) getSchedule(id string) schedule {
	tn.t.Helper()
	r := tn.must(200, "GET", "/goscheduler/schedules/"+id, nil)
	return decodeData[struct{ Schedule schedule }](tn.t, r).Schedule
}

// waitStatus polls a schedule until it has the status.
func (tn *testNode) waitStatus(id, status string, within time.Duration) schedule {
	tn.t.Helper()
	var s schedule
	waitFor(tn.t, within, "schedule "+id+" "+status, func() bool {
		code, r := tn.call("GET", "/goscheduler/schedules/"+id, nil)
		switch code {
		case 404: // a node that has not applied the create yet
			return false
		case 200:
		default:
			tn.t.Fatalf("GET schedule %s: HTTP %d %s", id, code, r.raw)
		}
		s = decodeData[struct{ Schedule schedule }](tn.t, r).Schedule
		return s.Status == status
	})
	return s
}

func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hit is one callback a receiver got.
type hit struct {
	At      time.Time
	Method  string
	Path    string
	Header  http.Header
	Body    string
	RunID   string
	Attempt string
	Query   string
}

// receiver is a real HTTP server standing in for a user's endpoint.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	hits   []hit
	status map[string]int           // path → status to answer (default 200)
	bodies map[string]string        // path → body to answer (default "answer <status>")
	delays map[string]time.Duration // path → how long to wait before answering
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{status: map[string]int{}, bodies: map[string]string{}, delays: map[string]time.Duration{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.hits = append(rc.hits, hit{At: time.Now(), Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(),
			Body: string(body), RunID: r.Header.Get("X-Chronicle-Run-Id"), Attempt: r.Header.Get("X-Chronicle-Attempt"),
			Query: r.URL.RawQuery})
		code, ok := rc.status[r.URL.Path]
		answer, withBody := rc.bodies[r.URL.Path]
		delay := rc.delays[r.URL.Path]
		rc.mu.Unlock()
		time.Sleep(delay)
		if !ok {
			code = http.StatusOK
		}
		if !withBody {
			answer = fmt.Sprintf("answer %d", code)
		}
		w.WriteHeader(code)
		fmt.Fprint(w, answer)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) url(path string) string { return rc.srv.URL + path }

func (rc *receiver) answer(path string, code int) {
	rc.mu.Lock()
	rc.status[path] = code
	rc.mu.Unlock()
}

// answerAfter makes the receiver wait d before it answers path.
func (rc *receiver) answerAfter(path string, d time.Duration) {
	rc.mu.Lock()
	rc.delays[path] = d
	rc.mu.Unlock()
}

// answerWith makes the receiver answer path with code and body.
func (rc *receiver) answerWith(path string, code int, body string) {
	rc.mu.Lock()
	rc.status[path], rc.bodies[path] = code, body
	rc.mu.Unlock()
}

func (rc *receiver) hitsFor(path string) []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hit
	for _, h := range rc.hits {
		if h.Path == path {
			out = append(out, h)
		}
	}
	return out
}

// deliveredOnceEach waits until tn has recorded the outcome of n runs
// and fails the test unless each of n distinct paths was called once, none
// before due(path). Once a run's outcome is recorded no call of it can
// follow (a re-fire would first record a second RunFired, which is
// counted too), so nothing is waited for beyond the outcomes. It returns
// the latest callback's lateness.
func (rc *receiver) deliveredOnceEach(t testing.TB, tn *testNode, n int, within time.Duration, due func(path string) time.Time) time.Duration {
	t.Helper()
	var fired, completed int
	waitFor(t, within, fmt.Sprintf("%d outcomes", n), func() bool {
		// Outcomes first: every run counted there fired before it.
		completed = tn.countEvents("RunCompleted")
		fired = tn.countEvents("RunFired")
		return completed >= n
	})
	if fired != n || completed != n {
		t.Fatalf("%d RunFired and %d RunCompleted recorded, want %d each: a run fired twice", fired, completed, n)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	seen := map[string]int{}
	var worst time.Duration
	for _, h := range rc.hits {
		seen[h.Path]++
		at := due(h.Path)
		if h.At.Before(at) {
			t.Errorf("%s fired %v early", h.Path, at.Sub(h.At))
		}
		worst = max(worst, h.At.Sub(at))
	}
	if len(seen) != n || len(rc.hits) != n {
		t.Fatalf("want %d callbacks once each, got %d calls to %d paths", n, len(rc.hits), len(seen))
	}
	return worst
}

// countEvents counts the events of one type in tn's log.
func (tn *testNode) countEvents(typ string) int {
	tn.t.Helper()
	n := 0
	for after := uint64(0); ; {
		code, r := tn.call("GET", fmt.Sprintf("/events?types=%s&limit=1000&after=%d", typ, after), nil)
		var page struct {
			Events []json.RawMessage `json:"events"`
			Next   uint64            `json:"next"`
		}
		if code != 200 || json.Unmarshal(r.raw, &page) != nil {
			tn.t.Fatalf("GET /events: %d %s", code, r.raw)
		}
		n += len(page.Events)
		if page.Next == after {
			return n
		}
		after = page.Next
	}
}

// firedAfter lists the runs of schedule id (a cron's included) that were
// recorded as fired after event seq.
func (tn *testNode) firedAfter(id string, seq uint64) []string {
	tn.t.Helper()
	var runs []string
	for _, e := range tn.history("/goscheduler/schedules/" + id + "/events?size=1000").Events {
		if e.Type == "RunFired" && e.Seq > seq {
			var rf struct {
				RunID string `json:"runId"`
			}
			_ = json.Unmarshal(e.Data, &rf)
			runs = append(runs, rf.RunID)
		}
	}
	return runs
}

// lastEventSeq is the seq of the newest event about schedule id of type typ.
func (tn *testNode) lastEventSeq(id, typ string) uint64 {
	tn.t.Helper()
	var seq uint64
	for _, e := range tn.history("/goscheduler/schedules/" + id + "/events?size=1000").Events {
		if e.Type == typ {
			seq = e.Seq
		}
	}
	if seq == 0 {
		tn.t.Fatalf("no %s event about %s", typ, id)
	}
	return seq
}
