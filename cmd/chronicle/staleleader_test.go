package main

import (
	"net/http"
	"syscall"
	"testing"
	"time"
)

// A leader stopped (SIGSTOP) while the others elect a new one and take a
// create does not, once resumed, refuse a change of that schedule from its
// stale state: before it notices it was deposed it still serves writes
// itself, and a 404 then would contradict the acknowledged create (the
// chaos suite caught exactly that, seed 6100). It answers 503, or relays
// and succeeds; never 404. Several rounds, as the window is short.
func TestDeposedLeaderDoesNotRefuseFromStaleState(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{child: true})
	leader, _ := leaderAndFollowers(t, nodes)
	leader.registerApp("stale", 1)
	waitForReplication(t, nodes)
	for round := 0; round < 3; round++ {
		old, _ := leaderAndFollowers(t, nodes)
		if err := old.proc.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		var created schedule
		waitFor(t, 15*time.Second, "a create acknowledged by the new leader", func() bool {
			for _, tn := range nodes {
				if tn == old {
					continue
				}
				if code, r := tn.call("POST", "/goscheduler/schedules", onceBody("stale", "http://127.0.0.1:9/x")); code == 200 {
					created = decodeData[struct{ Schedule schedule }](t, r).Schedule
					return true
				}
			}
			return false
		})
		// Sent while it is stopped, the requests wait in its socket and are
		// served the moment it resumes, before Raft there notices anything.
		type answer struct {
			what string
			code int
			raw  []byte
		}
		answers := make(chan answer, 2)
		for _, req := range [][2]string{{"POST", "/goscheduler/schedules/" + created.ScheduleID + "/pause"},
			{"DELETE", "/goscheduler/schedules/" + created.ScheduleID}} {
			go func() {
				code, r := doCall(t, &http.Client{Timeout: 20 * time.Second}, "", req[0], old.base+req[1], nil)
				answers <- answer{req[0] + " " + req[1], code, r.raw}
			}()
		}
		time.Sleep(200 * time.Millisecond)
		if err := old.proc.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			a := <-answers
			// 409: the pause and the delete may apply in either order.
			if a.code != http.StatusOK && a.code != http.StatusServiceUnavailable && a.code != http.StatusConflict {
				t.Fatalf("round %d: %s of a schedule acknowledged by the new leader, sent to the deposed one: HTTP %d %s",
					round, a.what, a.code, a.raw)
			}
		}
		waitAnnounced(t, nodes)
	}
}
