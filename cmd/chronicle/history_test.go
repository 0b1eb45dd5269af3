package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// eventView is an event as the history and /events endpoints show it.
type eventView struct {
	Seq     uint64          `json:"seq"`
	Type    string          `json:"type"`
	Time    string          `json:"time"`
	Node    string          `json:"node"`
	Term    uint64          `json:"term"`
	Version int             `json:"schemaVersion"`
	Data    json.RawMessage `json:"data"`
}

type historyPage struct {
	Events []eventView
	Next   uint64
	More   bool
}

func eventTypes(evs []eventView) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return strings.Join(out, ",")
}

func (tn *testNode) history(path string) historyPage {
	tn.t.Helper()
	return decodeData[historyPage](tn.t, tn.must(200, "GET", path, nil))
}

func TestHistoryOfAFiredOneTimeSchedule(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	tn.registerApp("hist", 1)
	s := tn.createOnce("hist", time.Now().Unix()+1, rc.url("/h"), "POST", "p")
	tn.waitStatus(s.ScheduleID, "SUCCESS", 10*time.Second)

	h := tn.history("/goscheduler/schedules/" + s.ScheduleID + "/events")
	if eventTypes(h.Events) != "ScheduleCreated,RunFired,RunCompleted" || h.More {
		t.Fatalf("history: %s more=%v", eventTypes(h.Events), h.More)
	}
	for i, e := range h.Events {
		if e.Node != "node1" || e.Term == 0 || e.Version != 2 {
			t.Errorf("event %d: node %q term %d version %d", i, e.Node, e.Term, e.Version)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
			t.Errorf("event %d time %q: %v", i, e.Time, err)
		}
		if i > 0 && e.Seq <= h.Events[i-1].Seq {
			t.Errorf("seqs not increasing: %d after %d", e.Seq, h.Events[i-1].Seq)
		}
	}
	var done struct {
		Status     string
		HTTPStatus int
		RunID      string
	}
	if err := json.Unmarshal(h.Events[2].Data, &done); err != nil || done.Status != "SUCCESS" || done.HTTPStatus != 200 ||
		done.RunID != rc.hitsFor("/h")[0].RunID {
		t.Fatalf("outcome event data: %s (%v)", h.Events[2].Data, err)
	}
	if h.Next != h.Events[2].Seq {
		t.Fatalf("next cursor %d, want %d", h.Next, h.Events[2].Seq)
	}
	// The cursor continues after the last event: nothing more.
	if rest := tn.history(fmt.Sprintf("/goscheduler/schedules/%s/events?after=%d", s.ScheduleID, h.Next)); len(rest.Events) != 0 {
		t.Fatalf("after the last event: %s", eventTypes(rest.Events))
	}
	app := tn.history("/goscheduler/apps/hist/events")
	if eventTypes(app.Events) != "AppRegistered,ScheduleCreated,RunFired,RunCompleted" {
		t.Fatalf("app history: %s", eventTypes(app.Events))
	}
	for _, c := range []struct {
		path, msg string
		code      int
	}{
		{"/goscheduler/schedules/" + s.ScheduleID + "/events?after=x", "after must be an event seq", 400},
		{"/goscheduler/schedules/" + s.ScheduleID + "/events?size=0", "size must be an integer from 1 to 1000", 400},
		{"/goscheduler/schedules/" + s.ScheduleID + "/events?size=5000", "size must be an integer from 1 to 1000", 400},
		{"/goscheduler/schedules/00000000-0000-0000-0000-000000000000/events", "not found", 404},
		{"/goscheduler/apps/ghost/events", "unregistered App", 400},
	} {
		code, r := tn.call("GET", c.path, nil)
		if code != c.code || !strings.Contains(r.Status.StatusMessage, c.msg) {
			t.Errorf("GET %s: %d %s, want %d %q", c.path, code, r.raw, c.code, c.msg)
		}
	}
}

func TestHistoryOfADeletedCron(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	tn.registerApp("hc", 1)
	r := tn.must(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "hc", "payload": "tick",
		"cronExpression": "* * * * * *",
		"callback":       map[string]any{"type": "http", "details": map[string]any{"url": rc.url("/c"), "method": "POST"}}})
	cron := decodeData[struct{ Schedule schedule }](t, r).Schedule
	waitFor(t, 10*time.Second, "2 cron callbacks", func() bool { return len(rc.hitsFor("/c")) >= 2 })
	tn.must(200, "DELETE", "/goscheduler/schedules/"+cron.ScheduleID, nil)

	var all []eventView
	var pages int
	for after := uint64(0); ; pages++ {
		p := tn.history(fmt.Sprintf("/goscheduler/schedules/%s/events?size=2&after=%d", cron.ScheduleID, after))
		all = append(all, p.Events...)
		after = p.Next
		if !p.More {
			break
		}
		if pages > 50 {
			t.Fatal("history paging does not end")
		}
	}
	types := eventTypes(all)
	if !strings.HasPrefix(types, "ScheduleCreated,RunFired,") || !strings.HasSuffix(types, ",ScheduleDeleted") ||
		strings.Count(types, "RunFired") < 2 || pages < 2 {
		t.Fatalf("deleted cron history over %d pages: %s", pages, types)
	}
	// Every fired run has its outcome (an in-flight one may complete after
	// the delete is recorded, or be dropped by it).
	whole := tn.history("/goscheduler/schedules/" + cron.ScheduleID + "/events?size=1000")
	if eventTypes(whole.Events) != types {
		t.Fatalf("paged history %s != whole history %s", types, eventTypes(whole.Events))
	}
	// A run id gives that run's own events.
	run := rc.hitsFor("/c")[0].RunID
	rh := tn.history("/goscheduler/schedules/" + run + "/events")
	if eventTypes(rh.Events) != "RunFired,RunCompleted" {
		t.Fatalf("history of run %s: %s", run, eventTypes(rh.Events))
	}
	for _, e := range rh.Events {
		if !strings.Contains(string(e.Data), run) {
			t.Fatalf("run history holds another run's event: %s", e.Data)
		}
	}
}

type eventsPage struct {
	Events  []eventView `json:"events"`
	Next    uint64      `json:"next"`
	LastSeq uint64      `json:"lastSeq"`
}

func getEvents(t *testing.T, tn *testNode, query string) eventsPage {
	t.Helper()
	res, err := apiClient.Get(tn.base + "/events" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p eventsPage
	if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&p) != nil {
		t.Fatalf("GET /events%s: HTTP %d", query, res.StatusCode)
	}
	return p
}

func TestEventsCursorLongPollAndStream(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	// The node announces its address by an event of its own: let it land
	// first so that the seqs below are ours alone.
	waitFor(t, 10*time.Second, "node announced", func() bool {
		return len(getEvents(t, tn, "?types=NodeAnnounced").Events) == 1
	})
	tn.registerApp("ev", 1)
	for i := 0; i < 3; i++ {
		tn.createOnce("ev", time.Now().Unix()+3600, rc.url("/e"), "GET", "")
	}
	// Export the whole log two events at a time.
	var all []eventView
	for after := uint64(0); ; {
		p := getEvents(t, tn, fmt.Sprintf("?after=%d&limit=2", after))
		if len(p.Events) == 0 {
			break
		}
		if len(p.Events) > 2 || p.Next != p.Events[len(p.Events)-1].Seq {
			t.Fatalf("page after %d: %+v", after, p)
		}
		all = append(all, p.Events...)
		after = p.Next
	}
	for i, e := range all {
		if e.Seq != uint64(i+1) {
			t.Fatalf("export is not the gap-free log: event %d has seq %d", i, e.Seq)
		}
	}
	last := all[len(all)-1].Seq
	if got := eventTypes(all); !strings.HasSuffix(got, "AppRegistered,ScheduleCreated,ScheduleCreated,ScheduleCreated") {
		t.Fatalf("exported log: %s", got)
	}
	if p := getEvents(t, tn, "?types=ScheduleCreated&limit=2"); eventTypes(p.Events) != "ScheduleCreated,ScheduleCreated" {
		t.Fatalf("type filter: %s", eventTypes(p.Events))
	}

	// Long poll: an idle wait ends empty with the cursor unchanged...
	start := time.Now()
	if p := getEvents(t, tn, fmt.Sprintf("?after=%d&wait=300ms", last)); len(p.Events) != 0 || p.Next != last ||
		time.Since(start) < 250*time.Millisecond {
		t.Fatalf("idle long poll: %+v after %v", p, time.Since(start))
	}
	// ...and a write during the wait answers it with the new event.
	got := make(chan eventsPage, 1)
	go func() { got <- getEvents(t, tn, fmt.Sprintf("?after=%d&wait=20s", last)) }()
	time.Sleep(200 * time.Millisecond)
	tn.createOnce("ev", time.Now().Unix()+3600, rc.url("/e"), "GET", "")
	select {
	case p := <-got:
		if eventTypes(p.Events) != "ScheduleCreated" || p.Events[0].Seq != last+1 {
			t.Fatalf("long poll woke with %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll did not wake on a new event")
	}

	// Server-sent events: resume after an id, then receive live events.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", tn.base+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", strconv.FormatUint(last-1, 10))
	res, err := apiClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("stream content type %q", ct)
	}
	ids := make(chan uint64, 16)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				n, _ := strconv.ParseUint(v, 10, 64)
				ids <- n
			}
		}
		close(ids)
	}()
	next := func() uint64 {
		select {
		case id := <-ids:
			return id
		case <-time.After(10 * time.Second):
			t.Fatal("no event on the stream")
		}
		return 0
	}
	if a, b := next(), next(); a != last || b != last+1 {
		t.Fatalf("stream resumed with %d, %d; want %d, %d", a, b, last, last+1)
	}
	tn.must(200, "POST", "/goscheduler/apps/ev/deactivate", nil)
	if id := next(); id != last+2 {
		t.Fatalf("live event on the stream has id %d, want %d", id, last+2)
	}

	for _, q := range []string{"?after=-1", "?limit=0", "?limit=1001", "?wait=1h", "?wait=soon", "?types=Bogus"} {
		code, r := tn.call("GET", "/events"+q, nil)
		if code != 400 || r.Status.StatusType != "Fail" || r.Status.StatusMessage == "" {
			t.Errorf("GET /events%s: %d %s", q, code, r.raw)
		}
	}
}

func TestRetentionRemovesClosedHistoriesOnly(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.retention, cfg.retentionInterval = time.Second, 200*time.Millisecond
	tn := startTestNode(t, cfg)
	rc := newReceiver(t)
	tn.registerApp("ret", 1)
	done := tn.createOnce("ret", time.Now().Unix()+1, rc.url("/r"), "GET", "")
	open := tn.createOnce("ret", time.Now().Unix()+3600, rc.url("/r"), "GET", "")
	tn.waitStatus(done.ScheduleID, "SUCCESS", 10*time.Second)
	waitFor(t, 10*time.Second, "finished schedule removed by retention", func() bool {
		code, _ := tn.call("GET", "/goscheduler/schedules/"+done.ScheduleID, nil)
		return code == 404
	})
	if s := tn.getSchedule(open.ScheduleID); s.Status != "SCHEDULED" {
		t.Fatalf("open schedule after retention: %+v", s)
	}
	if h := tn.history("/goscheduler/schedules/" + open.ScheduleID + "/events"); eventTypes(h.Events) != "ScheduleCreated" {
		t.Fatalf("open schedule history: %s", eventTypes(h.Events))
	}
	log := getEvents(t, tn, "?limit=1000")
	compactions := 0
	for _, e := range log.Events {
		if strings.Contains(string(e.Data), done.ScheduleID) && e.Type != "EventsCompacted" {
			t.Errorf("event %d (%s) of the removed schedule is still in the log", e.Seq, e.Type)
		}
		if e.Type == "EventsCompacted" {
			compactions++
			var c struct {
				Retention   string
				ScheduleIDs []string
			}
			_ = json.Unmarshal(e.Data, &c)
			if c.Retention != "1s" || len(c.ScheduleIDs) != 1 || c.ScheduleIDs[0] != done.ScheduleID {
				t.Errorf("compaction event: %s", e.Data)
			}
		}
	}
	if compactions != 1 {
		t.Fatalf("%d compaction events, want 1: %s", compactions, eventTypes(log.Events))
	}
	tn.stop()
	if r, _, err := runReplay(t, "--data-dir", tn.cfg.dataDir); err != nil || !r.Identical {
		t.Fatalf("replay of a compacted log: %v %+v", err, r.Projections)
	}
}
