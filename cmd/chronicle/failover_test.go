package main

import (
	"fmt"
	"testing"
	"time"
)

// TestKillLeaderWhileFiring: 100 schedules due over four seconds; the
// leader is killed with SIGKILL in the middle. Every run must still fire,
// any duplicate must carry the same run id, and the restarted node must
// catch up.
func TestKillLeaderWhileFiring(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{child: true, extra: []string{"--timer-window", "2s"}})
	leader, followers := leaderAndFollowers(t, nodes)
	follower := followers[0]
	rc := newReceiver(t)
	follower.registerApp("failover", 4)
	base := time.Now().Unix() + 3
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = follower.createOnce("failover", base+int64(i/25), rc.url(fmt.Sprintf("/f/%d", i)), "POST", fmt.Sprint(i)).ScheduleID
	}
	// Kill the leader in the middle of the span: once some runs arrived.
	waitFor(t, 20*time.Second, "the first callbacks", func() bool {
		n := 0
		for i := range ids {
			n += len(rc.hitsFor(fmt.Sprintf("/f/%d", i)))
		}
		return n >= 30
	})
	killedAt := time.Now()
	leader.kill9()

	waitFor(t, 30*time.Second, "all 100 runs delivered", func() bool {
		for i := range ids {
			if len(rc.hitsFor(fmt.Sprintf("/f/%d", i))) == 0 {
				return false
			}
		}
		return true
	})
	var lastBefore, firstAfter time.Time
	dups := 0
	for i := range ids {
		hits := rc.hitsFor(fmt.Sprintf("/f/%d", i))
		for _, h := range hits {
			if h.RunID != ids[i] {
				t.Fatalf("run %d delivered with run id %q, want %q", i, h.RunID, ids[i])
			}
			if h.At.Before(killedAt) && h.At.After(lastBefore) {
				lastBefore = h.At
			}
			if h.At.After(killedAt) && (firstAfter.IsZero() || h.At.Before(firstAfter)) {
				firstAfter = h.At
			}
		}
		dups += len(hits) - 1
	}
	t.Logf("failover: leader %s killed; first callback by the new leader %v after the kill; firing gap %v; %d duplicate deliveries (same run id)",
		leader.cfg.nodeID, firstAfter.Sub(killedAt).Round(time.Millisecond), firstAfter.Sub(lastBefore).Round(time.Millisecond), dups)
	if firstAfter.Sub(killedAt) > 5*time.Second {
		t.Fatalf("firing resumed only %v after the leader died", firstAfter.Sub(killedAt))
	}
	survivor := followers[1]
	for _, id := range ids {
		survivor.waitStatus(id, "SUCCESS", 10*time.Second)
	}

	// The killed node restarts on its data dir and catches up.
	leader.start()
	leader.waitHealthy()
	for _, id := range ids {
		leader.waitStatus(id, "SUCCESS", 15*time.Second)
	}
	ensureSame(t, nodes)
}
