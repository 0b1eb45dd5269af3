package actors

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/chronicle-sched/chronicle/projections"
)

// fireBatcher group-commits the due runs of every timer: while one Raft
// entry of RunFired events is being committed, the runs that fall due
// meanwhile queue up and go out together in the next. With runs due at
// every millisecond across many partitions, one entry per timer tick
// spent the log's fsyncs (and the FSM's batches) on entries of one event.
type fireBatcher struct {
	eng  *Engine
	in   chan fireRequest
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	// pending counts the runs submitted and not yet handled (fired and
	// handed to delivery, or given back to their timers).
	pending atomic.Int64
}

// fireRequest is one timer tick's due runs; the timer is told when they
// have been handled (firedDone), whatever the outcome.
type fireRequest struct {
	ctx   context.Context
	timer *actor.PID
	runs  []projections.PendingRun
}

// fireWorkers proposes this many entries at once, so that building and
// delivering one batch overlaps with committing the next.
const fireWorkers = 2

func newFireBatcher(e *Engine) *fireBatcher {
	b := &fireBatcher{eng: e, in: make(chan fireRequest, 4096), done: make(chan struct{})}
	for range fireWorkers {
		b.wg.Add(1)
		go b.run()
	}
	return b
}

// submit queues a tick's runs without blocking the timer actor (a full
// queue is waited on by a goroutine instead).
func (b *fireBatcher) submit(r fireRequest) {
	b.pending.Add(int64(len(r.runs)))
	select {
	case b.in <- r:
	default:
		go func() {
			select {
			case b.in <- r:
			case <-b.done:
			}
		}()
	}
}

func (b *fireBatcher) close() {
	b.once.Do(func() { close(b.done) })
	b.wg.Wait()
}

func (b *fireBatcher) run() {
	defer b.wg.Done()
	for {
		var reqs []fireRequest
		select {
		case r := <-b.in:
			reqs = append(reqs, r)
		case <-b.done:
			return
		}
		n := len(reqs[0].runs)
	more:
		for n < maxEventsPerEntry {
			select {
			case r := <-b.in:
				reqs = append(reqs, r)
				n += len(r.runs)
			default:
				break more
			}
		}
		b.fire(reqs)
	}
}

// fire proposes the requests' runs in entries of at most
// maxEventsPerEntry events, then releases them in their timers, putting
// back those to try again later.
func (b *fireBatcher) fire(reqs []fireRequest) {
	var items []fireItem
	for _, r := range reqs {
		for _, pr := range r.runs {
			items = append(items, fireItem{ctx: r.ctx, pr: pr})
		}
	}
	retry := map[string]bool{}
	for start := 0; start < len(items); start += maxEventsPerEntry {
		end := min(start+maxEventsPerEntry, len(items))
		again, err := b.eng.fireChunk(items[start:end])
		if err != nil {
			// Not committed (a timeout, or leadership lost: then the timers
			// are stopped and the next term reloads the runs): try again.
			b.eng.cfg.Logger.Warn("fire runs: not committed, retrying", "runs", end-start, "err", err)
			for _, it := range items[start:end] {
				retry[it.pr.RunID] = true
			}
		}
		for id := range again {
			retry[id] = true
		}
	}
	retryAt := b.eng.clock.Now().Add(retryDelay).UnixMilli()
	for _, r := range reqs {
		ids := make([]string, len(r.runs))
		var later []projections.PendingRun
		for i, pr := range r.runs {
			ids[i] = pr.RunID
			if retry[pr.RunID] {
				later = append(later, pr)
			}
		}
		if len(later) > 0 {
			b.eng.system.Root.Send(r.timer, retryRuns{runs: later, atMs: retryAt})
		}
		b.eng.system.Root.Send(r.timer, firedDone{ids})
		b.pending.Add(-int64(len(r.runs)))
	}
}
