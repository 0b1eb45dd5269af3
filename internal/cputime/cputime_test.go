package cputime

import (
	"testing"
	"time"
)

// TestProcessCountsTheCPUTimeOfABusyLoop: spinning adds to the process's
// CPU time. The loop spins until 20 ms are counted rather than for a fixed
// wall time: on a shared, loaded machine 50 ms of wall time may hold far
// less CPU, and a test of the counter must not fail for that.
func TestProcessCountsTheCPUTimeOfABusyLoop(t *testing.T) {
	before := Process()
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	x := 0
	for Process()-before < 20*time.Millisecond {
		for range 100_000 {
			x++
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s of spinning counted as %v of CPU (%d loops)", Process()-before, x)
		}
	}
	if used, wall := Process()-before, time.Since(start); used > 2*wall+10*time.Millisecond {
		// One goroutine spins: more CPU than about the wall time passed is
		// not this loop's.
		t.Fatalf("%v of wall time counted as %v of CPU", wall, used)
	}
}
