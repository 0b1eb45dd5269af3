package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/internal/syncbuf"
)

// A run that fails after its retries, and a run missed while no node could
// fire it, each leave a log line saying which run and why.
func TestFailedAndMissedRunsAreLogged(t *testing.T) {
	var logs syncbuf.Buffer
	tn := startChild(t, testConfig(t, t.TempDir()), &logs,
		"--callback-attempts", "2", "--callback-backoff", "50ms", "--misfire-threshold", "1s")
	tn.waitHealthy()
	tn.registerApp("logged", 1)
	rc := newReceiver(t)
	rc.answer("/down", 503)
	failed := tn.createOnce("logged", time.Now().Unix()+1, rc.url("/down"), "POST", "")
	tn.waitStatus(failed.ScheduleID, "FAILURE", 15*time.Second)
	waitFor(t, 5*time.Second, "the failed run's line", func() bool {
		return hasLine(logs.String(), `msg="run failed"`, "run="+failed.ScheduleID, "attempts=2", "maxAttempts=2", "httpStatus=503")
	})

	missed := tn.createOnce("logged", time.Now().Unix()+1, rc.url("/never"), "POST", "")
	tn.stop() // down past its due time and the misfire threshold
	time.Sleep(3 * time.Second)
	tn.start()
	tn.waitHealthy()
	tn.waitStatus(missed.ScheduleID, "MISS", 15*time.Second)
	waitFor(t, 5*time.Second, "the missed run's line", func() bool {
		return hasLine(logs.String(), `msg="run missed"`, "run="+missed.ScheduleID, "misfire threshold 1s")
	})
	if n := len(rc.hitsFor("/never")); n != 0 {
		t.Fatalf("the missed run was called %d times", n)
	}
}

// hasLine reports whether one line of logs holds every part.
func hasLine(logs string, parts ...string) bool {
	for _, line := range strings.Split(logs, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
