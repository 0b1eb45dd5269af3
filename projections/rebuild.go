package projections

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/cockroachdb/pebble/v2"
)

// Rebuild applies every event in the log read from src to dst, which must
// hold no projection keys yet, committing every batchSize events. Every
// logged event was accepted when it was first applied, so a rejection here
// means the log and the apply rules disagree: it is returned as an error.
// Commits are not synced (a rebuild can be redone from the log); a caller
// that keeps dst flushes it.
// progress, if set, is called after each commit with the last seq applied
// and the number of events applied so far.
func Rebuild(src pebble.Reader, dst *pebble.DB, batchSize int, progress func(seq uint64, events int)) error {
	if batchSize <= 0 {
		batchSize = 1000
	}
	cache := NewRecordCache(rebuildCacheRecords)
	if err := cache.LearnScheduleKeys(dst); err != nil {
		return err
	}
	// Reading and decoding the log (envelope and payload) runs on its own
	// goroutine, a chunk ahead of apply: it was a quarter of a rebuild's
	// time, and apply cannot start an event before the previous one is in.
	chunks := make(chan []decodedEvent, 4)
	stop := make(chan struct{})
	defer close(stop)
	readErr := make(chan error, 1)
	go func() {
		defer close(chunks)
		readErr <- decodeLog(src, chunks, stop)
	}()

	b := dst.NewIndexedBatch()
	defer func() { b.Close() }()
	n := 0
	var last uint64
	for chunk := range chunks {
		for _, d := range chunk {
			last = d.ev.Seq
			if _, err := applyPayload(NewCachingBatch(b, cache), d.ev, d.p, nil); err != nil {
				return fmt.Errorf("rebuild: event %d (%s): %w", d.ev.Seq, d.ev.Type, err)
			}
			n++
			if n%batchSize == 0 {
				if err := b.Commit(pebble.NoSync); err != nil {
					return fmt.Errorf("rebuild: commit at event %d: %w", d.ev.Seq, err)
				}
				b = dst.NewIndexedBatch()
				if progress != nil {
					progress(d.ev.Seq, n)
				}
			}
		}
	}
	if err := <-readErr; err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("rebuild: final commit: %w", err)
	}
	if progress != nil {
		progress(last, n)
	}
	return nil
}

type decodedEvent struct {
	ev event.Event
	p  event.Payload
}

// decodeLog sends the log's events, decoded, in chunks until the log ends
// or stop is closed.
func decodeLog(src pebble.Reader, out chan<- []decodedEvent, stop <-chan struct{}) error {
	const chunkSize = 512
	chunk := make([]decodedEvent, 0, chunkSize)
	send := func() bool {
		select {
		case out <- chunk:
			chunk = make([]decodedEvent, 0, chunkSize)
			return true
		case <-stop:
			return false
		}
	}
	errStopped := errors.New("stopped")
	err := eventlog.Scan(src, 0, 0, func(ev event.Event) error {
		p, err := ev.Payload()
		if err != nil {
			return fmt.Errorf("rebuild: event %d (%s): %w", ev.Seq, ev.Type, err)
		}
		chunk = append(chunk, decodedEvent{ev: ev, p: p})
		if len(chunk) == chunkSize && !send() {
			return errStopped
		}
		return nil
	})
	if errors.Is(err, errStopped) {
		return nil
	}
	if err == nil && len(chunk) > 0 {
		send()
	}
	return err
}

// rebuildCacheRecords bounds the records a rebuild keeps in memory (two
// generations of this many, a few hundred bytes each).
const rebuildCacheRecords = 200_000

// Checksums returns a SHA-256 of every projection (key prefix such as
// "p/sch/"), over its keys and values in order. Two stores hold the same
// read models exactly when their checksums are equal.
func Checksums(r pebble.Reader) (map[string]string, error) {
	sums := map[string]string{}
	for _, p := range projectionPrefixes {
		h := sha256.New()
		n := 0
		err := scanPrefix(r, []byte(p), nil, func(k, v []byte) (bool, error) {
			fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(v), v)
			n++
			return true, nil
		})
		if err != nil {
			return nil, err
		}
		sums[strings.TrimSuffix(strings.TrimPrefix(p, Prefix), "/")] = fmt.Sprintf("%s (%d keys)", hex.EncodeToString(h.Sum(nil))[:16], n)
	}
	return sums, nil
}

// DiffChecksums lists the projections whose checksums differ.
func DiffChecksums(a, b map[string]string) []string {
	var diff []string
	for k, v := range a {
		if b[k] != v {
			diff = append(diff, fmt.Sprintf("%s: %s != %s", k, v, b[k]))
		}
	}
	sort.Strings(diff)
	return diff
}
