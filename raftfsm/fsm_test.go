package raftfsm

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm/raftstore"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

func openFSM(t *testing.T) *FSM {
	t.Helper()
	db, err := pebble.Open(t.TempDir(), &pebble.Options{Logger: raftstore.PebbleLogger(slog.Default())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f, err := NewFSM(db, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func entry(t *testing.T, index uint64, ps ...event.Payload) *raft.Log {
	t.Helper()
	data, err := encodeCommand(stamped(t, int64(index)*1e9, "n1", ps...), true)
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

// stamped makes events of ps as node proposes them at unix ns at.
func stamped(t *testing.T, at int64, node string, ps ...event.Payload) []event.Event {
	t.Helper()
	var evs []event.Event
	for _, p := range ps {
		ev, err := event.New(p, at, node)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

var cb = event.Callback{Type: "http", URL: "http://127.0.0.1:1/", Method: "GET"}

func workload(t *testing.T) []*raft.Log {
	return []*raft.Log{
		entry(t, 1, event.AppRegistered{AppID: "a", Partitions: 2, Active: true}),
		entry(t, 2, event.ScheduleCreated{ScheduleID: "s1", AppID: "a", ScheduleTime: 50, Callback: cb},
			event.ScheduleCreated{ScheduleID: "s1", AppID: "a", ScheduleTime: 50, Callback: cb}, // rejected: exists
			event.ScheduleCreated{ScheduleID: "s2", AppID: "a", Partition: 1, ScheduleTime: 60, Callback: cb}),
		{Index: 3, Term: 1, Type: raft.LogNoop},
		entry(t, 4, event.RunFired{ScheduleID: "s1", RunID: "s1", AppID: "a", ScheduledTime: 50}),
		entry(t, 5, event.RunCompleted{ScheduleID: "s1", RunID: "s1", Status: event.StatusSuccess}),
	}
}

func TestApplyBatchResultsAndSequence(t *testing.T) {
	f := openFSM(t)
	out := f.ApplyBatch(workload(t))
	second := out[1].([]Result)
	if second[0].Err != nil || second[0].Seq != 2 {
		t.Fatalf("first create: %+v", second[0])
	}
	if !errors.Is(second[1].Err, projections.ErrScheduleExists) {
		t.Fatalf("duplicate create: %+v", second[1])
	}
	if second[2].Err != nil || second[2].Seq != 3 {
		t.Fatalf("a rejection must not use up a sequence number: %+v", second[2])
	}
	if f.AppliedIndex() != 5 {
		t.Fatalf("applied index %d, want 5", f.AppliedIndex())
	}
	var seqs []uint64
	_ = eventlog.Scan(f.db, 0, 0, func(ev event.Event) error {
		seqs = append(seqs, ev.Seq)
		if ev.Term != 1 || ev.Index == 0 {
			t.Errorf("event %d lacks raft term/index: %+v", ev.Seq, ev)
		}
		return nil
	})
	if len(seqs) != 5 || seqs[4] != 5 {
		t.Fatalf("log sequence %v, want 1..5", seqs)
	}
}

// Raft re-applies entries after a restart; the FSM must skip those whose
// effects it already stored.
func TestReapplyAfterRestartIsSkipped(t *testing.T) {
	f := openFSM(t)
	logs := workload(t)
	f.ApplyBatch(logs)
	before, _ := projections.Checksums(f.db)
	g, err := NewFSM(f.db, slog.Default()) // a restart over the same store
	if err != nil {
		t.Fatal(err)
	}
	g.ApplyBatch(logs)
	after, _ := projections.Checksums(g.db)
	if d := projections.DiffChecksums(before, after); len(d) > 0 {
		t.Fatalf("re-apply changed projections: %v", d)
	}
	if last, _ := eventlog.LastSeq(g.db); last != 5 {
		t.Fatalf("re-apply appended events: last seq %d", last)
	}
}

type bufSink struct {
	bytes.Buffer
	canceled bool
}

func (s *bufSink) ID() string    { return "test" }
func (s *bufSink) Cancel() error { s.canceled = true; return nil }
func (s *bufSink) Close() error  { return nil }

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	f := openFSM(t)
	f.ApplyBatch(workload(t))
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Writes after Snapshot() must not leak into the persisted stream.
	f.ApplyBatch([]*raft.Log{entry(t, 6, event.AppRegistered{AppID: "late", Partitions: 1})})
	var sink bufSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()

	g := openFSM(t)
	g.ApplyBatch([]*raft.Log{entry(t, 1, event.AppRegistered{AppID: "stale", Partitions: 1})})
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if g.AppliedIndex() != 5 || g.lastSeq != 5 {
		t.Fatalf("restored applied=%d seq=%d, want 5/5", g.AppliedIndex(), g.lastSeq)
	}
	q := projections.Reader{R: g.db}
	if _, ok, _ := q.App("stale"); ok {
		t.Fatal("restore kept state that was not in the snapshot")
	}
	if _, ok, _ := q.App("late"); ok {
		t.Fatal("snapshot contains a write made after Snapshot()")
	}
	if s, ok, _ := q.Schedule("s1"); !ok || s.Status != event.StatusSuccess {
		t.Fatalf("restored schedule: %+v ok=%v", s, ok)
	}
	// Restored state is a full replica: it applies the next entry.
	g.ApplyBatch([]*raft.Log{entry(t, 6, event.AppRegistered{AppID: "late", Partitions: 1})})
	a, _ := projections.Checksums(f.db)
	b, _ := projections.Checksums(g.db)
	if d := projections.DiffChecksums(a, b); len(d) > 0 {
		t.Fatalf("replica after restore differs: %v", d)
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader([]byte("garbage")))); err == nil {
		t.Fatal("restore accepted a stream that is not a snapshot")
	}
}

// An operator sees in the log when the state store stalls writes (and for
// how long), when the disk is slow and when a background job fails.
func TestStateStoreEventsAreLogged(t *testing.T) {
	var out bytes.Buffer
	events := StateOptions(slog.New(slog.NewTextHandler(&out, nil))).EventListener
	events.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "L0 file count limit exceeded"})
	time.Sleep(5 * time.Millisecond)
	events.WriteStallEnd()
	events.DiskSlow(pebble.DiskSlowInfo{Path: "state/000123.sst", OpType: vfs.OpTypeSync, Duration: 3 * time.Second})
	events.BackgroundError(errors.New("flush failed: no space left on device"))
	for _, want := range []string{
		`writes stalled (compactions are behind)" reason="L0 file count limit exceeded"`,
		`writes resumed" stalled=`,
		`slow disk operation" op=sync path=state/000123.sst took=3s`,
		`background error" err="flush failed: no space left on device"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out.String())
		}
	}
}

// An entry an older build proposed carries schema version 1 (JSON) events;
// a node re-applies such a tail after an upgrade. They apply like version 2
// events and are stored in the form they came in, so the log says what was
// proposed and replay reads both.
func TestVersion1EventsFromAnOlderBuildApply(t *testing.T) {
	f := openFSM(t)
	old := func(index uint64, p event.Payload) *raft.Log {
		ev, err := event.New(p, int64(index)*1e9, "old-node")
		if err != nil {
			t.Fatal(err)
		}
		if ev, err = ev.InJSON(); err != nil {
			t.Fatal(err)
		}
		data, err := encodeCommand([]event.Event{ev}, true)
		if err != nil {
			t.Fatal(err)
		}
		return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
	}
	f.ApplyBatch([]*raft.Log{
		old(1, event.AppRegistered{AppID: "a", Partitions: 2, Active: true}),
		old(2, event.ScheduleCreated{ScheduleID: "s1", AppID: "a", ScheduleTime: 50, Callback: cb}),
		entry(t, 3, event.RunFired{ScheduleID: "s1", RunID: "s1", AppID: "a", ScheduledTime: 50}),
	})
	var versions []int
	_ = eventlog.Scan(f.db, 0, 0, func(ev event.Event) error {
		versions = append(versions, ev.V)
		if _, err := ev.Payload(); err != nil {
			t.Errorf("event %d: %v", ev.Seq, err)
		}
		return nil
	})
	if len(versions) != 3 || versions[0] != 1 || versions[1] != 1 || versions[2] != 2 {
		t.Fatalf("stored versions %v, want [1 1 2]", versions)
	}
	s, ok, err := projections.Reader{R: f.db}.Schedule("s1")
	if err != nil || !ok || s.Status != event.StatusScheduled || s.FiredAt == 0 {
		t.Fatalf("schedule after mixed apply: %+v ok=%v err=%v", s, ok, err)
	}
}
