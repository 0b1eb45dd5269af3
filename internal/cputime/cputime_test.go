package cputime

import (
	"testing"
	"time"
)

func TestProcessCountsTheCPUTimeOfABusyLoop(t *testing.T) {
	before := Process()
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	if used := Process() - before; used < 20*time.Millisecond {
		t.Fatalf("50 ms of spinning counted as %v of CPU (%d loops)", used, x)
	}
}
