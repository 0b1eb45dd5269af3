// Package diskguard keeps a node from filling its disk with writes it
// cannot finish. It samples the free space of the data dir's filesystem
// and, below a floor, says to refuse the writes clients ask for (507)
// until space returns. The floor is headroom for what must go on while
// writes are refused: the runs that fire record their outcomes, deletes
// and retention remove data, Pebble compacts (which needs room to write
// before it frees), and Raft snapshots. A write that fails on a disk
// that filled anyway is not this package's: the stores stop the node
// (raftstore.PebbleLogger), and it recovers from its log on restart.
package diskguard

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chronicle-sched/chronicle/internal/errkind"
)

// Guard watches the free space of one directory's filesystem.
type Guard struct {
	dir    string
	floor  uint64 // bytes; 0: never refuse
	logger *slog.Logger

	free atomic.Uint64 // at the last sample
	low  atomic.Bool   // free < floor at the last sample
	mu   sync.Mutex    // one sample at a time, so transitions log once
}

// New samples dir's filesystem once and returns its guard. A floor of 0
// turns the guard off (it still reports free space).
func New(dir string, floorBytes uint64, logger *slog.Logger) (*Guard, error) {
	if logger == nil {
		logger = slog.Default()
	}
	g := &Guard{dir: dir, floor: floorBytes, logger: logger}
	if err := g.Sample(); err != nil {
		return nil, err
	}
	return g, nil
}

// Run samples every interval until stop is closed. A failed sample keeps
// the last verdict: statfs failing on a mounted data dir is not a reason
// to refuse or to accept writes.
func (g *Guard) Run(stop <-chan struct{}, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if err := g.Sample(); err != nil {
				g.logger.Warn("disk guard: cannot read free space", "dir", g.dir, "err", err)
			}
		}
	}
}

// Sample reads the free space now and logs a change of verdict: one line
// when writes start being refused, one when they are accepted again.
func (g *Guard) Sample() error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(g.dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", g.dir, err)
	}
	// Bavail, not Bfree: the blocks an unprivileged process may use.
	free := st.Bavail * uint64(st.Bsize)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.free.Store(free)
	low := g.floor > 0 && free < g.floor
	if g.low.Swap(low) == low {
		return nil
	}
	if low {
		g.logger.Error("disk almost full: refusing writes until space returns (reads, deletes and firing go on)",
			"dir", g.dir, "freeMB", free>>20, "minFreeMB", g.floor>>20)
	} else {
		g.logger.Warn("disk space back: accepting writes", "dir", g.dir, "freeMB", free>>20, "minFreeMB", g.floor>>20)
	}
	return nil
}

// Refuse returns nil while the disk has room, else an
// errkind.InsufficientStorage error saying how much is free.
func (g *Guard) Refuse() error {
	if g == nil || !g.low.Load() {
		return nil
	}
	return errkind.Newf(errkind.InsufficientStorage, "insufficient storage: the data dir's disk has %d MB free, "+
		"below the %d MB this node keeps (--min-free-disk-mb); writes are refused until space returns "+
		"(reads and deletes still work)", g.free.Load()>>20, g.floor>>20)
}

// FreeBytes is the free space at the last sample.
func (g *Guard) FreeBytes() uint64 { return g.free.Load() }
