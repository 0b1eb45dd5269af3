// Package raftstore keeps hashicorp/raft's log and stable state in Pebble.
//
// One Pebble database holds both: raft log entries under the prefix 'l'
// followed by the 8-byte big-endian index (so Pebble's key order is log
// order and a compaction is a single range deletion), and stable-store keys
// under 's' followed by the raw key. Every write is fsync'd: raft assumes a
// log entry or vote it has persisted survives a crash, and acting on a lost
// vote can elect two leaders in one term.
package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// We deliberately do not implement raft.MonotonicLogStore. IsMonotonic()==true
// is a promise that the store cannot tolerate a gap between consecutive
// indexes, and it makes raft delete the entire log after every snapshot
// restore instead of leaving a gap. This store has no such limitation: keys
// are sparse, FirstIndex/LastIndex come from the smallest/largest key that
// actually exists, and GetLog of a hole returns raft.ErrLogNotFound, which
// raft already handles by falling back to the snapshot. Claiming
// monotonicity would buy nothing and would commit us to an invariant we do
// not enforce.

// ErrKeyNotFound is returned by Get and GetUint64 for a missing stable-store
// key. Its text must be exactly "not found": raft compares err.Error() to that
// string (not errors.Is) to tell a fresh node from a broken store, so this
// error is never wrapped.
var ErrKeyNotFound = errors.New("not found")

// ErrClosed is returned by operations on a Store after Close. Pebble panics
// on a closed DB; a late call from a goroutine that outlived raft.Shutdown
// should be an error, not a crash.
var ErrClosed = errors.New("raftstore: store is closed")

const (
	prefixLog    byte = 'l'
	prefixStable byte = 's'

	logKeyLen = 1 + 8

	// cacheSize is the block cache. Raft reads mostly the tail of the log,
	// which is still in the memtable, so a small cache is enough.
	cacheSize = 8 << 20
)

var (
	logLowerBound = []byte{prefixLog}
	logUpperBound = []byte{prefixLog + 1}
)

// Store is a raft.LogStore and raft.StableStore backed by Pebble. It is safe
// for concurrent use.
type Store struct {
	db *pebble.DB

	// writers orders log mutations against the bound cache. StoreLogs holds
	// it shared, so that concurrent appenders still reach Pebble together and
	// get their fsyncs grouped; DeleteRange holds it exclusively because it
	// recomputes the bounds from disk after its commit, and an append landing
	// in between could be lost from the cache. Stable-store writes do not
	// touch the bounds and take no lock at all.
	writers sync.RWMutex

	// mu guards the cached bounds. It is never held across a disk sync, so
	// FirstIndex/LastIndex stay cheap while a commit is in flight.
	mu          sync.Mutex
	first, last uint64 // 0, 0 when the log is empty
	stale       bool   // a commit failed; reload bounds from disk before trusting them

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Open opens the store in dir, creating it if needed. logger receives
// Pebble's errors; nil means slog.Default(). Pebble's informational chatter
// (flushes, compactions) is dropped.
func Open(dir string, logger *slog.Logger) (*Store, error) { return openOn(vfs.Default, dir, logger) }

// openOn opens the store on a filesystem: the disk, or in tests one that
// fails as a disk can (vfs/errorfs).
func openOn(fs vfs.FS, dir string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.Default()
	}
	cache := pebble.NewCache(cacheSize)
	// The DB takes its own reference; ours must go whether Open succeeds or not.
	defer cache.Unref()
	db, err := pebble.Open(dir, &pebble.Options{
		FS:     fs,
		Cache:  cache,
		Logger: PebbleLogger(logger.With("store", "raft log", "dir", dir)),
	})
	if err != nil {
		return nil, fmt.Errorf("raftstore: open %s: %w", dir, err)
	}
	s := &Store{db: db}
	if err := s.loadBounds(); err != nil {
		db.Close()
		return nil, fmt.Errorf("raftstore: open %s: %w", dir, err)
	}
	return s, nil
}

// Close closes the database. It is idempotent so that both an explicit Close
// and a deferred/cleanup Close are safe.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("raftstore: close: %w", err)
		}
	})
	return s.closeErr
}

// FirstIndex implements raft.LogStore. It is served from memory: raft asks
// for it on hot paths (replication, metrics) and the answer only changes when
// this Store writes.
func (s *Store) FirstIndex() (uint64, error) {
	first, _, err := s.bounds()
	if err != nil {
		return 0, fmt.Errorf("raftstore: first index: %w", err)
	}
	return first, nil
}

// LastIndex implements raft.LogStore; see FirstIndex.
func (s *Store) LastIndex() (uint64, error) {
	_, last, err := s.bounds()
	if err != nil {
		return 0, fmt.Errorf("raftstore: last index: %w", err)
	}
	return last, nil
}

// GetLog implements raft.LogStore.
func (s *Store) GetLog(index uint64, l *raft.Log) error {
	if s.closed.Load() {
		return ErrClosed
	}
	key := logKey(index)
	v, closer, err := s.db.Get(key[:])
	if errors.Is(err, pebble.ErrNotFound) {
		// Returned bare: raft compares with == in places.
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("raftstore: get log %d: %w", index, err)
	}
	defer closer.Close()
	if err := decodeLog(v, l); err != nil {
		return fmt.Errorf("raftstore: get log %d: %w", index, err)
	}
	// The key is authoritative; a mismatch means the value was written under
	// the wrong key or damaged in a way the decoder could not see.
	if l.Index != index {
		return fmt.Errorf("raftstore: get log %d: %w: entry claims index %d", index, ErrCorruptEntry, l.Index)
	}
	return nil
}

// StoreLog implements raft.LogStore.
func (s *Store) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// StoreLogs implements raft.LogStore. All entries go into one synced batch
// so that a crash leaves either all of them or none: raft acknowledges the
// whole AppendEntries request at once.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	if s.closed.Load() {
		return ErrClosed
	}
	lo, hi := logs[0].Index, logs[0].Index
	size := 0
	for _, l := range logs {
		lo, hi = min(lo, l.Index), max(hi, l.Index)
		size += logKeyLen + maxEncodedHeader + len(l.Data) + len(l.Extensions)
	}

	b := s.db.NewBatchWithSize(size)
	defer b.Close()
	// Batch.Set copies key and value, so one scratch buffer serves every entry.
	var scratch []byte
	for _, l := range logs {
		var err error
		scratch, err = appendLog(scratch[:0], l)
		if err != nil {
			return fmt.Errorf("raftstore: store logs %d..%d: %w", lo, hi, err)
		}
		key := logKey(l.Index)
		if err := b.Set(key[:], scratch, nil); err != nil {
			return fmt.Errorf("raftstore: store logs %d..%d: %w", lo, hi, err)
		}
	}

	s.writers.RLock()
	defer s.writers.RUnlock()
	if err := b.Commit(pebble.Sync); err != nil {
		s.markStale()
		return fmt.Errorf("raftstore: store logs %d..%d: %w", lo, hi, err)
	}
	s.mu.Lock()
	// min/max rather than assignment: concurrent appenders may finish in
	// either order, and raft may legitimately write below the current first
	// index (e.g. a follower catching up into an emptied log).
	if s.first == 0 && s.last == 0 {
		s.first, s.last = lo, hi
	} else {
		s.first, s.last = min(s.first, lo), max(s.last, hi)
	}
	s.mu.Unlock()
	return nil
}

// DeleteRange implements raft.LogStore; the range is inclusive. It is one
// Pebble range tombstone, so compacting away millions of entries costs the
// same as deleting one.
func (s *Store) DeleteRange(lo, hi uint64) error {
	if lo > hi {
		return nil
	}
	if s.closed.Load() {
		return ErrClosed
	}
	start := logKey(lo)
	end := logUpperBound
	if hi < math.MaxUint64 {
		k := logKey(hi + 1)
		end = k[:]
	}

	s.writers.Lock()
	defer s.writers.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(start[:], end, nil); err != nil {
		return fmt.Errorf("raftstore: delete logs %d..%d: %w", lo, hi, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		s.markStale()
		return fmt.Errorf("raftstore: delete logs %d..%d: %w", lo, hi, err)
	}

	// Holding writers exclusively, nobody else changes the log until we
	// return, so reading the new bounds from disk here is race-free.
	s.mu.Lock()
	first, last, stale := s.first, s.last, s.stale
	s.mu.Unlock()
	if stale || first == 0 && last == 0 || hi < first || lo > last {
		// Empty, untouched bounds, or bounds that will be reloaded anyway.
		return nil
	}
	var err error
	switch {
	case lo <= first && hi >= last:
		first, last = 0, 0
	case lo <= first:
		// Head compaction. The new first is the next key that exists, which
		// is not necessarily hi+1 if the log has gaps.
		k := logKey(hi + 1)
		first, _, err = s.seekIndex(k[:], logUpperBound, false)
	case hi >= last:
		// Tail truncation after a conflict.
		last, _, err = s.seekIndex(logLowerBound, start[:], true)
	default:
		// A hole in the middle moves neither bound.
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		// The delete is durable; only our view of it is uncertain.
		s.stale = true
		return fmt.Errorf("raftstore: delete logs %d..%d: reload bounds: %w", lo, hi, err)
	}
	s.first, s.last = first, last
	return nil
}

// Set implements raft.StableStore. It is synced: this is where raft keeps
// its current term and vote.
func (s *Store) Set(key, val []byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.db.Set(stableKey(key), val, pebble.Sync); err != nil {
		return fmt.Errorf("raftstore: set %q: %w", key, err)
	}
	return nil
}

// Get implements raft.StableStore. A missing key yields ErrKeyNotFound.
func (s *Store) Get(key []byte) ([]byte, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	v, closer, err := s.db.Get(stableKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("raftstore: get %q: %w", key, err)
	}
	defer closer.Close()
	// Pebble owns v only until closer.Close.
	return bytes.Clone(v), nil
}

// SetUint64 implements raft.StableStore.
func (s *Store) SetUint64(key []byte, val uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], val)
	return s.Set(key, b[:])
}

// GetUint64 implements raft.StableStore. A missing key yields 0 and
// ErrKeyNotFound, which raft treats as "fresh node".
func (s *Store) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("raftstore: get uint64 %q: value is %d bytes, want 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// bounds returns the cached first and last index, reloading them first if a
// failed commit left them in doubt.
func (s *Store) bounds() (first, last uint64, err error) {
	s.mu.Lock()
	first, last, stale := s.first, s.last, s.stale
	s.mu.Unlock()
	if !stale {
		return first, last, nil
	}
	if s.closed.Load() {
		return 0, 0, ErrClosed
	}
	// Exclude writers so the reload cannot interleave with a commit whose
	// cache update would then be overwritten.
	s.writers.Lock()
	defer s.writers.Unlock()
	if err := s.loadBounds(); err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, s.last, nil
}

// loadBounds reads the first and last index from disk into the cache. The
// caller must exclude log writers (or be Open, before anyone can write).
func (s *Store) loadBounds() error {
	first, ok, err := s.seekIndex(logLowerBound, logUpperBound, false)
	if err != nil {
		return fmt.Errorf("load first index: %w", err)
	}
	var last uint64
	if ok {
		if last, _, err = s.seekIndex(logLowerBound, logUpperBound, true); err != nil {
			return fmt.Errorf("load last index: %w", err)
		}
	}
	s.mu.Lock()
	s.first, s.last, s.stale = first, last, false
	s.mu.Unlock()
	return nil
}

// seekIndex returns the smallest (or, if last, the largest) log index whose
// key lies in [lower, upper), and whether there is one.
func (s *Store) seekIndex(lower, upper []byte, last bool) (uint64, bool, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, false, err
	}
	var ok bool
	if last {
		ok = it.Last()
	} else {
		ok = it.First()
	}
	var idx uint64
	if ok {
		k := it.Key()
		if len(k) != logKeyLen {
			it.Close()
			return 0, false, fmt.Errorf("%w: malformed log key %x", ErrCorruptEntry, k)
		}
		idx = binary.BigEndian.Uint64(k[1:])
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, false, err
	}
	return idx, ok, nil
}

func (s *Store) markStale() {
	s.mu.Lock()
	s.stale = true
	s.mu.Unlock()
}

func logKey(index uint64) [logKeyLen]byte {
	var k [logKeyLen]byte
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

func stableKey(key []byte) []byte {
	k := make([]byte, 1+len(key))
	k[0] = prefixStable
	copy(k[1:], key)
	return k
}

// PebbleLogger returns a pebble.Logger that drops Pebble's informational
// messages (every flush and compaction is reported at Info) and forwards
// only what an operator must see, with l's context (which store, where).
func PebbleLogger(l *slog.Logger) pebble.Logger { return quietLogger{l.With("lib", "pebble")} }

type quietLogger struct{ l *slog.Logger }

func (quietLogger) Infof(string, ...any) {}

func (q quietLogger) Errorf(format string, args ...any) {
	q.l.Error(fmt.Sprintf(format, args...))
}

// Fatalf must not return: Pebble calls it on broken invariants (e.g. a
// failed WAL sync) and its code after the call assumes execution stopped.
// The error is logged with the store's context first (the panic's message
// goes to stderr, outside the log); panicking, unlike os.Exit, still runs
// deferred cleanups and prints a stack.
func (q quietLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	q.l.Error("fatal store error: the node stops", "err", msg)
	panic("pebble: " + msg)
}

// Metrics is Pebble's view of the store: its LSM levels, compactions,
// write amplification, caches.
func (s *Store) Metrics() *pebble.Metrics { return s.db.Metrics() }

// Memory reports what the store's block cache and memtables hold now.
func (s *Store) Memory() (blockCache, memtables int64) {
	m := s.db.Metrics()
	return m.BlockCache.Size, int64(m.MemTable.Size)
}
