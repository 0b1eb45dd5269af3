// Command replay measures how fast `chronicle replay` rebuilds every
// projection from the event log, against the ceiling of merely reading
// and decoding the same log on the same machine.
//
//	go run ./bench/replay [-events 1000000] [-bin bin/chronicle] [-out bench/results/replay.json]
//
// It writes a realistic log straight into a state store, the way the FSM
// does (apply + append in one batch per group of events): apps, one-time
// schedules created, fired and completed (successes, failures), deletes,
// crons firing, bulk actions. Then it runs the real binary's replay on it.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
	"github.com/cockroachdb/pebble/v2"
)

var replayProfile, keepDir string

// storeLogger is what the stores this program opens say: warnings only.
var storeLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// Result is the JSON result file.
type Result struct {
	Machine struct {
		Cores     int    `json:"cores"`
		GoVersion string `json:"goVersion"`
		Commit    string `json:"commit"`
	} `json:"machine"`
	Events            int     `json:"events"`
	DataBytes         int64   `json:"dataBytes"`
	GenerateSeconds   float64 `json:"generateSeconds"`
	ReplayPerSec      float64 `json:"replayEventsPerSec"`
	ScanCeilingPerSec float64 `json:"scanCeilingEventsPerSec"`
	// WriteCeilingPerSec is the rebuild's projection writes alone (see
	// writeCeiling), WriteRatio the replay's share of it.
	WriteCeilingPerSec float64 `json:"writeCeilingEventsPerSec"`
	WriteRatio         float64 `json:"writeRatio"`
	// CPU time per event (microseconds, every core) of the replay and of
	// the writes alone: what a rebuild costs regardless of how many cores
	// share it. Two cores give 10 µs per event at 200,000 events/s.
	ReplayCPUMicros float64 `json:"replayCpuMicrosPerEvent"`
	WriteCPUMicros  float64 `json:"writeCpuMicrosPerEvent"`
	Ratio           float64 `json:"ratio"`
	Identical       bool    `json:"identical"`
	Target          float64 `json:"targetEventsPerSec"`
	Pass            bool    `json:"pass"`
}

func main() {
	n := flag.Int("events", 1_000_000, "events in the generated log")
	bin := flag.String("bin", "bin/chronicle", "chronicle binary (built if missing)")
	out := flag.String("out", "bench/results/replay.json", "JSON result file")
	cpuprofile := flag.String("genprofile", "", "write a CPU profile of the in-process generation (apply path) here")
	flag.StringVar(&replayProfile, "profile", "", "write a CPU profile of `chronicle replay` here")
	flag.StringVar(&keepDir, "keep", "", "keep the generated log in this directory, or replay the one an earlier run kept there (A/B of builds on one log)")
	flag.Parse()
	if err := run(*n, *bin, *out, *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "replay bench:", err)
		os.Exit(1)
	}
}

func run(n int, bin, out, profile string) error {
	dir, err := os.MkdirTemp("", "chronicle-replay-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logDir := filepath.Join(dir, "node")
	if keepDir != "" {
		logDir = keepDir
	}
	bin, err = ensureBinary(bin, dir)
	if err != nil {
		return err
	}
	var res Result
	res.Target = 200_000
	res.Machine.Cores, res.Machine.GoVersion = runtime.NumCPU(), runtime.Version()
	if c, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		res.Machine.Commit = strings.TrimSpace(string(c))
	}

	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	start := time.Now()
	events, err := generateOrReuse(logDir, n)
	if profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return fmt.Errorf("generate log: %w", err)
	}
	res.Events, res.GenerateSeconds = events, time.Since(start).Seconds()
	res.DataBytes = dirSize(logDir)
	fmt.Fprintf(os.Stderr, "log of %d events (%.1f MB) ready in %.1fs\n", events, float64(res.DataBytes)/1e6, res.GenerateSeconds)

	if res.ScanCeilingPerSec, err = scanCeiling(logDir); err != nil {
		return err
	}
	var writeCPU time.Duration
	if res.WriteCeilingPerSec, writeCPU, err = writeCeiling(opsPath(logDir), filepath.Join(dir, "write-ceiling"), events); err != nil {
		return fmt.Errorf("write ceiling: %w", err)
	}
	res.WriteCPUMicros = float64(writeCPU.Nanoseconds()) / 1e3
	args := []string{"replay", "--data-dir", logDir, "--json"}
	if replayProfile != "" {
		args = append(args, "--cpuprofile", replayProfile)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	report, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("chronicle replay: %w\n%s", err, report)
	}
	var rr struct {
		Events       int
		EventsPerSec float64
		CPUSeconds   float64
		Identical    bool
	}
	if err := json.Unmarshal(report, &rr); err != nil {
		return fmt.Errorf("replay report: %w: %s", err, report)
	}
	if rr.Events != events {
		return fmt.Errorf("replay read %d events, the log has %d", rr.Events, events)
	}
	res.ReplayPerSec, res.Identical = rr.EventsPerSec, rr.Identical
	res.ReplayCPUMicros = rr.CPUSeconds * 1e6 / float64(rr.Events)
	res.Ratio = res.ReplayPerSec / res.ScanCeilingPerSec
	res.WriteRatio = res.ReplayPerSec / res.WriteCeilingPerSec
	res.Pass = res.Identical && res.ReplayPerSec >= res.Target

	verdict := "PASS"
	if !res.Pass {
		verdict = "MISS"
	}
	fmt.Printf("%-34s %14s %14s %7s %12s %s\n", "scenario", "figure", "ceiling", "ratio", "target", "")
	fmt.Printf("%-34s %10.0f ev/s %10.0f ev/s %6.1f%% %9.0f ev/s %s\n", fmt.Sprintf("replay %d events", events),
		res.ReplayPerSec, res.ScanCeilingPerSec, 100*res.Ratio, res.Target, verdict)
	fmt.Printf("%-34s %10.0f ev/s %10.0f ev/s %6.1f%%\n", "  vs its projection writes alone",
		res.ReplayPerSec, res.WriteCeilingPerSec, 100*res.WriteRatio)
	fmt.Printf("CPU per event (all cores): replay %.1f µs, its writes alone %.1f µs (200,000 events/s on %d cores allows %.1f µs)\n",
		res.ReplayCPUMicros, res.WriteCPUMicros, res.Machine.Cores, float64(res.Machine.Cores)*1e6/res.Target)
	fmt.Printf("projections identical to the stored ones: %v; data dir %.0f bytes/event\n", res.Identical,
		float64(res.DataBytes)/float64(events))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

// generateOrReuse generates the log in dir, unless dir already holds one
// (kept by an earlier run with -keep), whose event count it returns.
func generateOrReuse(dir string, n int) (int, error) {
	if _, err := os.Stat(filepath.Join(dir, "state")); err != nil {
		return generate(dir, n)
	}
	if _, err := os.Stat(opsPath(dir)); err != nil {
		return 0, fmt.Errorf("%s holds a log but not its recorded projection writes (%w): remove it to generate both", dir, err)
	}
	db, err := raftfsm.OpenState(dir, true, storeLogger)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	last, err := eventlog.LastSeq(db)
	return int(last), err
}

// generate writes about n events into a fresh state store under dir,
// through the same apply rules the FSM uses, and returns how many.
func generate(dir string, n int) (int, error) {
	db, err := raftfsm.OpenState(dir, false, storeLogger)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	ops, err := os.Create(opsPath(dir))
	if err != nil {
		return 0, err
	}
	defer ops.Close()
	g := &generator{db: db, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(),
		cache: projections.NewRecordCache(100_000), ops: bufio.NewWriterSize(ops, 1<<20)}
	g.batch = db.NewIndexedBatch()
	cb := event.Callback{Type: "http", URL: "http://127.0.0.1:9/cb", Method: "POST"}
	for _, app := range []string{"orders", "billing", "reports", "mail"} {
		g.add(event.AppRegistered{AppID: app, Partitions: 4, Active: true})
	}
	apps := []string{"orders", "billing", "reports"}
	for i := 0; g.seq < uint64(n); i++ {
		app := apps[i%len(apps)]
		id := fmt.Sprintf("s-%08d", i)
		at := g.now/1e9 + 60 + int64(i%3600)
		part := i % 4
		g.add(event.ScheduleCreated{ScheduleID: id, AppID: app, Partition: part, Payload: `{"order":` + fmt.Sprint(i) + `}`,
			ScheduleTime: at, Callback: cb})
		switch {
		case i%10 == 9: // deleted before it fires
			g.add(event.ScheduleDeleted{ScheduleID: id, AppID: app})
		case i%10 < 7: // fires; one in seven fails
			g.add(event.RunFired{ScheduleID: id, RunID: id, AppID: app, Partition: part, ScheduledTime: at})
			status, code := event.StatusSuccess, 200
			if i%7 == 0 {
				status, code = event.StatusFailure, 503
			}
			g.add(event.RunCompleted{ScheduleID: id, RunID: id, AppID: app, Partition: part, ScheduledTime: at,
				Status: status, HTTPStatus: code, Attempts: 1, StartedAt: at * 1000, FinishedAt: at*1000 + 12})
		}
		if i%1000 == 0 { // a cron per thousand schedules, firing a few times
			cron := fmt.Sprintf("c-%08d", i)
			first := g.now/1e9 + 60
			g.add(event.ScheduleCreated{ScheduleID: cron, AppID: "mail", Partition: i % 4, CronExpression: "* * * * *",
				NextRunTime: first, Callback: cb})
			for k := int64(0); k < 5; k++ {
				t := first + 60*k
				run := event.CronRunID(cron, t)
				g.add(event.RunFired{ScheduleID: cron, RunID: run, AppID: "mail", Partition: i % 4, ScheduledTime: t, NextRunTime: t + 60})
				g.add(event.RunCompleted{ScheduleID: cron, RunID: run, AppID: "mail", Partition: i % 4, ScheduledTime: t,
					Status: event.StatusSuccess, HTTPStatus: 200, Attempts: 1})
			}
		}
		if i%20000 == 19999 {
			g.add(event.BulkAction{AppID: app, Action: event.ActionReconcile, Status: event.StatusFailure,
				StartTime: at - 30, EndTime: at})
		}
		if g.err != nil {
			return 0, g.err
		}
	}
	if err := g.flush(true); err != nil {
		return 0, err
	}
	if err := g.ops.Flush(); err != nil {
		return 0, fmt.Errorf("projection writes file: %w", err)
	}
	return int(g.seq), ops.Close()
}

// opsPath is where generate records the projection writes of the log in
// dir (beside it, so the data dir's size is the log's alone).
func opsPath(dir string) string { return filepath.Clean(dir) + ".ops" }

type generator struct {
	db      *pebble.DB
	ops     *bufio.Writer // records the projection writes, for the write ceiling
	batch   *pebble.Batch
	cache   *projections.RecordCache
	pending int
	seq     uint64
	now     int64
	err     error
}

func (g *generator) add(p event.Payload) {
	if g.err != nil {
		return
	}
	g.now += 1e6
	ev, err := event.New(p, g.now, "bench")
	if err != nil {
		g.err = err
		return
	}
	ev.Seq, ev.Term, ev.Index = g.seq+1, 1, g.seq+1
	b := &opRecorder{Batch: g.batch, w: g.ops}
	if _, err := projections.Record(projections.NewCachingBatch(b, g.cache), ev, nil); err != nil {
		g.err = fmt.Errorf("event %d (%s): %w", ev.Seq, ev.Type, err)
		return
	}
	g.seq++
	if g.pending++; g.pending >= 512 {
		g.err = g.flush(false)
	}
	if g.seq%100_000 == 0 {
		fmt.Fprintf(os.Stderr, "generating: %d events\n", g.seq)
	}
}

func (g *generator) flush(final bool) error {
	opts := pebble.NoSync
	if final {
		opts = pebble.Sync
	}
	if err := g.batch.Commit(opts); err != nil {
		return err
	}
	g.batch, g.pending = g.db.NewIndexedBatch(), 0
	return nil
}

// scanCeiling reads and decodes every event of the log: no replay can be
// faster than reading its input.
func scanCeiling(dir string) (float64, error) {
	db, err := raftfsm.OpenState(dir, true, storeLogger)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	start := time.Now()
	count := 0
	err = eventlog.Scan(db, 0, 0, func(ev event.Event) error {
		if _, err := ev.Payload(); err != nil {
			return err
		}
		count++
		return nil
	})
	return float64(count) / time.Since(start).Seconds(), err
}

func ensureBinary(bin, tmp string) (string, error) {
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	path := filepath.Join(tmp, "chronicle")
	fmt.Fprintf(os.Stderr, "%s not found; building ./cmd/chronicle\n", bin)
	var stderr bytes.Buffer
	cmd := exec.Command("go", "build", "-o", path, "./cmd/chronicle")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build chronicle: %w: %s", err, stderr.String())
	}
	return path, nil
}

func dirSize(dir string) int64 {
	var total int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return total
}
