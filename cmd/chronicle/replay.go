package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/internal/cputime"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
	"github.com/cockroachdb/pebble/v2"
)

// errProjectionsDiffer makes `chronicle replay` exit 1: the stored read
// models are not what the event log implies.
var errProjectionsDiffer = errors.New("projections differ from a replay of the event log")

// replayReport is the --json output of `chronicle replay`.
type replayReport struct {
	DataDir string  `json:"dataDir"`
	Into    string  `json:"into,omitempty"`
	Events  int     `json:"events"`
	LastSeq uint64  `json:"lastSeq"`
	Seconds float64 `json:"seconds"`
	// CPUSeconds is the process's CPU time (user and system, compactions
	// included) over the rebuild: with Seconds, how many cores it kept busy.
	CPUSeconds   float64                    `json:"cpuSeconds,omitempty"`
	EventsPerSec float64                    `json:"eventsPerSec"`
	Identical    bool                       `json:"identical"`
	Projections  map[string]projectionCheck `json:"projections"`
}

type projectionCheck struct {
	Live    string `json:"live"`
	Rebuilt string `json:"rebuilt"`
	Equal   bool   `json:"equal"`
}

// replay rebuilds every projection of a stopped node's data dir from its
// event log and compares them with the stored ones, projection by
// projection. With --into the rebuilt store (event log, metadata and
// fresh projections) is kept there, ready to stand in for DIR/state.
func replay(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./data", "data dir of a stopped node")
	into := fs.String("into", "", "keep the rebuilt state store in this new directory")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	batch := fs.Int("batch", 4096, "events per rebuild commit")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the rebuild to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := raftfsm.OpenState(*dataDir, true, logger)
	if err != nil {
		return err
	}
	defer src.Close()

	dstDir := *into
	if dstDir == "" {
		if dstDir, err = os.MkdirTemp("", "chronicle-replay-"); err != nil {
			return fmt.Errorf("temp dir for the rebuild: %w", err)
		}
		defer os.RemoveAll(dstDir)
	} else if entries, err := os.ReadDir(dstDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("--into %s: directory is not empty", dstDir)
	}
	dst, err := raftfsm.OpenWithCache(filepath.Join(dstDir, "state"), raftfsm.RebuildOptions(logger), raftfsm.DefaultStateCacheBytes)
	if err != nil {
		return fmt.Errorf("open rebuild store in %s: %w", dstDir, err)
	}
	defer dst.Close()

	total, err := eventlog.LastSeq(src)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	prog := newProgress(stderr, "replaying", total)
	cpuStart := cputime.Process()
	start := time.Now()
	events, last := 0, uint64(0)
	err = projections.Rebuild(src, dst, *batch, func(seq uint64, n int) {
		events, last = n, seq
		prog.update(seq, n)
	})
	elapsed := time.Since(start)
	cpu := cputime.Process() - cpuStart
	prog.done()
	if err != nil {
		return err
	}
	if *into != "" {
		if err := copyNonProjections(src, dst); err != nil {
			return err
		}
		if err := dst.Flush(); err != nil {
			return fmt.Errorf("flush rebuilt store: %w", err)
		}
	}
	report, err := compareProjections(src, dst)
	if err != nil {
		return err
	}
	report.DataDir, report.Into = *dataDir, *into
	report.Events, report.LastSeq, report.Seconds = events, last, elapsed.Seconds()
	if cpuStart > 0 {
		report.CPUSeconds = cpu.Seconds()
	}
	if elapsed > 0 {
		report.EventsPerSec = float64(events) / elapsed.Seconds()
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else {
		printReplay(stdout, report)
	}
	if !report.Identical {
		return errProjectionsDiffer
	}
	return nil
}

func compareProjections(live, rebuilt pebble.Reader) (replayReport, error) {
	r := replayReport{Identical: true, Projections: map[string]projectionCheck{}}
	a, err := projections.Checksums(live)
	if err != nil {
		return r, fmt.Errorf("checksum stored projections: %w", err)
	}
	b, err := projections.Checksums(rebuilt)
	if err != nil {
		return r, fmt.Errorf("checksum rebuilt projections: %w", err)
	}
	for name, sum := range a {
		c := projectionCheck{Live: sum, Rebuilt: b[name], Equal: sum == b[name]}
		r.Projections[name] = c
		r.Identical = r.Identical && c.Equal
	}
	return r, nil
}

func printReplay(w io.Writer, r replayReport) {
	fmt.Fprintf(w, "replayed %d events (last seq %d) in %s: %.0f events/s\n\n",
		r.Events, r.LastSeq, time.Duration(r.Seconds*float64(time.Second)).Round(time.Millisecond), r.EventsPerSec)
	names := make([]string, 0, len(r.Projections))
	for n := range r.Projections {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "%-8s %-30s %-30s %s\n", "PROJ", "STORED", "REBUILT", "")
	var bad []string
	for _, n := range names {
		c := r.Projections[n]
		verdict := "identical"
		if !c.Equal {
			verdict = "DIFFERS"
			bad = append(bad, n)
		}
		fmt.Fprintf(w, "%-8s %-30s %-30s %s\n", n, c.Live, c.Rebuilt, verdict)
	}
	fmt.Fprintln(w)
	if len(bad) == 0 {
		fmt.Fprintf(w, "all %d projections are identical to a replay of the event log\n", len(names))
	} else {
		fmt.Fprintf(w, "%d of %d projections differ from a replay of the event log: %s\n", len(bad), len(names), strings.Join(bad, ", "))
	}
	if r.Into != "" {
		fmt.Fprintf(w, "rebuilt state store kept in %s\n", filepath.Join(r.Into, "state"))
	}
}

// copyNonProjections copies the event log and metadata (everything that is
// not a projection) so that the rebuilt store is complete.
func copyNonProjections(src pebble.Reader, dst *pebble.DB) error {
	it, err := src.NewIter(nil)
	if err != nil {
		return fmt.Errorf("copy event log: %w", err)
	}
	defer it.Close()
	b := dst.NewBatch()
	for ok := it.First(); ok; ok = it.Next() {
		if strings.HasPrefix(string(it.Key()), projections.Prefix) {
			continue
		}
		if err := b.Set(it.Key(), it.Value(), nil); err != nil {
			return err
		}
		if b.Len() > 4<<20 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return fmt.Errorf("copy event log: %w", err)
			}
			b = dst.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("copy event log: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("copy event log: %w", err)
	}
	return nil
}

// progress draws "replaying [###...] 41% seq 123456/300000 ... events/s"
// on a terminal (redrawn in place) or a line every few seconds otherwise:
// long CLI work (replay, audit of a large app) shows it is moving.
type progress struct {
	w     io.Writer
	verb  string // what is being done: "replaying"
	total uint64 // the last seq of the log: where seq will end
	tty   bool
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, verb string, total uint64) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	now := time.Now()
	return &progress{w: w, verb: verb, total: total, tty: tty, start: now, last: now}
}

func (p *progress) update(seq uint64, n int) {
	every := 2 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	p.draw(seq, n)
}

func (p *progress) draw(seq uint64, n int) {
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(seq) / float64(p.total)
	}
	const width = 30
	bar := strings.Repeat("#", int(pct/100*width)) + strings.Repeat(".", width-int(pct/100*width))
	rate := float64(n) / time.Since(p.start).Seconds()
	line := fmt.Sprintf("%s [%s] %3.0f%%  seq %d/%d  %d events  %.0f events/s", p.verb, bar, pct, seq, p.total, n, rate)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.drawn = true
}

func (p *progress) done() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}
