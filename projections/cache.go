package projections

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// CachingBatch serves apply's record reads from memory. Nearly every event
// reads records (its app, its schedule, its pending run) that were written
// a while ago and now sit in sstables; a rebuild reads them millions of
// times. Every write to the store goes through the wrapper while it is in
// use (Set and Delete update the cache before the batch), so the cache is
// never stale; it must be dropped if anything else writes to the store.
type CachingBatch struct {
	Batch
	cache *RecordCache
}

// NewCachingBatch wraps b with the cache c (shared across batches of the
// same store).
func NewCachingBatch(b Batch, c *RecordCache) *CachingBatch { return &CachingBatch{Batch: b, cache: c} }

// RecordCache holds recently read or written records, keyed by their
// Pebble key, in two generations: when the current one is full it becomes
// the old one, so memory stays bounded and hot records survive.
type RecordCache struct {
	cur, old map[string]cached
	max      int
	// beforeForget, if set, is called when the old generation is about to
	// be dropped: a rebuild commits what it wrote then, so that a record
	// the cache forgets is one its store can answer (rebuildBatch).
	beforeForget func()

	// highSch is the highest schedule key stored or written, once
	// LearnScheduleKeys has read it (highKnown). Schedule ids are UUIDv7,
	// ordered by creation time, so a new schedule's key is nearly always
	// above it, and apply's existence check of the new id (a lookup in the
	// memtable and every level, a visible part of a create's cost) can
	// answer "absent" without one. An id from a clock that runs behind is looked
	// up as before. No stored key exceeds highSch: it starts at the
	// store's highest and rises with every schedule written (a deletion
	// only leaves it above the highest).
	highSch   []byte
	highKnown bool
}

var pSchKey = []byte(pSch)

// LearnScheduleKeys reads the highest schedule key in r, which must be the
// store every later write of this cache goes to.
func (c *RecordCache) LearnScheduleKeys(r pebble.Reader) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: pSchKey, UpperBound: prefixEnd(pSchKey)})
	if err != nil {
		return fmt.Errorf("highest schedule key: %w", err)
	}
	defer it.Close()
	c.highSch = append(c.highSch[:0], pSchKey...)
	if it.Last() {
		c.highSch = append(c.highSch[:0], it.Key()...)
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("highest schedule key: %w", err)
	}
	c.highKnown = true
	return nil
}

// surelyAbsent reports whether key is a schedule key above every stored one.
func (c *RecordCache) surelyAbsent(key []byte) bool {
	return c.highKnown && bytes.HasPrefix(key, pSchKey) && bytes.Compare(key, c.highSch) > 0
}

// noteWrite raises highSch to a schedule key being written above it.
func (c *RecordCache) noteWrite(key []byte) {
	if c.surelyAbsent(key) {
		c.highSch = append(c.highSch[:0], key...)
	}
}

type cached struct {
	v     []byte
	found bool
	// obj is v decoded (an App, Schedule, PendingRun, ...) once apply has
	// read or written it as such: decoding JSON records was the largest
	// part of apply's cost. Apply treats records as values and never
	// mutates what a decoded record points to (headers, retry policy), so
	// sharing obj between reads is safe.
	obj any
}

// NewRecordCache returns a cache of about max records per generation.
func NewRecordCache(max int) *RecordCache {
	return &RecordCache{cur: map[string]cached{}, old: map[string]cached{}, max: max}
}

// cachedPrefixes are the records apply reads by key; index keys are only
// scanned, so caching them would only waste memory.
var cachedPrefixes = [][]byte{[]byte(pApp), []byte(pSch), []byte(pPend), []byte(pRun), []byte(pRid)}

func cacheable(key []byte) bool {
	for _, p := range cachedPrefixes {
		if bytes.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func (c *RecordCache) get(key []byte) (cached, bool) {
	if v, ok := c.cur[string(key)]; ok {
		return v, true
	}
	if v, ok := c.old[string(key)]; ok {
		c.put(key, v)
		return v, true
	}
	return cached{}, false
}

func (c *RecordCache) put(key []byte, v cached) {
	if len(c.cur) >= c.max {
		if c.beforeForget != nil {
			c.beforeForget()
		}
		c.old, c.cur = c.cur, make(map[string]cached, c.max)
	}
	c.cur[string(key)] = v
}

type noClose struct{}

func (noClose) Close() error { return nil }

// Get reads key from the cache, or from the batch and remembers it.
func (b *CachingBatch) Get(key []byte) ([]byte, io.Closer, error) {
	if !cacheable(key) {
		return b.Batch.Get(key)
	}
	if b.cache.surelyAbsent(key) {
		return nil, nil, pebble.ErrNotFound
	}
	if v, ok := b.cache.get(key); ok {
		if !v.found {
			return nil, nil, pebble.ErrNotFound
		}
		return v.v, noClose{}, nil
	}
	v, closer, err := b.Batch.Get(key)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		b.cache.put(key, cached{})
		return nil, nil, err
	case err != nil:
		return nil, nil, err
	}
	own := append([]byte(nil), v...)
	closer.Close()
	b.cache.put(key, cached{v: own, found: true})
	return own, noClose{}, nil
}

// Set writes through the cache.
func (b *CachingBatch) Set(key, value []byte, opts *pebble.WriteOptions) error {
	if cacheable(key) {
		b.cache.noteWrite(key)
		b.cache.put(key, cached{v: append([]byte(nil), value...), found: true})
	}
	return b.Batch.Set(key, value, opts)
}

// setDecoded writes value (which the cache then owns: the caller must not
// reuse it) with its decoded form obj: one cache update instead of Set's
// copy and a rememberDecoded lookup (a write per record of every event).
func (b *CachingBatch) setDecoded(key, value []byte, obj any) error {
	if cacheable(key) {
		b.cache.noteWrite(key)
		b.cache.put(key, cached{v: value, found: true, obj: obj})
	}
	return b.Batch.Set(key, value, nil)
}

// Delete writes through the cache.
func (b *CachingBatch) Delete(key []byte, opts *pebble.WriteOptions) error {
	if cacheable(key) {
		b.cache.put(key, cached{})
	}
	return b.Batch.Delete(key, opts)
}

// decoded returns the decoded record of key if the cache holds one of
// type T (ok) or knows the key is absent (found false, ok true).
func decoded[T any](b *CachingBatch, key []byte) (v T, found, ok bool) {
	if !cacheable(key) {
		return v, false, false
	}
	c, hit := b.cache.get(key)
	if !hit {
		return v, false, false
	}
	if !c.found {
		return v, false, true
	}
	v, ok = c.obj.(T)
	return v, true, ok
}

// rememberDecoded attaches obj, the decoded form of the value just read or
// written at key, to the cached record.
func (b *CachingBatch) rememberDecoded(key []byte, obj any) {
	if !cacheable(key) {
		return
	}
	if c, hit := b.cache.get(key); hit && c.found {
		c.obj = obj
		b.cache.cur[string(key)] = c // get moved it into cur
	}
}
