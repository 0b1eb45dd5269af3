// Command suite measures what users of Chronicle feel, each figure beside
// a ceiling measured in the same run on the same machine:
//
//	go run ./bench/suite [-profile quick|full|smoke] [-only create,firing,...] [-bin bin/chronicle] [-out FILE]
//
// Scenarios: create throughput (single node, and through a follower of
// three), firing rate and lateness, recovery after kill -9 with N pending,
// failover (bench/failover) and replay (bench/replay). It prints a table
// and writes a JSON result with the machine's cores, Go version and commit.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chronicle-sched/chronicle/bench/internal/harness"
)

// profile sizes every scenario.
type profile struct {
	name            string
	loadFor         time.Duration // create throughput and ceilings
	fireRate        int           // runs due per second
	fireSeconds     int
	pending         int // recovery
	failoverTrials  int
	replayEvents    int
	searchFireRates []int // highest sustained rate search (full only)
	burstRuns       int   // firing capacity: runs due at the same millisecond
}

var profiles = map[string]profile{
	"smoke": {name: "smoke", loadFor: time.Second, fireRate: 100, fireSeconds: 2, pending: 2000, failoverTrials: 0, replayEvents: 20000, burstRuns: 500},
	"quick": {name: "quick", loadFor: 8 * time.Second, fireRate: 5000, fireSeconds: 8, pending: 100_000, failoverTrials: 2, replayEvents: 200_000, burstRuns: 40_000},
	"full": {name: "full", loadFor: 20 * time.Second, fireRate: 5000, fireSeconds: 20, pending: 1_000_000, failoverTrials: 5,
		replayEvents: 1_000_000, searchFireRates: []int{2000, 5000, 10000}, burstRuns: 100_000},
}

// Row is one line of the report.
type Row struct {
	Scenario string  `json:"scenario"`
	Figure   float64 `json:"figure"`
	Unit     string  `json:"unit"`
	Ceiling  float64 `json:"ceiling,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`
	Target   string  `json:"target,omitempty"`
	Verdict  string  `json:"verdict,omitempty"` // PASS, MISS or "" (reported only)
	Note     string  `json:"note,omitempty"`
}

// Report is the JSON result file.
type Report struct {
	Machine harness.Machine `json:"machine"`
	Profile string          `json:"profile"`
	When    time.Time       `json:"when"`
	Rows    []Row           `json:"rows"`
}

type suite struct {
	bin, tmp, results string
	p                 profile
	rows              []Row
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func main() {
	prof := flag.String("profile", "quick", "quick (< 10 min on 2 cores), full, or smoke (seconds)")
	only := flag.String("only", "", "comma-separated scenarios: create,cluster,firing,recovery,failover,replay")
	bin := flag.String("bin", "bin/chronicle", "chronicle binary (built if missing)")
	out := flag.String("out", "", "JSON result file (default bench/results/suite-PROFILE.json)")
	flag.Parse()
	p, ok := profiles[*prof]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown profile %q\n", *prof)
		os.Exit(2)
	}
	if *out == "" {
		*out = filepath.Join("bench", "results", "suite-"+p.name+".json")
	}
	rep, err := Run(p, *bin, *only, filepath.Dir(*out))
	if err != nil {
		fmt.Fprintln(os.Stderr, "suite:", err)
		os.Exit(1)
	}
	Print(os.Stdout, rep)
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err == nil {
		err = os.WriteFile(*out, append(b, '\n'), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "suite: write result:", err)
		os.Exit(1)
	}
	logf("result written to %s", *out)
}

// Run runs the selected scenarios of profile p.
func Run(p profile, bin, only, results string) (Report, error) {
	rep := Report{Machine: harness.ThisMachine(), Profile: p.name, When: time.Now().UTC()}
	tmp, err := os.MkdirTemp("", "chronicle-suite-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(tmp)
	if bin, err = harness.EnsureBinary(bin, tmp); err != nil {
		return rep, err
	}
	if err := os.MkdirAll(results, 0o755); err != nil {
		return rep, err
	}
	s := &suite{bin: bin, tmp: tmp, results: results, p: p}
	want := func(name string) bool { return only == "" || strings.Contains(","+only+",", ","+name+",") }
	steps := []struct {
		name string
		run  func() error
	}{
		{"create", s.create}, {"cluster", s.clusterCreate}, {"firing", s.firing},
		{"recovery", s.recovery}, {"apps", s.apps}, {"failover", s.failover}, {"replay", s.replay},
	}
	for _, st := range steps {
		if !want(st.name) {
			continue
		}
		logf("== %s", st.name)
		if err := st.run(); err != nil {
			return rep, fmt.Errorf("%s: %w", st.name, err)
		}
	}
	rep.Rows = s.rows
	return rep, nil
}

func (s *suite) add(r Row) {
	if r.Ceiling > 0 {
		r.Ratio = r.Figure / r.Ceiling
	}
	s.rows = append(s.rows, r)
	logf("  %s: %.1f %s", r.Scenario, r.Figure, r.Unit)
}

// verdict compares a figure with a target ("≥" or "<").
func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// Print writes the report as a table.
func Print(w *os.File, rep Report) {
	fmt.Fprintf(w, "\nchronicle bench (%s profile): %d cores, %s, commit %s\n\n", rep.Profile, rep.Machine.Cores,
		rep.Machine.GoVersion, rep.Machine.Commit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tFIGURE\tCEILING\tRATIO\tTARGET\tVERDICT\tNOTE")
	for _, r := range rep.Rows {
		ceil, ratio := "", ""
		if r.Ceiling > 0 {
			ceil, ratio = fmt.Sprintf("%.0f %s", r.Ceiling, r.Unit), fmt.Sprintf("%.1f%%", 100*r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Scenario, format(r.Figure, r.Unit), ceil, ratio, r.Target, r.Verdict, r.Note)
	}
	tw.Flush()
}

func format(v float64, unit string) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f %s", v, unit)
	}
	return fmt.Sprintf("%.2f %s", v, unit)
}
