package projections

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/cockroachdb/pebble/v2"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.expected.json from the current apply rules")

// goldenState is what a user would read after the golden log is applied:
// every app, every schedule the log ever created (or its absence), a
// cron's recorded runs, and each schedule's history by event type.
type goldenState struct {
	Apps      []App                   `json:"apps"`
	Schedules map[string]*Schedule    `json:"schedules"` // nil: removed by retention
	CronRuns  map[string][]Schedule   `json:"cronRuns"`
	History   map[string][]event.Type `json:"history"`
	Pending   map[string][]PendingRun `json:"pending"`
	Tokens    []Token                 `json:"tokens,omitempty"`
}

// The golden logs and what each must hold: every event type of its range.
const (
	goldenV1Expected        = "golden-v1.expected.json"
	goldenLifecycle         = "golden-lifecycle.hex"
	goldenLifecycleExpected = "golden-lifecycle.expected.json"
)

func hexLine(line []byte) ([]byte, error) { return hex.DecodeString(string(line)) }

// TestGoldenLogReplays applies a log written by a real node with schema
// version 1 (every event type; see testdata/README.md). The file is never
// regenerated: a change that cannot decode, re-encode or apply it, or that
// changes what it means, fails here. Only the expected state may be
// rewritten (-update), and only for a deliberate change of a read model.
func TestGoldenLogReplays(t *testing.T) {
	stored := readGolden(t, "golden-v1.jsonl", func(line []byte) ([]byte, error) { return line, nil })
	replayGolden(t, stored, goldenV1Expected, event.TypeAppRegistered, event.TypeEventsCompacted, func(ev event.Event, p event.Payload) {
		if data, _ := json.Marshal(p); !bytes.Equal(data, ev.Data) {
			t.Fatalf("payload of event %d changed shape:\n got %s\nwant %s", ev.Seq, data, ev.Data)
		}
	})
}

// TestGoldenBinaryLogReplays applies the same log in schema version 2 (the
// binary form, one hex-encoded stored event per line, converted from the
// version 1 log by the first build that wrote version 2). It must mean
// exactly what the JSON log means: the same expected state.
func TestGoldenBinaryLogReplays(t *testing.T) {
	stored := readGolden(t, "golden-v2.hex", hexLine)
	v1 := readGolden(t, "golden-v1.jsonl", func(line []byte) ([]byte, error) { return line, nil })
	if len(stored) != len(v1) {
		t.Fatalf("%d events in the binary log, %d in the JSON one", len(stored), len(v1))
	}
	i := 0
	replayGolden(t, stored, goldenV1Expected, event.TypeAppRegistered, event.TypeEventsCompacted, func(ev event.Event, p event.Payload) {
		if ev.V != 2 {
			t.Fatalf("event %d has schema version %d", ev.Seq, ev.V)
		}
		old, err := event.Decode(v1[i])
		if err != nil {
			t.Fatal(err)
		}
		i++
		oldP, err := old.Payload()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p, oldP) || ev.Seq != old.Seq || ev.Time != old.Time || ev.Node != old.Node ||
			ev.Term != old.Term || ev.Index != old.Index {
			t.Fatalf("event %d differs from its JSON form:\n got %+v %+v\nwant %+v %+v", ev.Seq, ev, p, old, oldP)
		}
	})
}

// readGolden returns the stored events of a testdata file, one per line.
func readGolden(t *testing.T, name string, decode func([]byte) ([]byte, error)) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		b, err := decode(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, append([]byte(nil), b...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGoldenLifecycleLogReplays applies a log a real node wrote with the
// event types of the schedule lifecycle and of access control (11-19: a
// cron updated, paused, resumed, triggered, expired at its end time and
// stopped by its receiver; one-time schedules created paused; CronHubot
// jobs; tokens issued and revoked; a secret rotated). Like the version 1
// log it is never regenerated, and must decode, re-encode byte for byte
// and apply to the expected read models.
func TestGoldenLifecycleLogReplays(t *testing.T) {
	stored := readGolden(t, goldenLifecycle, hexLine)
	replayGolden(t, stored, goldenLifecycleExpected, event.TypeScheduleClosed, event.TypeScheduleStoppedByCallback,
		func(event.Event, event.Payload) {})
}

// TestRebuildOfTheGoldenLogMatchesApplyingItEventByEvent rebuilds each
// golden log (every event type, cron deletions and bulk actions among
// them) the way `chronicle replay` does, in batches of one event up to the
// whole log, and with record caches down to a single record, which forget
// records within an event: every rebuilt projection must equal those of
// the log applied one event per indexed batch.
func TestRebuildOfTheGoldenLogMatchesApplyingItEventByEvent(t *testing.T) {
	for _, name := range []string{"golden-v2.hex", goldenLifecycle} {
		t.Run(name, func(t *testing.T) { rebuildGolden(t, readGolden(t, name, hexLine)) })
	}
}

func rebuildGolden(t *testing.T, stored [][]byte) {
	w, _ := applyGolden(t, stored, 0, 0, func(event.Event, event.Payload) {})
	live, err := Checksums(w.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 7, 1 << 20} {
		for _, cacheRecords := range []int{1, 2, 4, rebuildCacheRecords} {
			dst := newWorld(t)
			if err := rebuild(w.db, dst.db, batch, cacheRecords, nil); err != nil {
				t.Fatalf("batch %d, cache %d: %v", batch, cacheRecords, err)
			}
			rebuilt, err := Checksums(dst.db)
			if err != nil {
				t.Fatal(err)
			}
			if d := DiffChecksums(live, rebuilt); len(d) > 0 {
				t.Errorf("batch %d, cache %d: rebuilt projections differ: %v", batch, cacheRecords, d)
			}
		}
	}
}

// replayGolden decodes, re-encodes and applies each stored event (check
// sees each with its payload), requires every type from lo to hi among
// them, then compares the read models with testdata/expected.
func replayGolden(t *testing.T, stored [][]byte, expected string, lo, hi event.Type, check func(event.Event, event.Payload)) {
	t.Helper()
	w, created := applyGolden(t, stored, lo, hi, check)
	compareGolden(t, w, created, expected)
}

// applyGolden decodes, re-encodes and applies each stored event, one
// indexed batch per event, and returns the world and the schedules the log
// created.
func applyGolden(t *testing.T, stored [][]byte, lo, hi event.Type, check func(event.Event, event.Payload)) (*world, []string) {
	t.Helper()
	w := newWorld(t)
	created := []string{}
	seen := map[event.Type]bool{}
	for _, line := range stored {
		ev, err := event.Decode(line)
		if err != nil {
			t.Fatalf("decode %q: %v", line, err)
		}
		if again, err := event.Encode(ev); err != nil || !bytes.Equal(again, line) {
			t.Fatalf("event %d does not re-encode to its stored bytes:\n got %q\nwant %q", ev.Seq, again, line)
		}
		p, err := ev.Payload()
		if err != nil {
			t.Fatalf("payload of event %d: %v", ev.Seq, err)
		}
		check(ev, p)
		if c, ok := p.(*event.ScheduleCreated); ok {
			created = append(created, c.ScheduleID)
		}
		seen[ev.Type] = true
		b := w.db.NewIndexedBatch()
		if _, err := Record(b, ev, nil); err != nil {
			t.Fatalf("apply event %d (%s): %v", ev.Seq, ev.Type, err)
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	for typ := lo; typ <= hi && lo != 0; typ++ {
		if !seen[typ] {
			t.Errorf("the golden log has no %s event", typ)
		}
	}
	return w, created
}

// compareGolden compares the read models of w with testdata/expected.
func compareGolden(t *testing.T, w *world, created []string, expected string) {
	t.Helper()

	got := goldenState{Schedules: map[string]*Schedule{}, CronRuns: map[string][]Schedule{},
		History: map[string][]event.Type{}, Pending: map[string][]PendingRun{}}
	q := w.q()
	var err error
	if got.Apps, err = q.Apps(); err != nil {
		t.Fatal(err)
	}
	if got.Tokens, err = q.Tokens(); err != nil {
		t.Fatal(err)
	}
	for _, id := range created {
		s, ok, err := q.Schedule(id)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			got.Schedules[id] = nil
			continue
		}
		got.Schedules[id] = &s
		if s.IsCron() {
			page, err := q.PastRuns(s, 100, "")
			if err != nil {
				t.Fatal(err)
			}
			got.CronRuns[id] = page.Items
		}
		h, err := q.ScheduleEvents(id, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		got.History[id] = types(h.Events)
		pending, err := Reader{R: w.db}.PendingOf(id)
		if err != nil {
			t.Fatal(err)
		}
		got.Pending[id] = pending
	}
	gotJSON, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	expectedPath := filepath.Join("testdata", expected)
	if *updateGolden {
		if err := os.WriteFile(expectedPath, append(gotJSON, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(expectedPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(want), gotJSON) {
		t.Fatalf("the golden log now means something else; state after replay:\n%s\n\nexpected (%s):\n%s",
			gotJSON, expectedPath, want)
	}
}
