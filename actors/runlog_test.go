package actors

import (
	"testing"
	"time"
)

// A burst of failed runs writes runLogBurst lines a second; the first line
// of the next second says how many were left out.
func TestRunLogBoundsABurstAndCountsWhatItLeftOut(t *testing.T) {
	var l runLog
	now := time.Unix(1000, 0)
	written := 0
	for range runLogBurst + 10 {
		if ok, _ := l.line(now); ok {
			written++
		}
	}
	if written != runLogBurst {
		t.Fatalf("%d lines in one second, want %d", written, runLogBurst)
	}
	ok, omitted := l.line(now.Add(time.Second))
	if !ok || omitted != 10 {
		t.Fatalf("next second: line %v, %d left out, want true, 10", ok, omitted)
	}
	if _, omitted := l.line(now.Add(time.Second)); omitted != 0 {
		t.Fatalf("the count was not reset: %d", omitted)
	}
}
