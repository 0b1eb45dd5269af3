package raftstore

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/chronicle-sched/chronicle/internal/syncbuf"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/hashicorp/raft"
)

// A write the disk fails (no space left, or an fsync error) stops the node
// rather than letting raft count the entry as stored: StoreLogs never
// returns success for it, the log says which store failed and why, and the
// store on disk, opened again as after a crash, holds every entry stored
// before the failure, the failed one at most whole, and takes new writes.
// Retrying an fsync that failed is not safe (the kernel may have dropped
// the dirty pages it could not write), which is why the node stops instead
// of refusing the write and going on.
func TestWriteErrorsStopTheStoreAndKeepTheLog(t *testing.T) {
	for _, fault := range []struct {
		name string
		ops  []errorfs.OpKind
		err  error
	}{
		{"no space left on a WAL write", []errorfs.OpKind{errorfs.OpFileWrite}, syscall.ENOSPC},
		// Pebble syncs its WAL with fdatasync where it can, fsync elsewhere.
		{"the WAL's fsync fails", []errorfs.OpKind{errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo}, syscall.EIO},
	} {
		t.Run(fault.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "raft")
			var failing atomic.Bool
			fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if failing.Load() && slices.Contains(fault.ops, op.Kind) && strings.HasSuffix(op.Path, ".log") {
					return fmt.Errorf("%s: %w", op.Path, fault.err)
				}
				return nil
			}))
			var logs syncbuf.Buffer
			s, err := openOn(fs, dir, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			storeRange(t, s, 1, 100, 3)

			failing.Store(true)
			stored := storesWithoutPanic(s, makeLog(101, 3))
			if stored {
				t.Fatalf("StoreLogs returned success for an entry the disk did not take (%v)", fault.err)
			}
			line := logs.String()
			if !strings.Contains(line, "fatal store error: the node stops") || !strings.Contains(line, `store="raft log"`) ||
				!strings.Contains(line, fault.err.Error()) {
				t.Fatalf("the log does not say which store failed and why:\n%s", line)
			}

			// What a restart finds: the files as the failed process left them.
			crashed := filepath.Join(t.TempDir(), "raft")
			copyDir(t, dir, crashed)
			failing.Store(false)
			again := openStore(t, crashed)
			assertBounds(t, again, 1, lastOf(t, again))
			for i := uint64(1); i <= 100; i++ {
				assertLog(t, again, makeLog(i, 3))
			}
			if last := lastOf(t, again); last == 101 {
				assertLog(t, again, makeLog(101, 3)) // whole, or not there at all
			}
			storeRange(t, again, lastOf(t, again)+1, 120, 4)
			assertLog(t, again, makeLog(120, 4))
		})
	}
}

// storesWithoutPanic stores one entry and reports whether StoreLogs
// returned success; the store's fatal error (a panic) counts as not.
func storesWithoutPanic(s *Store, l *raft.Log) (stored bool) {
	defer func() {
		if recover() != nil {
			stored = false
		}
	}()
	return s.StoreLog(l) == nil
}

func lastOf(t *testing.T, s *Store) uint64 {
	t.Helper()
	last, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// copyDir copies the files of a store's directory, as they are now.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		src, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(to, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		src.Close()
		dst.Close()
	}
}
