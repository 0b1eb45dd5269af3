// Package raftfsm replicates Chronicle's commands with hashicorp/raft and
// applies them to the state store: for every Raft batch, one Pebble batch
// holds the events appended to the log, the projection updates they cause
// and the last applied Raft index. Apply is deterministic: it reads only
// the entry and the current state, so every node and every replay of the
// log reaches the same bytes.
package raftfsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// Result is the outcome of one proposed event: its sequence number in the
// log if accepted, or the rejection (a projections error) if not.
type Result struct {
	Seq      uint64
	Time     int64 // the event's time as stamped (unix ns): what apply recorded
	Affected int   // records touched by a bulk action
	Err      error
}

// Observer is told, after each batch commits, what changed. It runs on the
// apply goroutine and must not block.
type Observer func(fx projections.Effects)

var appliedKey = []byte("m/applied")

// FSM is the replicated state machine over the state Pebble DB. The
// fields below are only touched by raft's FSM goroutine (Apply, Snapshot
// and Restore never run concurrently), except observer, guarded by mu.
type FSM struct {
	db      *pebble.DB
	logger  *slog.Logger
	applied uint64
	lastSeq uint64
	// records caches the read models' records for apply; the FSM is the
	// only writer of the state DB, and Restore (which replaces it) starts
	// a new cache.
	records *projections.RecordCache

	// committed mirrors applied for other goroutines: raft's own
	// AppliedIndex moves when entries are handed to the FSM, before their
	// batch is committed here, so it cannot tell a reader what it can see.
	committed atomic.Uint64
	// seqNow mirrors lastSeq for other goroutines.
	seqNow atomic.Uint64
	// announcements counts the committed batches that held a
	// NodeAnnounced event, so the schema gate knows when to look again.
	announcements atomic.Uint64
	// onApply, if set, is told of every batch committed: entries, events
	// and how long applying them took (metrics).
	onApply func(entries, events int, took time.Duration)

	mu       sync.RWMutex
	observer Observer
	// moved is closed (and replaced) whenever committed or seqNow moves,
	// waking those waiting for an index or for new events.
	moved chan struct{}
}

var _ raft.BatchingFSM = (*FSM)(nil)

// NewFSM returns the state machine over the state store db (Open makes
// the node's own; tests drive one directly).
func NewFSM(db *pebble.DB, logger *slog.Logger) (*FSM, error) {
	f := &FSM{db: db, logger: logger, moved: make(chan struct{})}
	if err := f.loadMeta(); err != nil {
		return nil, err
	}
	return f, nil
}

// fsmCacheRecords bounds the records apply keeps in memory: two
// generations of this many, about a kilobyte each with the decoded value.
// It holds the hot records (apps, schedules just created, runs in flight);
// older ones come from the block cache; a larger bound costs heap for
// little gain (bench/RESULTS.md, "Measurements behind the code").
const fsmCacheRecords = 20_000

func (f *FSM) loadMeta() error {
	f.records = projections.NewRecordCache(fsmCacheRecords)
	if err := f.records.LearnScheduleKeys(f.db); err != nil {
		return err
	}
	f.applied = 0
	v, closer, err := f.db.Get(appliedKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return fmt.Errorf("read applied index: %w", err)
	default:
		if len(v) == 8 {
			f.applied = binary.BigEndian.Uint64(v)
		}
		closer.Close()
	}
	seq, err := eventlog.LastSeq(f.db)
	if err != nil {
		return err
	}
	f.lastSeq = seq
	f.publish(f.applied, seq)
	return nil
}

// publish makes the applied index and the last seq visible to other
// goroutines and wakes those waiting for either.
func (f *FSM) publish(applied, seq uint64) {
	f.committed.Store(applied)
	f.seqNow.Store(seq)
	f.mu.Lock()
	close(f.moved)
	f.moved = make(chan struct{})
	f.mu.Unlock()
}

// movedAfter returns a channel closed once ready() holds (already closed
// if it does now).
func (f *FSM) movedAfter(ready func() bool) <-chan struct{} {
	f.mu.RLock()
	ch := f.moved
	f.mu.RUnlock()
	if ready() {
		done := make(chan struct{})
		close(done)
		return done
	}
	return ch
}

// LastSeq is the seq of the newest event committed to the state DB.
func (f *FSM) LastSeq() uint64 { return f.seqNow.Load() }

// Announcements counts the applied batches that announced a member (safe
// from any goroutine).
func (f *FSM) Announcements() uint64 { return f.announcements.Load() }

// SetObserver installs the observer of applied effects.
func (f *FSM) SetObserver(o Observer) {
	f.mu.Lock()
	f.observer = o
	f.mu.Unlock()
}

// AppliedIndex is the last Raft index whose effects are committed to the
// state DB (safe from any goroutine).
func (f *FSM) AppliedIndex() uint64 { return f.committed.Load() }

// Apply applies a single entry; raft uses ApplyBatch, this satisfies FSM.
func (f *FSM) Apply(l *raft.Log) interface{} { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies a Raft batch as one Pebble batch. The write is not
// synced: the Raft log is the durable record, and entries after the
// stored applied index are re-applied on start.
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	began := time.Now()
	out := make([]interface{}, len(logs))
	b := f.db.NewIndexedBatch()
	defer b.Close()
	var fx projections.Effects
	last := f.applied
	seq := f.lastSeq
	announced := false
	for i, l := range logs {
		if l.Index <= f.applied {
			continue // already in the state DB: a replay after restart
		}
		last = l.Index
		if l.Type != raft.LogCommand {
			continue
		}
		cmd, err := decodeCommand(l.Data)
		if err != nil {
			// A committed entry we cannot read means this build cannot
			// reproduce the state: stopping is the only safe answer.
			panic(fmt.Sprintf("raftfsm: entry %d: %v", l.Index, err))
		}
		results := make([]Result, len(cmd.Events))
		for j, ev := range cmd.Events {
			// The schema version stays the proposer's: it names the form of
			// the payload bytes (an entry written by an older build carries
			// JSON, version 1), and the stored event keeps that form.
			ev.Seq, ev.Term, ev.Index = seq+1, l.Term, l.Index
			affected, err := projections.Record(projections.NewCachingBatch(b, f.records), ev, &fx)
			if err != nil {
				if !projections.IsRejection(err) {
					panic(fmt.Sprintf("raftfsm: entry %d event %d: %v", l.Index, j, err))
				}
				results[j].Err = err
				continue
			}
			seq++
			results[j] = Result{Seq: ev.Seq, Time: ev.Time, Affected: affected}
			announced = announced || ev.Type == event.TypeNodeAnnounced
		}
		out[i] = results
	}
	if last == f.applied {
		return out
	}
	var idx [8]byte
	binary.BigEndian.PutUint64(idx[:], last)
	if err := b.Set(appliedKey, idx[:], nil); err != nil {
		panic(fmt.Sprintf("raftfsm: set applied index: %v", err))
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		panic(fmt.Sprintf("raftfsm: commit batch ending at %d: %v", last, err))
	}
	if f.onApply != nil {
		f.onApply(len(logs), int(seq-f.lastSeq), time.Since(began))
	}
	f.applied, f.lastSeq = last, seq
	if announced {
		f.announcements.Add(1)
	}
	f.publish(last, seq)
	f.mu.RLock()
	obs := f.observer
	f.mu.RUnlock()
	if obs != nil {
		obs(fx)
	}
	return out
}

// Snapshot pins a Pebble snapshot at the applied index and starts flushing
// the memtables, which makes the state durable up to that index (the
// store has no WAL: see Open). Persist streams the snapshot once the
// flush is done, and raft truncates the log only after Persist, so apply
// does not wait for the flush.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	flushed, err := f.db.AsyncFlush()
	if err != nil {
		return nil, fmt.Errorf("flush state before snapshot: %w", err)
	}
	return &fsmSnapshot{snap: f.db.NewSnapshot(), index: f.applied, flushed: flushed}, nil
}

// Snapshot stream format: magic, then records of uvarint key length, key,
// uvarint value length, value; a zero-length key ends the stream.
const snapshotMagic = "chronicle-fsm-1\n"

type fsmSnapshot struct {
	snap    *pebble.Snapshot
	index   uint64
	flushed <-chan struct{} // closed once the state up to index is on disk
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if s.flushed != nil {
		<-s.flushed
	}
	if err := s.write(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot at %d: %w", s.index, err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.WriteString(snapshotMagic); err != nil {
		return err
	}
	it, err := s.snap.NewIter(nil)
	if err != nil {
		return err
	}
	defer it.Close()
	var lenBuf [binary.MaxVarintLen64]byte
	for ok := it.First(); ok; ok = it.Next() {
		for _, part := range [][]byte{it.Key(), it.Value()} {
			n := binary.PutUvarint(lenBuf[:], uint64(len(part)))
			if _, err := bw.Write(lenBuf[:n]); err != nil {
				return err
			}
			if _, err := bw.Write(part); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if err := bw.WriteByte(0); err != nil {
		return err
	}
	return bw.Flush()
}

func (s *fsmSnapshot) Release() { s.snap.Close() }

// Restore replaces the whole state with a snapshot. The applied index is
// zeroed first, so a crash half-way leaves a state that start-up detects
// as behind the snapshot and restores again.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1<<20)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		return fmt.Errorf("restore: not a chronicle snapshot (%v)", err)
	}
	wipe := f.db.NewBatch()
	if err := wipe.DeleteRange([]byte{0}, []byte{0xff, 0xff, 0xff, 0xff}, nil); err != nil {
		return fmt.Errorf("restore: clear state: %w", err)
	}
	if err := wipe.Delete(appliedKey, nil); err != nil {
		return err
	}
	if err := wipe.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("restore: clear state: %w", err)
	}
	b := f.db.NewBatch()
	for {
		k, err := readPart(br)
		if err != nil {
			return fmt.Errorf("restore: read key: %w", err)
		}
		if len(k) == 0 {
			break
		}
		v, err := readPart(br)
		if err != nil {
			return fmt.Errorf("restore: read value of %q: %w", k, err)
		}
		if err := b.Set(k, v, nil); err != nil {
			return err
		}
		if b.Len() > 4<<20 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return fmt.Errorf("restore: write: %w", err)
			}
			b = f.db.NewBatch()
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("restore: write: %w", err)
	}
	// Memtables flush in order, so a crash before this leaves either the
	// old state or one without the applied index: either way start-up
	// finds it behind the snapshot and restores again.
	if err := f.db.Flush(); err != nil {
		return fmt.Errorf("restore: flush: %w", err)
	}
	if err := f.loadMeta(); err != nil {
		return err
	}
	f.announcements.Add(1) // the snapshot's members may differ
	f.mu.RLock()
	obs := f.observer
	f.mu.RUnlock()
	if obs != nil {
		obs(projections.Effects{Restored: true})
	}
	return nil
}

func readPart(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > 64<<20 {
		return nil, fmt.Errorf("record of %d bytes is too large", n)
	}
	buf := make([]byte, n)
	_, err = io.ReadFull(r, buf)
	return buf, err
}
