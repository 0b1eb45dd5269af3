package main

import (
	"os"
	"strings"
	"testing"
)

// TestSmokeProfile runs every scenario of the suite at a size of seconds
// (failover excepted: its own program is exercised by make bench), so the
// bench code cannot rot. It asserts what the figures must show even at
// this size: every due run delivered exactly once, every figure measured.
func TestSmokeProfile(t *testing.T) {
	rep, err := Run(profiles["smoke"], "", "create,cluster,firing,recovery,apps,replay", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rep.Rows {
		// RSS growth over a thousand schedules, and the heap of apps that
		// hold nothing, are within the GC's noise (they can be negative);
		// every other figure must have been measured.
		if r.Figure <= 0 && !strings.HasPrefix(r.Scenario, "RSS") && !strings.HasPrefix(r.Scenario, "heap of 100 apps") {
			t.Errorf("%s: figure %v", r.Scenario, r.Figure)
		}
		if strings.Contains(r.Scenario, " vs ") && r.Ceiling <= 0 {
			t.Errorf("%s: ceiling %v", r.Scenario, r.Ceiling)
		}
		if r.Target != "" && r.Verdict == "" {
			t.Errorf("%s: a target without a verdict", r.Scenario)
		}
		for _, s := range []string{"create", "firing", "recovery", "heap of 100 apps", "replay"} {
			if strings.HasPrefix(r.Scenario, s) {
				seen[s] = true
			}
		}
		if strings.HasPrefix(r.Scenario, "firing") && strings.Contains(r.Note, "missing") &&
			(!strings.Contains(r.Note, " 0 missing") || !strings.Contains(r.Note, " 0 duplicates")) {
			t.Errorf("firing lost or repeated runs: %s", r.Note)
		}
		if strings.HasPrefix(r.Scenario, "create") && strings.Contains(r.Note, "errors") && !strings.Contains(r.Note, " 0 errors") {
			t.Errorf("creates failed: %s", r.Note)
		}
	}
	for _, s := range []string{"create", "firing", "recovery", "heap of 100 apps", "replay"} {
		if !seen[s] {
			t.Errorf("no %s row in %+v", s, rep.Rows)
		}
	}
	Print(os.Stdout, rep)
}

func TestSlopeFitsALine(t *testing.T) {
	xs := []float64{250_000, 500_000, 750_000, 1_000_000}
	ys := []float64{3*xs[0] + 5e8, 3*xs[1] + 5e8 + 1e3, 3*xs[2] + 5e8 - 1e3, 3*xs[3] + 5e8}
	if got := slope(xs, ys); got < 2.99 || got > 3.01 {
		t.Fatalf("slope %v, want 3 (within the noise added)", got)
	}
	if got := slope([]float64{1, 1}, []float64{2, 3}); got != 0 {
		t.Fatalf("slope of a vertical set: %v", got)
	}
}
