// Package eventlog stores Chronicle's append-only event log in Pebble: one
// key per event, ordered by its global sequence number. The log is the
// system of record; projections are derived from it and can be rebuilt
// from it at any time.
//
// Appends go into the caller's batch, so that an event and the projection
// updates it causes commit atomically (see raftfsm).
package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/cockroachdb/pebble/v2"
)

// Prefix is the key prefix of every event; nothing else lives under it.
const Prefix = "e/"

// Key is the Pebble key of the event with sequence number seq.
func Key(seq uint64) []byte {
	k := make([]byte, len(Prefix)+8)
	copy(k, Prefix)
	binary.BigEndian.PutUint64(k[len(Prefix):], seq)
	return k
}

// Writer is the part of a Pebble batch that appending needs.
type Writer interface {
	Set(key, value []byte, opts *pebble.WriteOptions) error
}

// Append writes ev at its sequence number. The caller assigns Seq (the next
// after LastSeq) and commits the batch.
func Append(w Writer, ev event.Event) error {
	if ev.Seq == 0 {
		return errors.New("append event: sequence number 0 is reserved")
	}
	b, err := event.Encode(ev)
	if err != nil {
		return err
	}
	if err := w.Set(Key(ev.Seq), b, nil); err != nil {
		return fmt.Errorf("append event %d: %w", ev.Seq, err)
	}
	return nil
}

// Deleter is the part of a Pebble batch that removing events needs.
type Deleter interface {
	Delete(key []byte, opts *pebble.WriteOptions) error
}

// Remove deletes the event at seq. Only retention removes events (the
// events of closed schedules it drops, applying EventsCompacted, which
// itself stays as the record that they existed); nothing rewrites one.
func Remove(w Deleter, seq uint64) error {
	if err := w.Delete(Key(seq), nil); err != nil {
		return fmt.Errorf("remove event %d: %w", seq, err)
	}
	return nil
}

// LastSeq returns the sequence number of the newest event, 0 if the log is
// empty.
func LastSeq(r pebble.Reader) (uint64, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: []byte(Prefix), UpperBound: prefixEnd()})
	if err != nil {
		return 0, fmt.Errorf("last event seq: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[len(Prefix):]), nil
}

// Get returns the event with sequence number seq.
func Get(r pebble.Reader, seq uint64) (event.Event, error) {
	v, closer, err := r.Get(Key(seq))
	if err != nil {
		return event.Event{}, fmt.Errorf("get event %d: %w", seq, err)
	}
	defer closer.Close()
	return event.Decode(v)
}

// Scan calls fn for each event with seq > after, in order, until fn
// returns an error (ErrStop ends the scan without error) or limit events
// were visited (limit ≤ 0: no limit).
func Scan(r pebble.Reader, after uint64, limit int, fn func(event.Event) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: Key(after + 1), UpperBound: prefixEnd()})
	if err != nil {
		return fmt.Errorf("scan events after %d: %w", after, err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		ev, err := event.Decode(it.Value())
		if err != nil {
			return fmt.Errorf("scan events: key %x: %w", it.Key(), err)
		}
		if err := fn(ev); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
		n++
		if limit > 0 && n >= limit {
			break
		}
	}
	return it.Error()
}

// ErrStop, returned by a Scan callback, ends the scan early without error.
var ErrStop = errors.New("stop scan")

func prefixEnd() []byte {
	end := []byte(Prefix)
	end[len(end)-1]++
	return end
}
