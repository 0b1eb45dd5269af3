package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/bench/chaos/faultnet"
)

// faultyCluster starts n child nodes whose Raft and node-to-node HTTP
// connections all go through proxies of the returned network
// (--peer-routes), one per ordered pair of nodes, so the test can cut any
// link one way or both.
func faultyCluster(t *testing.T, n int) ([]*testNode, *faultnet.Net) {
	t.Helper()
	fnet := faultnet.New()
	t.Cleanup(fnet.Close)
	return makeCluster(t, n, clusterOpts{child: true, prepare: func(nodes []*testNode) {
		for _, a := range nodes {
			var routes []string
			for _, b := range nodes {
				if a == b {
					continue
				}
				for _, addr := range []string{b.cfg.raftAddr, b.cfg.httpAddr} {
					p, err := fnet.Proxy(a.cfg.nodeID, b.cfg.nodeID, addr)
					if err != nil {
						t.Fatal(err)
					}
					routes = append(routes, addr+"="+p.Addr())
				}
			}
			a.cfg.peerRoutes = strings.Join(routes, ",")
		}
	}}), fnet
}

// soonBody is a create of a one-time schedule of app due in a second or
// two, calling url with payload path.
func soonBody(app, url, path string) map[string]any {
	return map[string]any{"appId": app, "payload": path, "scheduleTime": time.Now().Unix() + 2,
		"callback": map[string]any{"type": "http", "details": map[string]any{"url": url, "method": "POST"}}}
}

// A leader cut off from both followers cannot commit: a write to it is
// never acknowledged. The majority elects a leader of its own that takes
// writes and fires them; after the heal the old leader follows, and every
// node holds the same log.
func TestPartitionedLeaderIsReplacedAndRejoins(t *testing.T) {
	nodes, fnet := faultyCluster(t, 3)
	old, followers := leaderAndFollowers(t, nodes)
	rc := newReceiver(t)
	followers[0].registerApp("net", 2)
	before := followers[1].createOnce("net", time.Now().Unix()+1, rc.url("/before"), "POST", "before")
	// A linearizable read on another node sees the write at once.
	if code, r := followers[0].call("GET", "/goscheduler/schedules/"+before.ScheduleID+"?consistency=linearizable", nil); code != 200 {
		t.Fatalf("linearizable read of a write acknowledged by another node: %d %s", code, r.raw)
	}
	if code, _ := followers[0].call("GET", "/goscheduler/schedules/"+before.ScheduleID+"?consistency=strong", nil); code != 400 {
		t.Fatalf("consistency=strong: %d, want 400", code)
	}
	waitFor(t, 10*time.Second, "a run before the partition", func() bool { return len(rc.hitsFor("/before")) == 1 })

	fnet.Partition([]string{old.cfg.nodeID}, []string{followers[0].cfg.nodeID, followers[1].cfg.nodeID})
	t.Logf("faults: %s", fnet.Faults())
	waitFor(t, 15*time.Second, "a leader in the majority", func() bool {
		v := followers[0].cluster()
		return v.LeaderID != "" && v.LeaderID != old.cfg.nodeID
	})
	body := func(path string) map[string]any { return soonBody("net", rc.url(path), path) }
	if code, r := old.call("POST", "/goscheduler/schedules", body("/isolated")); code == 200 {
		t.Fatalf("the isolated old leader acknowledged a write: %s", r.raw)
	}
	// It still answers reads of its own view, but not linearizable ones:
	// it cannot confirm with a quorum that nothing newer was acknowledged.
	if code, _ := old.call("GET", "/goscheduler/schedules/"+before.ScheduleID, nil); code != 200 {
		t.Fatalf("the isolated node's own view: %d", code)
	}
	if code, r := old.call("GET", "/goscheduler/schedules/"+before.ScheduleID+"?consistency=linearizable", nil); code != 503 {
		t.Fatalf("a linearizable read on the isolated old leader: %d %s, want 503", code, r.raw)
	}
	var during string
	waitFor(t, 15*time.Second, "a write through the majority", func() bool {
		code, r := followers[1].call("POST", "/goscheduler/schedules", body("/during"))
		if code == 200 {
			during = decodeData[struct{ Schedule schedule }](t, r).Schedule.ScheduleID
		}
		return code == 200
	})
	waitFor(t, 10*time.Second, "the run created during the partition firing", func() bool { return len(rc.hitsFor("/during")) == 1 })

	fnet.Heal()
	waitFor(t, 15*time.Second, "the old leader following the new one", func() bool {
		v := old.cluster()
		return v.LeaderID != "" && v.LeaderID != old.cfg.nodeID
	})
	waitForReplication(t, nodes)
	if s := old.getSchedule(during); s.Status != "SUCCESS" {
		t.Fatalf("the old leader shows the run of the partition as %s", s.Status)
	}
	if n := len(rc.hitsFor("/isolated")); n != 0 {
		t.Fatalf("the write the isolated leader did not acknowledge fired %d times", n)
	}
	ensureSame(t, nodes)
}

// One-way faults: a follower that cannot hear the leader (but is heard)
// must not disrupt the cluster for good, and a slow link only slows.
func TestOneWayAndSlowLinks(t *testing.T) {
	nodes, fnet := faultyCluster(t, 3)
	leader, followers := leaderAndFollowers(t, nodes)
	rc := newReceiver(t)
	leader.registerApp("oneway", 1)

	deaf := followers[0]
	fnet.Block(leader.cfg.nodeID, deaf.cfg.nodeID)
	fnet.Delay(leader.cfg.nodeID, followers[1].cfg.nodeID, 50*time.Millisecond)
	t.Logf("faults: %s", fnet.Faults())
	// Whoever leads now, a write through the node that hears everyone is
	// acknowledged and fires once.
	for i := 0; i < 5; i++ {
		path := fmt.Sprintf("/w%d", i)
		waitFor(t, 20*time.Second, "write "+path, func() bool {
			code, _ := followers[1].call("POST", "/goscheduler/schedules", soonBody("oneway", rc.url(path), path))
			return code == 200
		})
	}
	for i := 0; i < 5; i++ {
		path := fmt.Sprintf("/w%d", i)
		waitFor(t, 20*time.Second, "run "+path+" firing", func() bool { return len(rc.hitsFor(path)) >= 1 })
		if n := len(rc.hitsFor(path)); n > 1 {
			// A re-fire after a leadership change carries the same run id.
			hits := rc.hitsFor(path)
			for _, h := range hits[1:] {
				if h.RunID != hits[0].RunID {
					t.Fatalf("%s delivered under two run ids: %s and %s", path, hits[0].RunID, h.RunID)
				}
			}
		}
	}
	fnet.Heal()
	waitForReplication(t, nodes)
	ensureSame(t, nodes)
}
