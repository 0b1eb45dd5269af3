package chaos

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/bench/internal/harness"
)

// Config is one chaos run.
type Config struct {
	Bin      string        // the chronicle binary
	Root     string        // where the nodes' data dirs go
	Seed     int64         // the fault schedule's and the workload's
	Duration time.Duration // of faults and workload; settling comes after
	Clients  int           // concurrent workload clients (default 3)
	OutDir   string        // where a failed check's files go (default bench/results)
	Logf     func(format string, args ...any)
}

// Run starts a cluster, runs the workload under the nemesis for
// cfg.Duration, heals, lets every due run fire, and checks. A violation is
// in the report, not an error; an error means the run could not be made.
func Run(cfg Config) (Report, error) {
	rep := Report{Seed: cfg.Seed}
	if cfg.Clients <= 0 {
		cfg.Clients = 3
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	start := time.Now()
	rc, err := newReceiver()
	if err != nil {
		return rep, err
	}
	defer rc.close()
	c, err := startCluster(cfg.Bin, cfg.Root, "--callback-attempts", "3", "--callback-backoff", "100ms",
		"--callback-timeout", "2s", "--misfire-threshold", "10m")
	if c != nil {
		defer c.close()
	}
	if err != nil {
		return rep, fmt.Errorf("start the cluster: %w", err)
	}
	w := &workload{c: c, receiver: rc.URL, app: "chaos", rng: rand.New(rand.NewSource(cfg.Seed + 1)),
		client: &http.Client{Timeout: 3 * time.Second}}
	if err := register(w); err != nil {
		return rep, err
	}
	var crons []cronJob
	for i := 0; i < 2; i++ {
		j, err := w.createCron(fmt.Sprintf("cron%d", i), 20*time.Second)
		if err != nil {
			return rep, err
		}
		crons = append(crons, j)
	}
	w.crons = crons
	nem := &nemesis{c: c, rng: rand.New(rand.NewSource(cfg.Seed)), logf: cfg.Logf}

	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); nem.run(ctx) }()
	go func() { defer wg.Done(); w.run(ctx, cfg.Clients) }()
	wg.Wait()

	// Healed: every node runs and every link carries. Wait for a leader
	// and for every run due to have fired (the last ones are due a few
	// seconds after the workload ends).
	leader, err := c.waitLeader(30 * time.Second)
	if err != nil {
		return rep, fmt.Errorf("after the faults: %w", err)
	}
	for i := range crons {
		if err := w.deleteCron(&crons[i], 20*time.Second); err != nil {
			rep.violate("%v", err)
		}
	}
	ops := w.history()
	settle(rc, ops, 30*time.Second)
	final := func(id string) (string, error) {
		var answer scheduleAnswer
		for try := 0; ; try++ {
			code := w.call(leader.URL(), "GET", "/goscheduler/schedules/"+id, nil, &answer)
			if code == 200 {
				return answer.Data.Schedule.Status, nil
			}
			if code != 0 && code < 500 || try == 20 {
				return "", fmt.Errorf("GET on the leader: HTTP %d", code)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	rep.Faults = nem.history()
	got := rc.deliveries()
	for _, o := range ops {
		rep.Ops++
		switch {
		case o.Acked():
			rep.Acked++
			switch o.Kind {
			case "create":
				rep.Creates++
			case "pause":
				rep.Pauses++
			}
		case o.Refused():
			rep.Refused++
		default:
			rep.Indeterminate++
		}
	}
	for _, ds := range got {
		rep.Deliveries += len(ds)
	}
	checkRuns(&rep, ops, got, final, rep.Faults)
	checkCrons(&rep, crons, got)
	checkListedRuns(&rep, ops, crons, got)
	if cfg.OutDir == "" {
		cfg.OutDir = filepath.Join("bench", "results")
	}
	checkLinearizable(&rep, ops, cfg.OutDir)
	rep.excerpt(ops, got)
	if rep.Events, err = sameLogs(c, 30*time.Second); err != nil {
		rep.violate("logs: %v", err)
	}
	// A clean stop flushes the state store (it has no WAL of its own), so
	// that replay sees every applied event; after a kill it would see only
	// what Pebble last flushed.
	// A node that does not stop in time is killed, and its store left out
	// of the comparison (noted in the report: a slow graceful stop is for
	// the shutdown's own tests, not a safety violation).
	var stopped []*harness.Node
	for _, n := range c.nodes {
		dump := filepath.Join(cfg.OutDir, fmt.Sprintf("chaos-%d-%s-slow-stop.txt", cfg.Seed, n.ID))
		var stacks bytes.Buffer
		if n.Stop(30*time.Second, &stacks) {
			stopped = append(stopped, n)
			continue
		}
		note := fmt.Sprintf("%s did not stop within 30 s of SIGTERM: killed, its store not replayed", n.ID)
		if err := os.WriteFile(dump, stacks.Bytes(), 0o644); err == nil {
			note += "; its goroutines then: " + dump
		}
		rep.Notes = append(rep.Notes, note)
	}
	if len(stopped) == 0 {
		rep.violate("no node stopped within 30 s of SIGTERM: no store to replay")
	} else if err := sameProjections(cfg.Bin, stopped, rep.Events); err != nil {
		rep.violate("projections: %v", err)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// register registers the workload's app through whichever node answers.
func register(w *workload) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		node := w.c.nodes[w.intn(len(w.c.nodes))]
		code := w.call(node.URL(), "POST", "/goscheduler/apps", map[string]any{"appId": w.app, "partitions": 4}, nil)
		if code == 200 || code == 409 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("register app %s: HTTP %d", w.app, code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settle waits until every acknowledged create due has been delivered (or
// within): what is still missing then is for the checks to report.
func settle(rc *receiver, ops []op, within time.Duration) {
	deadline := time.Now().Add(within)
	var last int64
	deleted := map[string]bool{} // a delete or a pause tried, whatever its answer: no delivery is owed
	for _, o := range ops {
		last = max(last, o.Due)
		if o.Kind == "delete" || o.Kind == "pause" {
			deleted[o.Key] = true
		}
	}
	for _, o := range ops {
		if o.Kind == "resume" && o.Acked() {
			delete(deleted, o.Key) // resumed: its run is owed again
		}
	}
	for time.Now().Before(deadline) {
		if time.Now().Unix() > last+2 {
			got := rc.deliveries()
			missing := 0
			for _, o := range ops {
				if o.Kind == "create" && o.Acked() && !deleted[o.Key] && len(got[o.Key]) == 0 {
					missing++
				}
			}
			if missing == 0 {
				break
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(time.Second) // a late duplicate would show now
}

// Summary is the report in a few lines.
func (r Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %.0f s, %d ops (%d acknowledged, %d refused, %d indeterminate), %d creates acknowledged, "+
		"%d pauses acknowledged, %d deliveries (%d cron occurrences), %d cron runs listed, %d faults, %d events\n", r.Seed, r.Seconds,
		r.Ops, r.Acked, r.Refused, r.Indeterminate, r.Creates, r.Pauses, r.Deliveries, r.CronRuns, r.ListedRuns, len(r.Faults), r.Events)
	fmt.Fprintf(&b, "lateness outside faults over %d runs: p50 %s p99 %s max %s\n", r.LatenessN, r.LatenessP50, r.LatenessP99, r.LatenessMax)
	fmt.Fprintf(&b, "linearizability of %d operations on schedules: %s\n", r.LinearizableOps, r.Linearizable)
	kinds := map[string]int{}
	for _, f := range r.Faults {
		kinds[f.Kind]++
	}
	fmt.Fprintf(&b, "faults: %v\n", kinds)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if len(r.Violations) == 0 {
		b.WriteString("no violation\n")
	}
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "VIOLATION %s\n", v)
	}
	if len(r.Violations) > 0 {
		for _, f := range r.Faults {
			fmt.Fprintf(&b, "  fault %s\n", f)
		}
		for _, line := range r.Excerpt {
			fmt.Fprintf(&b, "  history %s\n", line)
		}
	}
	return b.String()
}
