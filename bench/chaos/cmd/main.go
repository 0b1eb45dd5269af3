// Command chaos runs Chronicle's fault-injection suite against the real
// binary: a three-node cluster, a seeded schedule of faults, a workload,
// and checks (see package bench/chaos). It prints the seed first; the same
// seed replays the same fault schedule.
//
//	go run ./bench/chaos/cmd -seconds 300 [-seed N] [-runs 10]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chronicle-sched/chronicle/bench/chaos"
	"github.com/chronicle-sched/chronicle/bench/internal/harness"
)

func main() {
	seed := flag.Int64("seed", 0, "seed of the first run (0: from the clock)")
	seconds := flag.Int("seconds", 300, "seconds of faults and workload per run")
	runs := flag.Int("runs", 1, "runs, with seeds seed, seed+1, ...")
	bin := flag.String("bin", "bin/chronicle", "chronicle binary (built if missing)")
	out := flag.String("out", "bench/results/chaos.json", "where the reports go")
	flag.Parse()
	if *seed == 0 {
		*seed = time.Now().UnixNano() % 1_000_000
	}
	root, err := os.MkdirTemp("", "chronicle-chaos-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(root)
	path, err := harness.EnsureBinary(*bin, root)
	if err != nil {
		fail(err)
	}
	var reports []chaos.Report
	failed := false
	for i := 0; i < *runs; i++ {
		s := *seed + int64(i)
		fmt.Printf("chaos run %d/%d: seed %d, %d s (replay: go run ./bench/chaos/cmd -seed %d -seconds %d)\n",
			i+1, *runs, s, *seconds, s, *seconds)
		rep, err := chaos.Run(chaos.Config{Bin: path, Root: filepath.Join(root, fmt.Sprint(s)), Seed: s,
			Duration: time.Duration(*seconds) * time.Second,
			Logf:     func(f string, a ...any) { fmt.Printf("  "+f+"\n", a...) }})
		if err != nil {
			fail(fmt.Errorf("seed %d: %w", s, err))
		}
		fmt.Print(rep.Summary())
		reports = append(reports, rep)
		failed = failed || len(rep.Violations) > 0
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err == nil {
		b, _ := json.MarshalIndent(reports, "", "  ")
		_ = os.WriteFile(*out, b, 0o644)
	}
	if failed {
		fmt.Println("FAIL: a run found violations (its seed is above)")
		os.Exit(1)
	}
	fmt.Printf("PASS: %d runs without a violation\n", *runs)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "chaos:", err)
	os.Exit(2)
}
