package chaos

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/bench/internal/harness"
)

// The short chaos run of `make test`: a fixed seed, 40 seconds of faults
// and workload on this tree's binary; every check must hold, and the run
// must have done enough to check something.
func TestChaosShortRun(t *testing.T) {
	root := t.TempDir()
	bin, err := harness.EnsureBinary("", root) // built from this tree, not a stale bin/
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(Config{Bin: bin, Root: root, Seed: 20261207, Duration: 40 * time.Second, Logf: t.Logf,
		OutDir: filepath.Join(os.TempDir(), "chronicle-chaos")}) // kept after the test, for a failure's files
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.Summary())
	if len(rep.Violations) > 0 {
		t.Fatalf("%d violations (seed %d): replay with go run ./bench/chaos/cmd -seed %d -seconds 40",
			len(rep.Violations), rep.Seed, rep.Seed)
	}
	if rep.Creates < 100 || rep.Pauses < 5 || len(rep.Faults) < 4 || rep.LatenessN < 20 || rep.CronRuns < 60 ||
		rep.ListedRuns < 20 || rep.Linearizable != "Ok" {
		t.Fatalf("the run did too little to check: %d creates and %d pauses acknowledged, %d faults, %d runs measured for "+
			"lateness, %d cron occurrences called, %d listed, linearizability %s", rep.Creates, rep.Pauses, len(rep.Faults),
			rep.LatenessN, rep.CronRuns, rep.ListedRuns, rep.Linearizable)
	}
}
