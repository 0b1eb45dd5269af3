package main

import (
	"testing"
	"time"
)

// callUnderway registers app "drain" on tn and returns once tn is calling
// the receiver's /slow for a one-time schedule, a call that takes 2 s.
func callUnderway(t *testing.T, tn *testNode) (*receiver, schedule) {
	t.Helper()
	tn.registerApp("drain", 1)
	rc := newReceiver(t)
	rc.answerAfter("/slow", 2*time.Second)
	s := tn.createOnce("drain", time.Now().Unix()+1, rc.url("/slow"), "POST", "")
	waitFor(t, 10*time.Second, "the call", func() bool { return len(rc.hitsFor("/slow")) == 1 })
	return rc, s
}

// A node told to stop while it is calling a receiver lets the call finish
// (within --drain-timeout) and records its outcome: after a restart the
// run is SUCCESS, on its one call; nothing is cut short and fired again.
func TestStopLetsACallInFlightFinish(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.cbTimeout, cfg.drainTimeout = 10*time.Second, 10*time.Second
	tn := startTestNode(t, cfg)
	rc, s := callUnderway(t, tn)
	tn.stop()
	tn.start()
	tn.waitHealthy()
	if got := tn.getSchedule(s.ScheduleID); got.Status != "SUCCESS" {
		t.Fatalf("after the stop and a restart the run is %s (%s), want SUCCESS", got.Status, got.ErrorMessage)
	}
	// A run left in flight would be fired again at once by the restarted
	// node; give it the time to.
	sentinel := tn.createOnce("drain", time.Now().Unix()+1, rc.url("/sentinel"), "POST", "")
	tn.waitStatus(sentinel.ScheduleID, "SUCCESS", 15*time.Second)
	if n := len(rc.hitsFor("/slow")); n != 1 {
		t.Fatalf("the receiver was called %d times", n)
	}
}

// A leader told to stop lets its calls finish before it hands leadership
// over: the next leader finds the run completed, not in flight, and does
// not call again.
func TestALeaderStoppingFinishesItsCallsThenHandsOver(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{tune: func(c *serveConfig) {
		c.cbTimeout, c.drainTimeout = 10*time.Second, 10*time.Second
	}})
	var leader *testNode
	var others []*testNode
	for _, tn := range nodes {
		if tn.n.raft.IsLeader() {
			leader = tn
		} else {
			others = append(others, tn)
		}
	}
	if leader == nil {
		t.Fatal("no leader")
	}
	rc, s := callUnderway(t, leader)
	leader.stop()
	others[0].waitStatus(s.ScheduleID, "SUCCESS", 15*time.Second)
	sentinel := others[0].createOnce("drain", time.Now().Unix()+1, rc.url("/sentinel"), "POST", "")
	others[0].waitStatus(sentinel.ScheduleID, "SUCCESS", 15*time.Second)
	if n := len(rc.hitsFor("/slow")); n != 1 {
		t.Fatalf("the receiver was called %d times", n)
	}
}
