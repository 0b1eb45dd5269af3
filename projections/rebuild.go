package projections

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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
	return rebuild(src, dst, batchSize, rebuildCacheRecords, progress)
}

// rebuild is Rebuild with a record cache of cacheRecords per generation.
func rebuild(src pebble.Reader, dst *pebble.DB, batchSize, cacheRecords int, progress func(seq uint64, events int)) error {
	if batchSize <= 0 {
		batchSize = 1000
	}
	cache := NewRecordCache(cacheRecords)
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

	b := newRebuildBatch(dst)
	defer b.close()
	// Before the cache forgets a generation of records, everything written
	// so far is committed: a record read back then comes from the store.
	var forgetErr error
	cache.beforeForget = func() {
		if err := b.flush(); err != nil && forgetErr == nil {
			forgetErr = err
		}
	}
	cb := NewCachingBatch(b, cache)
	n := 0
	var last uint64
	for chunk := range chunks {
		for _, d := range chunk {
			last = d.ev.Seq
			if _, err := applyPayload(cb, d.ev, d.p, nil); err != nil {
				return fmt.Errorf("rebuild: event %d (%s): %w", d.ev.Seq, d.ev.Type, err)
			}
			if forgetErr != nil {
				return fmt.Errorf("rebuild: commit at event %d: %w", d.ev.Seq, forgetErr)
			}
			n++
			if n%batchSize == 0 {
				if err := b.commit(); err != nil {
					return fmt.Errorf("rebuild: commit at event %d: %w", d.ev.Seq, err)
				}
				if progress != nil {
					progress(d.ev.Seq, n)
				}
			}
		}
	}
	if err := <-readErr; err != nil {
		return err
	}
	if err := b.flush(); err != nil {
		return fmt.Errorf("rebuild: final commit: %w", err)
	}
	if progress != nil {
		progress(last, n)
	}
	return nil
}

// rebuildBatch is what a rebuild applies into: a plain Pebble batch,
// without the skiplist an indexed batch keeps so that it can read its own
// writes (a fifth of a rebuild's apply time went into it). Apply reads
// back the records it wrote (apps, schedules, runs) through the record
// cache, which holds every record written since the last commit: the
// cache commits everything pending before it forgets a generation (its
// beforeForget), whatever its size. So a record read that reaches this
// batch is of one not written since the last commit, and is read from the
// store. Any other read (index scans: of a cron's runs, a bulk action's
// time range, retention) commits what is pending first, so it sees every
// earlier event, as an indexed batch would.
type rebuildBatch struct {
	db *pebble.DB
	b  *pebble.Batch

	// inflight is the previous batch being committed on its own goroutine
	// while apply fills b; its result arrives on done. Once committed it
	// is reset and kept as spare, the next batch: the two alternate, so
	// their buffers (megabytes each) are allocated once, not grown anew
	// for every batch (a quarter of a rebuild's allocations).
	inflight, spare *pebble.Batch
	done            chan error
}

// newRebuildBatch returns the batch a rebuild of dst applies into.
func newRebuildBatch(dst *pebble.DB) *rebuildBatch {
	r := &rebuildBatch{db: dst, done: make(chan error, 1)}
	r.b, r.spare = r.newBatch(), r.newBatch()
	return r
}

func (r *rebuildBatch) newBatch() *pebble.Batch {
	return r.db.NewBatch(pebble.WithMaxRetainedSizeBytes(rebuildBatchRetained))
}

// rebuildBatchRetained bounds the buffer a reset batch keeps (a batch of
// Rebuild's usual 4096 events holds about 4 MB).
const rebuildBatchRetained = 64 << 20

// close releases the batches once nothing is in flight.
func (r *rebuildBatch) close() {
	_ = r.wait()
	r.b.Close()
	if r.spare != nil {
		r.spare.Close()
	}
}

func (r *rebuildBatch) Get(key []byte) ([]byte, io.Closer, error) {
	if !cacheable(key) {
		if err := r.flush(); err != nil {
			return nil, nil, err
		}
	}
	return r.db.Get(key)
}

func (r *rebuildBatch) NewIter(o *pebble.IterOptions) (*pebble.Iterator, error) {
	return r.NewIterWithContext(context.Background(), o)
}

func (r *rebuildBatch) NewIterWithContext(ctx context.Context, o *pebble.IterOptions) (*pebble.Iterator, error) {
	if err := r.flush(); err != nil {
		return nil, err
	}
	return r.db.NewIterWithContext(ctx, o)
}

func (r *rebuildBatch) Set(key, value []byte, _ *pebble.WriteOptions) error {
	return r.b.Set(key, value, nil)
}

func (r *rebuildBatch) Delete(key []byte, _ *pebble.WriteOptions) error {
	return r.b.Delete(key, nil)
}

// Close is a no-op: Rebuild owns the batch.
func (r *rebuildBatch) Close() error { return nil }

// wait returns once the batch in flight (if any) is committed.
func (r *rebuildBatch) wait() error {
	if r.inflight == nil {
		return nil
	}
	err := <-r.done
	r.inflight.Reset()
	r.spare, r.inflight = r.inflight, nil
	return err
}

// flush commits everything pending (unsynced: a rebuild is redone from
// the log if interrupted) before a read that must see it.
func (r *rebuildBatch) flush() error {
	if err := r.wait(); err != nil {
		return err
	}
	if r.b.Empty() {
		return nil
	}
	if err := r.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("rebuild: commit: %w", err)
	}
	r.b.Reset()
	return nil
}

// commit starts committing the batch on another goroutine, once the one
// before it is in, and gives apply a new batch.
func (r *rebuildBatch) commit() error {
	if err := r.wait(); err != nil {
		return err
	}
	if r.b.Empty() {
		return nil
	}
	r.inflight, r.b, r.spare = r.b, r.spare, nil
	go func(b *pebble.Batch) { r.done <- b.Commit(pebble.NoSync) }(r.inflight)
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
