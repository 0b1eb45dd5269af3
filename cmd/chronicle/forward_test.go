package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/http/server"
)

// A create through a follower is decided there and its event proposed on
// the leader in a batch (raftfsm/forward.go): the event names the follower
// as its proposer, the follower reads it back at once, and every answer,
// refusals included, is what the leader itself would give.
func TestCreatesThroughAFollowerGoToTheLeaderAsEvents(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	rc := newReceiver(t)
	leader, followers := leaderAndFollowers(t, nodes)
	f := followers[0]
	waitFor(t, 10*time.Second, "the follower knows the leader takes forwarded creates", func() bool {
		return f.n.cluster.LeaderTakesForwarded()
	})

	// Registered through the leader, created through the follower at once:
	// the follower may not have applied the registration yet, and catches
	// up with the leader before it would refuse.
	leader.registerApp("fw", 2)
	s := f.createOnce("fw", time.Now().Unix()+1, rc.url("/fw"), "POST", "p")
	if got := f.getSchedule(s.ScheduleID); got.Status != "SCHEDULED" || got.AppID != "fw" {
		t.Fatalf("the follower does not read its own create: %+v", got)
	}
	h := f.history("/goscheduler/schedules/" + s.ScheduleID + "/events")
	if len(h.Events) != 1 || h.Events[0].Type != "ScheduleCreated" || h.Events[0].Node != f.cfg.nodeID {
		t.Fatalf("create through %s: events %+v, want one ScheduleCreated proposed by it", f.cfg.nodeID, h.Events)
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
	if code, r := f.call("POST", server.ForwardPath, []byte{2, 0}); code != 503 {
		t.Fatalf("forwarded batch to a follower: %d %s", code, r.raw)
	}
	if code, r := leader.call("POST", server.ForwardPath, []byte("not a batch")); code != 400 {
		t.Fatalf("garbage batch to the leader: %d %s", code, r.raw)
	}
	if code, _ := leader.call("GET", server.ForwardPath, nil); code != 204 {
		t.Fatalf("GET %s: %d, want 204", server.ForwardPath, code)
	}
}

// A leader of an older build has no forwarding endpoint: the probe learns
// that from its 404, and creates are relayed to it whole.
func TestForwardingProbeTellsOldBuildsApart(t *testing.T) {
	old := httptest.NewServer(http.NotFoundHandler())
	defer old.Close()
	current := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == server.ForwardPath {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.NotFound(w, r)
	}))
	defer current.Close()
	c := &clusterAdapter{client: &http.Client{Timeout: time.Second}, takesForwarded: map[string]forwardingProbe{},
		probing: map[string]bool{}}
	for _, tc := range []struct {
		srv  *httptest.Server
		want bool
	}{{old, false}, {current, true}} {
		addr := strings.TrimPrefix(tc.srv.URL, "http://")
		c.probeForwarding(addr)
		if p, ok := c.takesForwarded[addr]; !ok || p.takes != tc.want {
			t.Fatalf("probe of %s: %+v (known %v), want takes=%v", addr, p, ok, tc.want)
		}
	}
	c.probeForwarding("127.0.0.1:1") // nothing listens: not remembered, asked again later
	if _, ok := c.takesForwarded["127.0.0.1:1"]; ok {
		t.Fatal("an unreachable leader's answer was remembered")
	}
}
