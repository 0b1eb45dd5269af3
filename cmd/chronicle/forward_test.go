package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/cluster"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// A create through a follower is decided there and its event proposed on
// the leader in a batch (cluster/forward.go): the leader stamps the event
// with its own time and id, the follower reads it back at once, and every
// answer, refusals included, is what the leader itself would give.
func TestCreatesThroughAFollowerGoToTheLeaderAsEvents(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{})
	rc := newReceiver(t)
	leader, followers := leaderAndFollowers(t, nodes)
	f := followers[0]

	// Registered through the leader, created through the follower at once:
	// the follower may not have applied the registration yet, and catches
	// up with the leader before it would refuse.
	leader.registerApp("fw", 2)
	s := f.createOnce("fw", time.Now().Unix()+1, rc.url("/fw"), "POST", "p")
	if got := f.getSchedule(s.ScheduleID); got.Status != "SCHEDULED" || got.AppID != "fw" {
		t.Fatalf("the follower does not read its own create: %+v", got)
	}
	h := f.history("/goscheduler/schedules/" + s.ScheduleID + "/events")
	if len(h.Events) != 1 || h.Events[0].Type != "ScheduleCreated" || h.Events[0].Node != leader.cfg.nodeID {
		t.Fatalf("create through %s: events %+v, want one ScheduleCreated stamped by the leader %s", f.cfg.nodeID, h.Events, leader.cfg.nodeID)
	}
	f.waitStatus(s.ScheduleID, "SUCCESS", 10*time.Second)
	if hits := rc.hitsFor("/fw"); len(hits) != 1 {
		t.Fatalf("forwarded create fired %d times, want 1", len(hits))
	}

	// Refusals read the same through either node.
	create := func(tn *testNode, app string) (int, string) {
		code, r := tn.call("POST", "/goscheduler/schedules", map[string]any{
			"appId": app, "payload": "x", "scheduleTime": time.Now().Unix() + 60,
			"callback": map[string]any{"type": "http", "details": map[string]any{"url": rc.url("/no"), "method": "POST"}}})
		return code, string(r.raw)
	}
	lc, lb := create(leader, "ghost")
	fc, fb := create(f, "ghost")
	if lc != 400 || fc != lc || fb != lb {
		t.Fatalf("unregistered app: leader %d %s, follower %d %s", lc, lb, fc, fb)
	}
	leader.must(200, "POST", "/goscheduler/apps/fw/deactivate", nil)
	lc, lb = create(leader, "fw")
	fc, fb = create(f, "fw")
	if lc != 409 || fc != lc || fb != lb {
		t.Fatalf("inactive app: leader %d %s, follower %d %s", lc, lb, fc, fb)
	}
	// The follower's view now says inactive; activated through the leader,
	// a create through the follower right after is taken.
	leader.must(200, "POST", "/goscheduler/apps/fw/activate", nil)
	if code, body := create(f, "fw"); code != 200 {
		t.Fatalf("create through the follower right after activation: %d %s", code, body)
	}
	// And the other way: deactivated through the leader while the
	// follower's view still says active, the leader's apply refuses.
	leader.must(200, "POST", "/goscheduler/apps/fw/deactivate", nil)
	if code, body := create(f, "fw"); code != 409 || body != lb {
		t.Fatalf("create through a follower with a stale view: %d %s, want 409 %s", code, body, lb)
	}

	// The endpoint itself: a follower refuses batches, the leader refuses
	// anything but a batch of creates.
	if code, r := f.call("POST", cluster.ForwardPath, []byte{2, 0}); code != 503 {
		t.Fatalf("forwarded batch to a follower: %d %s", code, r.raw)
	}
	if code, r := leader.call("POST", cluster.ForwardPath, []byte("not a batch")); code != 400 {
		t.Fatalf("garbage batch to the leader: %d %s", code, r.raw)
	}
	if code, _ := leader.call("GET", cluster.ForwardPath, nil); code != 204 {
		t.Fatalf("GET %s: %d, want 204", cluster.ForwardPath, code)
	}
}

// forgedBatch is a forwarded batch as anyone who can reach a node's HTTP
// port can post it: one event, its envelope and payload bytes as given.
func forgedBatch(t *testing.T, ev event.Event) []byte {
	t.Helper()
	b, err := raftfsm.EncodeCommand([]event.Event{ev}, true)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forgedCreate is a create of app "forged" as a forger would stamp it.
func forgedCreate(t *testing.T, mutate func(*event.ScheduleCreated)) event.Event {
	t.Helper()
	c := event.ScheduleCreated{ScheduleID: fmt.Sprintf("0193a8b2-7c1e-7000-8000-%012d", time.Now().UnixNano()%1e12),
		AppID: "forged", Payload: "p", ScheduleTime: time.Now().Unix() + 3600,
		Callback: event.Callback{Type: "http", URL: "http://127.0.0.1:1/x", Method: "POST"}}
	if mutate != nil {
		mutate(&c)
	}
	ev, err := event.New(c, time.Now().UnixNano(), "n1")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// Anyone who reaches a node's HTTP port can post to the forwarding
// endpoint. A payload apply cannot decode, committed, once stopped every
// node on every restart; a forged create was committed with a year-3000
// time, a gopher URL, an 8 MiB payload and an audit record of its
// choosing. Each is refused with 400 by whichever node gets it, nothing
// is committed, and the cluster keeps serving.
func TestForgedForwardsAreRefusedAndTheClusterKeepsServing(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{})
	rc := newReceiver(t)
	leader, followers := leaderAndFollowers(t, nodes)
	leader.registerApp("forged", 1)
	poison := forgedCreate(t, nil)
	poison.Data = []byte{0xff}
	deactivate, err := event.New(event.AppDeactivated{AppID: "forged"}, time.Now().UnixNano(), "evil-node")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"undecodable payload": forgedBatch(t, poison),
		"year 3000":           forgedBatch(t, forgedCreate(t, func(c *event.ScheduleCreated) { c.ScheduleTime = 32503680000 })),
		"gopher url":          forgedBatch(t, forgedCreate(t, func(c *event.ScheduleCreated) { c.Callback.URL = "gopher://127.0.0.1:70/x" })),
		"8 MiB payload":       forgedBatch(t, forgedCreate(t, func(c *event.ScheduleCreated) { c.Payload = strings.Repeat("x", 8<<20) })),
		"not a create":        forgedBatch(t, deactivate),
	}
	seq := leader.n.raft.LastSeq()
	for name, body := range cases {
		for _, tn := range []*testNode{leader, followers[0]} {
			code, r := tn.call("POST", cluster.ForwardPath, body)
			if code != 400 || r.Status.StatusType != "Fail" || r.Status.StatusMessage == "" {
				t.Errorf("%s posted to %s: HTTP %d %s, want a 400 naming the problem", name, tn.cfg.nodeID, code, r.raw)
			}
		}
	}
	if got := leader.n.raft.LastSeq(); got != seq {
		t.Fatalf("refused batches committed %d events", got-seq)
	}

	// A well-formed create claiming another node and an audit time of 2001
	// is taken, but recorded as what the leader stamped.
	forged := forgedCreate(t, nil)
	forged.Node, forged.Time = "evil-node", time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	req, _ := http.NewRequest("POST", leader.base+cluster.ForwardPath, bytes.NewReader(forgedBatch(t, forged)))
	req.Header.Set(cluster.ProtocolHeader, "2")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("a well-formed forwarded create: %v %v", res, err)
	}
	res.Body.Close()
	evs, err := leader.n.raft.Events(seq, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("events after the forged create: %d %v", len(evs), err)
	}
	if evs[0].Node != leader.cfg.nodeID || time.Since(time.Unix(0, evs[0].Time)) > time.Minute {
		t.Fatalf("forged create recorded as proposed by %q at %s, want the leader %s now", evs[0].Node,
			time.Unix(0, evs[0].Time).UTC(), leader.cfg.nodeID)
	}

	// Every node is still up, and the cluster still takes and fires writes.
	s := followers[1].createOnce("forged", time.Now().Unix()+1, rc.url("/after"), "POST", "")
	for _, tn := range nodes {
		tn.waitStatus(s.ScheduleID, "SUCCESS", 10*time.Second)
		if code, _ := tn.call("GET", "/goscheduler/healthcheck", nil); code != 200 {
			t.Fatalf("%s unhealthy after the forged requests", tn.cfg.nodeID)
		}
	}
	ensureSame(t, nodes)
}
