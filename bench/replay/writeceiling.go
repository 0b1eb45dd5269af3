package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/internal/cputime"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
	"github.com/cockroachdb/pebble/v2"
)

// opRecorder passes a generation batch through and records every
// projection write (set or delete) in order, so that the write ceiling can
// replay exactly the writes a rebuild makes, without the apply rules.
// Record: op byte ('s' or 'd'), uvarint key length, key, and for a set
// uvarint value length and value.
// The writer's error is sticky: whoever flushes it learns of any.
type opRecorder struct {
	*pebble.Batch
	w *bufio.Writer
}

var _ projections.Batch = (*opRecorder)(nil)

func (r *opRecorder) Set(key, value []byte, o *pebble.WriteOptions) error {
	r.record('s', key, value)
	return r.Batch.Set(key, value, o)
}

func (r *opRecorder) Delete(key []byte, o *pebble.WriteOptions) error {
	r.record('d', key, nil)
	return r.Batch.Delete(key, o)
}

func (r *opRecorder) record(op byte, key, value []byte) {
	if !strings.HasPrefix(string(key), projections.Prefix) {
		return
	}
	var n [binary.MaxVarintLen64]byte
	r.w.WriteByte(op)
	r.w.Write(n[:binary.PutUvarint(n[:], uint64(len(key)))])
	r.w.Write(key)
	if op == 's' {
		r.w.Write(n[:binary.PutUvarint(n[:], uint64(len(value)))])
		r.w.Write(value)
	}
}

// writeCeiling writes the recorded projection writes of a log of `events`
// events into a fresh store opened as `chronicle replay` opens its rebuild
// store, in plain unsynced batches of about a rebuild batch's size, each
// committed on another goroutine while the next one fills, as Rebuild
// does: events/s of a rebuild whose apply rules and log decoding cost
// nothing. A replay cannot beat it without writing less per event.
// It also returns the CPU time (user and system, of this whole process,
// which does nothing else meanwhile) it took per event.
func writeCeiling(opsPath, dir string, events int) (perSec float64, cpuPerEvent time.Duration, err error) {
	f, err := os.Open(opsPath)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	db, err := raftfsm.OpenWithCache(dir, raftfsm.RebuildOptions(slog.New(slog.NewTextHandler(io.Discard, nil))), raftfsm.DefaultStateCacheBytes)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	in := bufio.NewReaderSize(f, 1<<20)
	// Rebuild commits every 4096 events; the log averages about 7 writes
	// per event.
	const opsPerBatch = 4096 * 7
	// Two batches alternate, keeping their buffers, as Rebuild's do: one
	// fills while the other commits.
	newBatch := func() *pebble.Batch { return db.NewBatch(pebble.WithMaxRetainedSizeBytes(64 << 20)) }
	b, spare := newBatch(), newBatch()
	done := make(chan error, 1)
	inflight := false
	wait := func() error {
		if !inflight {
			return nil
		}
		inflight = false
		err := <-done
		spare.Reset()
		return err
	}
	defer func() { _ = wait(); b.Close(); spare.Close() }()
	var key, value []byte
	cpuStart := cputime.Process()
	start := time.Now()
	for ops := 1; ; ops++ {
		op, err := in.ReadByte()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		if key, err = readField(in, key); err != nil {
			return 0, 0, err
		}
		if op == 's' {
			if value, err = readField(in, value); err != nil {
				return 0, 0, err
			}
			err = b.Set(key, value, nil)
		} else {
			err = b.Delete(key, nil)
		}
		if err != nil {
			return 0, 0, err
		}
		if ops%opsPerBatch == 0 {
			if err := wait(); err != nil {
				return 0, 0, err
			}
			full := b
			go func() { done <- full.Commit(pebble.NoSync) }()
			inflight, b, spare = true, spare, full
		}
	}
	if err := wait(); err != nil {
		return 0, 0, err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, 0, err
	}
	elapsed := time.Since(start)
	return float64(events) / elapsed.Seconds(), (cputime.Process() - cpuStart) / time.Duration(events), nil
}

// readField reads a length-prefixed field into buf (a batch copies what
// it is given, so one buffer serves every key).
func readField(in *bufio.Reader, buf []byte) ([]byte, error) {
	n, err := binary.ReadUvarint(in)
	if err != nil {
		return nil, fmt.Errorf("ops file: %w", err)
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(in, buf); err != nil {
		return nil, fmt.Errorf("ops file: %w", err)
	}
	return buf, nil
}
