package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

func TestThreeNodeClusterThroughAFollower(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{})
	rc := newReceiver(t)
	leader, followers := leaderAndFollowers(t, nodes)
	f := followers[0]

	v := f.cluster()
	if v.NodeID != f.cfg.nodeID || v.LeaderID != leader.cfg.nodeID || len(v.Members) != 3 {
		t.Fatalf("cluster from a follower: %+v", v)
	}
	for _, m := range v.Members {
		if !m.Voter || m.Reachable == nil || !*m.Reachable || m.RaftAddress == "" {
			t.Fatalf("member %+v", m)
		}
	}
	// Every member announced the event schema its build reads, so the
	// leader writes the current one (raftfsm/schema.go); /cluster shows it.
	waitFor(t, 10*time.Second, "every member's schema announced", func() bool {
		v := f.cluster()
		for _, m := range v.Members {
			if m.EventSchema != event.SchemaVersion {
				return false
			}
		}
		return len(v.Members) == 3
	})

	// Writes through a follower are forwarded; its own reads see them at once.
	f.registerApp("ha", 3)
	r := f.must(200, "GET", "/goscheduler/apps?app_id=ha", nil)
	if !strings.Contains(string(r.Data), `"appId":"ha"`) {
		t.Fatalf("follower does not see the write it forwarded: %s", r.raw)
	}
	at := time.Now().Unix() + 2
	var ids []string
	for i := 0; i < 30; i++ {
		s := f.createOnce("ha", at, rc.url(fmt.Sprintf("/ha/%d", i)), "POST", fmt.Sprint(i))
		if got := f.getSchedule(s.ScheduleID); got.Status != "SCHEDULED" {
			t.Fatalf("read after forwarded create: %+v", got)
		}
		ids = append(ids, s.ScheduleID)
	}
	for _, id := range ids {
		followers[1].waitStatus(id, "SUCCESS", 10*time.Second)
	}
	// Each outcome is recorded, and each run fired once: no further call
	// of it can come.
	for i, id := range ids {
		if runs := followers[1].firedAfter(id, 0); len(runs) != 1 {
			t.Fatalf("schedule %d recorded as fired %d times", i, len(runs))
		}
		if h := rc.hitsFor(fmt.Sprintf("/ha/%d", i)); len(h) != 1 {
			t.Fatalf("schedule %d fired %d times", i, len(h))
		}
	}

	// Leadership transfer through a follower's API.
	f.must(200, "POST", "/cluster/leadership-transfer", nil)
	waitFor(t, 10*time.Second, "leadership moved", func() bool {
		l, _ := leaderAndFollowers(t, nodes)
		return l != leader
	})
	newLeader, _ := leaderAndFollowers(t, nodes)
	s := f.createOnce("ha", time.Now().Unix()+1, rc.url("/after-transfer"), "GET", "")
	newLeader.waitStatus(s.ScheduleID, "SUCCESS", 10*time.Second)
	if len(rc.hitsFor("/after-transfer")) != 1 {
		t.Fatal("schedule after a leadership transfer did not fire exactly once")
	}
	code, r := f.call("POST", "/cluster/leadership-transfer", map[string]any{"id": "nobody"})
	if code != 404 {
		t.Fatalf("transfer to an unknown member: %d %s", code, r.raw)
	}
}

func TestMembershipChangesThroughTheAPI(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{})
	// A fourth node, not in its own --peers: it must not bootstrap; it waits to be added.
	cfg := testConfig(t, t.TempDir())
	cfg.nodeID, cfg.peers = "n4", nodes[0].cfg.peers
	cfg.heartbeat, cfg.election, cfg.lease = nodes[0].cfg.heartbeat, nodes[0].cfg.election, nodes[0].cfg.lease
	n4 := &testNode{t: t, cfg: cfg}
	n4.start()
	nodes[0].registerApp("members", 1)

	r := nodes[1].must(200, "POST", "/cluster/members", map[string]any{"id": "n4", "raftAddress": cfg.raftAddr, "voter": false})
	if !strings.Contains(string(r.raw), `"id":"n4"`) {
		t.Fatalf("add member: %s", r.raw)
	}
	waitFor(t, 10*time.Second, "n4 caught up", func() bool {
		code, _ := n4.call("GET", "/goscheduler/apps?app_id=members", nil)
		return code == 200
	})
	v := nodes[0].cluster()
	for _, m := range v.Members {
		if m.ID == "n4" && m.Voter {
			t.Fatal("n4 was added as a non-voter but is a voter")
		}
	}
	nodes[2].must(200, "POST", "/cluster/members", map[string]any{"id": "n4", "raftAddress": cfg.raftAddr})
	waitFor(t, 10*time.Second, "n4 promoted", func() bool {
		for _, m := range nodes[0].cluster().Members {
			if m.ID == "n4" && m.Voter {
				return true
			}
		}
		return false
	})
	nodes[1].must(200, "DELETE", "/cluster/members/n4", nil)
	waitFor(t, 10*time.Second, "n4 removed", func() bool { return len(nodes[0].cluster().Members) == 3 })
	for _, c := range []struct {
		method, path string
		body         any
		code         int
	}{
		{"POST", "/cluster/members", map[string]any{"id": "x"}, 400},
		{"POST", "/cluster/members", `{"id":`, 400},
		{"POST", "/cluster/members", nil, 400}, // no body: once a 500
		{"POST", "/cluster/announce", map[string]any{"nodeId": ""}, 400},
	} {
		if code, r := nodes[1].call(c.method, c.path, c.body); code != c.code {
			t.Errorf("%s %s: %d %s", c.method, c.path, code, r.raw)
		}
	}
}

// TestRestartedFollowerCatchesUpBySnapshot stops a follower, writes enough
// for the leader to snapshot and truncate its log past the follower, and
// restarts it: it must catch up from the snapshot.
func TestRestartedFollowerCatchesUpBySnapshot(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{tune: func(c *serveConfig) {
		c.snapshotThreshold, c.trailingLogs, c.snapshotInterval = 40, 10, 200*time.Millisecond
	}})
	leader, followers := leaderAndFollowers(t, nodes)
	lagging := followers[0]
	leader.registerApp("snap", 2)
	waitFor(t, 5*time.Second, "follower applied the app", func() bool {
		code, _ := lagging.call("GET", "/goscheduler/apps?app_id=snap", nil)
		return code == 200
	})
	lagging.stop()

	far := time.Now().Unix() + 86400
	var last string
	for i := 0; i < 200; i++ {
		last = leader.createOnce("snap", far+int64(i), "http://127.0.0.1:1/x", "GET", "").ScheduleID
	}
	waitFor(t, 20*time.Second, "leader snapshot past the lagging follower", func() bool {
		return newestSnapshotIndex(t, leader.cfg.dataDir) > 150
	})
	before := newestSnapshotIndex(t, lagging.cfg.dataDir)

	restarted := lagging
	restarted.start()
	waitFor(t, 20*time.Second, "restarted follower caught up", func() bool {
		code, _ := restarted.call("GET", "/goscheduler/schedules/"+last, nil)
		return code == 200
	})
	if after := newestSnapshotIndex(t, lagging.cfg.dataDir); after <= before || after < 150 {
		t.Fatalf("follower caught up without installing a snapshot (snapshot index %d → %d)", before, after)
	}
	r := restarted.must(200, "GET", fmt.Sprintf("/goscheduler/apps/snap/schedules?size=1000&start_time=%s&end_time=%s",
		urlTime(time.Unix(far, 0)), urlTime(time.Unix(far+300, 0))), nil)
	if *r.Status.TotalCount != 200 {
		t.Fatalf("restarted follower has %d of 200 schedules", *r.Status.TotalCount)
	}
}

// newestSnapshotIndex reads raft's snapshot directory names (term-index-ms).
func newestSnapshotIndex(t *testing.T, dataDir string) int {
	entries, _ := os.ReadDir(filepath.Join(dataDir, "snapshots"))
	var idx []int
	for _, e := range entries {
		parts := strings.Split(e.Name(), "-")
		var n int
		if len(parts) == 3 && !strings.HasSuffix(e.Name(), ".tmp") {
			fmt.Sscan(parts[1], &n)
			idx = append(idx, n)
		}
	}
	sort.Ints(idx)
	if len(idx) == 0 {
		return 0
	}
	return idx[len(idx)-1]
}

// TestNoLeaderAnswers503: with two of three nodes gone the survivor cannot
// elect a leader; writes get a clear 503 with Retry-After, reads still work.
func TestNoLeaderAnswers503(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{})
	nodes[0].registerApp("quorum", 1)
	waitFor(t, 5*time.Second, "app replicated", func() bool {
		code, _ := nodes[2].call("GET", "/goscheduler/apps?app_id=quorum", nil)
		return code == 200
	})
	nodes[0].stop()
	nodes[1].stop()
	survivor := nodes[2]
	waitFor(t, 15*time.Second, "survivor without a leader", func() bool { return survivor.n.raft.Leader() == "" })
	code, r := survivor.call("POST", "/goscheduler/apps", map[string]any{"appId": "lost", "partitions": 1})
	if code != 503 || r.Status.StatusType != "Fail" || !strings.Contains(r.Status.StatusMessage, "no leader") {
		t.Fatalf("write without a leader: %d %s", code, r.raw)
	}
	if code, _ := survivor.call("GET", "/goscheduler/healthcheck", nil); code != 503 {
		t.Fatalf("healthcheck without a leader: %d", code)
	}
	if code, _ := survivor.call("GET", "/goscheduler/apps?app_id=quorum", nil); code != 200 {
		t.Fatalf("reads must still be served: %d", code)
	}
}

// One POST of a voter that is not running, on a single node, used to
// leave the node a Candidate for good: no leader, every write 503, also
// after a restart. A malformed address is refused; a voter that would
// leave the reachable voters without a quorum is added as a non-voter and
// the answer says why it was not promoted; the node keeps leading.
func TestBadMembershipChangesKeepTheLeader(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.promoteTimeout = time.Second
	tn := startTestNode(t, cfg)
	code, r := tn.call("POST", "/cluster/members", map[string]any{"id": "x", "raftAddress": "not-an-addr", "voter": true})
	if code != 400 || !strings.Contains(r.Status.StatusMessage, "raftAddress") {
		t.Fatalf("malformed raftAddress: %d %s", code, r.raw)
	}
	dead := freeAddr(t)
	code, r = tn.call("POST", "/cluster/members", map[string]any{"id": "x", "raftAddress": dead, "voter": true})
	if code != 409 || !strings.Contains(r.Status.StatusMessage, "quorum") || !strings.Contains(r.Status.StatusMessage, "force") {
		t.Fatalf("a voter that is not running, on a single node: %d %s", code, r.raw)
	}
	v := tn.cluster()
	if v.LeaderID != "node1" || len(v.Members) != 2 {
		t.Fatalf("after the refused promotion: %+v", v)
	}
	for _, m := range v.Members {
		if m.ID == "x" && m.Voter {
			t.Fatal("x became a voter")
		}
	}
	tn.registerApp("still-writable", 1)
	code, r = tn.call("POST", "/cluster/members", map[string]any{"id": "x", "raftAddress": freeAddr(t), "voter": false})
	if code != 409 || !strings.Contains(r.Status.StatusMessage, "remove it first") {
		t.Fatalf("the same member at another address: %d %s", code, r.raw)
	}
	tn.must(200, "DELETE", "/cluster/members/x", nil)
	code, r = tn.call("DELETE", "/cluster/members/node1", nil)
	if code != 409 || !strings.Contains(r.Status.StatusMessage, "last voter") {
		t.Fatalf("removing the only voter: %d %s", code, r.raw)
	}
	tn.stop()
	tn = startTestNode(t, cfg)
	if v := tn.cluster(); v.LeaderID != "node1" || len(v.Members) != 1 {
		t.Fatalf("after a restart: %+v", v)
	}
	tn.must(200, "GET", "/goscheduler/apps?app_id=still-writable", nil)
}

// With one of three nodes down, removing a live voter would leave one of
// two voters reachable: refused unless forced. The dead one may go.
func TestRemovingAVoterThatWouldLoseTheQuorumIsRefused(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{})
	leader, followers := leaderAndFollowers(t, nodes)
	down, live := followers[0], followers[1]
	down.stop()
	code, r := live.call("DELETE", "/cluster/members/"+live.cfg.nodeID, nil)
	if code != 409 || !strings.Contains(r.Status.StatusMessage, "below the quorum of 2") {
		t.Fatalf("removing a live voter with another down: %d %s", code, r.raw)
	}
	leader.must(200, "DELETE", "/cluster/members/"+down.cfg.nodeID, nil)
	v := leader.cluster()
	if len(v.Members) != 2 || v.LeaderID != leader.cfg.nodeID {
		t.Fatalf("after removing the dead voter: %+v", v)
	}
	leader.registerApp("two-left", 1)
	waitFor(t, 5*time.Second, "the other voter applies the write", func() bool {
		code, _ := live.call("GET", "/goscheduler/apps?app_id=two-left", nil)
		return code == 200
	})
}

// Two of three nodes gone for good: the survivor has no leader and no way
// to elect one. Stopped and recovered with itself as the only voter, it
// comes back as a working single node with all its data.
func TestRecoverBringsBackANodeThatLostItsQuorum(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{})
	leader, _ := leaderAndFollowers(t, nodes)
	leader.registerApp("survive", 2)
	far := time.Now().Unix() + 86400
	var ids []string
	for i := 0; i < 20; i++ {
		ids = append(ids, leader.createOnce("survive", far+int64(i), "http://127.0.0.1:1/x", "POST", fmt.Sprint(i)).ScheduleID)
	}
	survivor := nodes[2]
	waitFor(t, 10*time.Second, "the survivor has every schedule", func() bool {
		code, _ := survivor.call("GET", "/goscheduler/schedules/"+ids[len(ids)-1], nil)
		return code == 200
	})
	nodes[0].stop()
	nodes[1].stop()
	waitFor(t, 15*time.Second, "the survivor without a leader", func() bool { return survivor.n.raft.Leader() == "" })
	survivor.stop()

	var out, errOut strings.Builder
	if err := recoverCluster([]string{"--data-dir", survivor.cfg.dataDir, "--node-id", survivor.cfg.nodeID,
		"--peers", survivor.cfg.nodeID + "=" + survivor.cfg.raftAddr}, &out, &errOut); err != nil {
		t.Fatalf("recover: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "recovered") {
		t.Fatalf("recover said: %q", out.String())
	}
	back := startTestNode(t, survivor.cfg)
	v := back.cluster()
	if v.LeaderID != survivor.cfg.nodeID || len(v.Members) != 1 {
		t.Fatalf("recovered node: %+v", v)
	}
	for i, id := range ids {
		if s := back.getSchedule(id); s.Status != "SCHEDULED" || s.Payload != fmt.Sprint(i) {
			t.Fatalf("schedule %d after recovery: %+v", i, s)
		}
	}
	rc := newReceiver(t)
	s := back.createOnce("survive", time.Now().Unix()+1, rc.url("/after"), "POST", "")
	back.waitStatus(s.ScheduleID, "SUCCESS", 10*time.Second)

	// Recovering a data dir a node is running on is refused.
	err := recoverCluster([]string{"--data-dir", survivor.cfg.dataDir, "--node-id", survivor.cfg.nodeID,
		"--peers", survivor.cfg.nodeID + "=" + survivor.cfg.raftAddr}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("recover on a running node's data dir: %v", err)
	}
}
