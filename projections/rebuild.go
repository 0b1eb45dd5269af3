package projections

import (
	"crypto/sha256"
	"encoding/hex"
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
	b := dst.NewIndexedBatch()
	n := 0
	var last uint64
	err := eventlog.Scan(src, 0, 0, func(ev event.Event) error {
		last = ev.Seq
		if _, err := Apply(NewCachingBatch(b, cache), ev, nil); err != nil {
			return fmt.Errorf("rebuild: event %d (%s): %w", ev.Seq, ev.Type, err)
		}
		n++
		if n%batchSize == 0 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return fmt.Errorf("rebuild: commit at event %d: %w", ev.Seq, err)
			}
			b = dst.NewIndexedBatch()
			if progress != nil {
				progress(ev.Seq, n)
			}
		}
		return nil
	})
	if err != nil {
		b.Close()
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
