package actors

import (
	"container/heap"
	"context"
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/chronicle-sched/chronicle/projections"
)

// maxEventsPerEntry caps how many events one Raft entry carries, so a
// burst of due runs becomes a few large entries rather than one huge one.
const maxEventsPerEntry = 512

// Messages to timer actors.
type (
	tick     struct{}
	dueAdded struct{ run projections.PendingRun }
	dueGone  struct{ runID string }
	// firedDone releases runs the fire path has handled, fired or not.
	firedDone struct{ runIDs []string }
	// retryRuns puts back runs the fire path could not handle now (a cron's
	// next occurrence could not be computed), to try again at atMs.
	retryRuns struct {
		runs []projections.PendingRun
		atMs int64
	}
	// windowLoaded carries the runs a background load read, due in
	// [from, until), and the due time of the first run at or after until
	// (-1: none).
	windowLoaded struct {
		until int64
		runs  []projections.PendingRun
		next  int64
		err   error
	}
)

// noneBeyond: no run is known to be due at or after loadedUntil.
const noneBeyond = math.MaxInt64

// timerActor fires the runs of one app partition, on the leader only. It
// keeps in memory just the runs due before loadedUntil (a near window
// ahead of now) and reads further ahead from the projection as time
// passes, so memory does not grow with the number of pending schedules.
// It knows when the next run beyond the window is due, so a partition
// whose runs are far ahead costs no reads until then, and a partition
// with nothing pending retires its timer.
type timerActor struct {
	eng  *Engine
	key  timerKey
	ctx  context.Context // canceled when this node stops leading
	self *actor.PID

	due dueHeap
	// queued holds the runs to fire, by id, with the time to fire each.
	// The heap may hold older entries of a run (removed, or moved to
	// another time): an entry counts only while queued has the run at its
	// time.
	queued map[string]int64
	firing map[string]bool // popped and being proposed
	// movedWhileFiring: runs announced at a new time while being fired at
	// their old one (a one-time schedule moved meanwhile). The fire path
	// leaves a run whose record moved (Engine.stillAsPopped), so each is
	// queued again at its new time once its fire is done (if the fire went
	// ahead before the move, the second finds the run fired and is
	// refused).
	movedWhileFiring map[string]projections.PendingRun
	received         uint64 // dueAdded messages taken (see Engine.retireTimer)

	loadedUntil int64 // unix ms: every due run before it is queued or firing
	// nextBeyond is the due time of the first run at or after loadedUntil,
	// as far as this timer knows (it may be earlier than the real one, if
	// that run went: then one read too many is made); 0 until the first
	// load, noneBeyond if there is none.
	nextBeyond int64
	// A load of the next part of the window runs in the background, so
	// that reading thousands of pending runs never holds up firing the
	// runs due now. While it runs, runs that become pending before
	// loadingUntil are queued as they are announced (dueAdded): the load
	// may have started reading before they were written; later ones are
	// remembered in beyondWhileLoading.
	loading            bool
	loadingUntil       int64
	beyondWhileLoading int64
	// goneWhileLoading: runs that stopped being pending while a load ran:
	// what the load read of them may be older than that.
	goneWhileLoading map[string]bool
	loadAfter        int64 // unix ms: after a failed load, not before this
	wake             Stopper
}

func newTimer(e *Engine, k timerKey, ctx context.Context) *timerActor {
	return &timerActor{eng: e, key: k, ctx: ctx, queued: map[string]int64{}, firing: map[string]bool{},
		movedWhileFiring: map[string]projections.PendingRun{}}
}

func (t *timerActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		t.self = ctx.Self()
		t.start()
	case *actor.Stopping, *actor.Restarting:
		// Stopped, or restarted by its supervisor after a panic (the new
		// incarnation starts afresh): its queue no longer counts.
		if t.wake != nil {
			t.wake.Stop()
		}
		t.eng.queuedRuns.Add(-int64(len(t.queued)))
		clear(t.queued)
	case tick:
		t.process()
	case dueAdded:
		t.received++
		t.announced(m.run)
	case windowLoaded:
		t.loaded(m)
	case dueGone:
		t.unqueue(m.runID)
		delete(t.movedWhileFiring, m.runID)
		if t.loading {
			t.goneWhileLoading[m.runID] = true
		}
	case retryRuns:
		for _, pr := range m.runs {
			if _, moved := t.movedWhileFiring[pr.RunID]; moved {
				continue // firedDone queues it at its new time
			}
			if _, ok := t.queued[pr.RunID]; !ok {
				t.push(pr, m.atMs)
			}
		}
		t.arm()
	case firedDone:
		for _, id := range m.runIDs {
			delete(t.firing, id)
			if pr, ok := t.movedWhileFiring[id]; ok {
				delete(t.movedWhileFiring, id)
				if _, queued := t.queued[id]; !queued {
					t.push(pr, pr.DueMs)
					t.arm()
				}
			}
		}
		if len(t.queued) == 0 && len(t.firing) == 0 {
			t.process() // perhaps idle now: retire
		}
	}
}

// start queues the runs in flight that no one delivers: left by a previous
// leader, or by this one in an earlier term (to re-fire under the same
// run id, or record as missed). Then it processes: with nothing loaded
// yet, that starts the load of everything due in the window, including
// runs that fell due while nobody was leading.
func (t *timerActor) start() {
	err := t.eng.state.InflightRuns(t.key.app, t.key.partition, func(pr projections.PendingRun) bool {
		if !t.eng.delivering.going(pr.RunID) {
			t.push(pr, pr.DueMs)
		}
		return true
	})
	if err != nil {
		t.eng.cfg.Logger.Error("load in-flight runs", "app", t.key.app, "partition", t.key.partition, "err", err)
	}
	t.process()
}

// announced takes a run that apply just made pending.
func (t *timerActor) announced(pr projections.PendingRun) {
	bound := t.loadedUntil
	if t.loading {
		bound = t.loadingUntil
	}
	switch {
	case t.firing[pr.RunID]:
		t.movedWhileFiring[pr.RunID] = pr
	case pr.DueMs < bound:
		if at, ok := t.queued[pr.RunID]; !ok || at != pr.DueMs {
			t.push(pr, pr.DueMs)
			if t.due[0].pr.RunID == pr.RunID {
				t.arm() // the next wake-up is earlier now
			}
		}
	case t.loading:
		t.beyondWhileLoading = min(t.beyondWhileLoading, pr.DueMs)
	case pr.DueMs < t.nextBeyond:
		t.nextBeyond = pr.DueMs
		t.arm()
	}
}

// loadAhead starts reading the runs due in [loadedUntil, until) in the
// background; windowLoaded brings them back.
func (t *timerActor) loadAhead(until int64) {
	t.loading, t.loadingUntil, t.beyondWhileLoading = true, until, noneBeyond
	t.goneWhileLoading = map[string]bool{}
	from, q, key := t.loadedUntil, t.eng.state, t.key
	self, root := t.self, t.eng.system.Root
	t.eng.inBackground(func() {
		var runs []projections.PendingRun
		next, err := q.DueRuns(key.app, key.partition, from, until, func(pr projections.PendingRun) bool {
			runs = append(runs, pr)
			return true
		})
		root.Send(self, windowLoaded{until: until, runs: runs, next: next, err: err})
	})
}

// loaded queues what a background load read, but not a run that went
// meanwhile: what was read of it may be older than its going (and if it
// came back, dueAdded announced it as it is now).
func (t *timerActor) loaded(m windowLoaded) {
	t.loading = false
	gone := t.goneWhileLoading
	t.goneWhileLoading = nil
	if m.err != nil {
		t.eng.cfg.Logger.Error("load due runs", "app", t.key.app, "partition", t.key.partition, "err", m.err)
		t.loadAfter = t.eng.clock.Now().Add(time.Second).UnixMilli()
		t.arm()
		return
	}
	for _, pr := range m.runs {
		if _, ok := t.queued[pr.RunID]; !ok && !t.firing[pr.RunID] && !gone[pr.RunID] {
			t.push(pr, pr.DueMs)
		}
	}
	t.loadedUntil = m.until
	t.nextBeyond = t.beyondWhileLoading
	if m.next >= 0 {
		t.nextBeyond = min(t.nextBeyond, m.next)
	}
	t.process()
}

// push queues pr to fire at atMs (its due time, or a retry's), in place
// of any time it was queued at before.
func (t *timerActor) push(pr projections.PendingRun, atMs int64) {
	if _, ok := t.queued[pr.RunID]; !ok {
		t.eng.queuedRuns.Add(1)
	}
	t.queued[pr.RunID] = atMs
	heap.Push(&t.due, dueRun{pr: pr, atMs: atMs})
}

// unqueue takes run id out of the queue (the heap entry stays, and no
// longer counts).
func (t *timerActor) unqueue(id string) {
	if _, ok := t.queued[id]; ok {
		t.eng.queuedRuns.Add(-1)
		delete(t.queued, id)
	}
}

// process extends the window if it is time, fires everything due now,
// retires the timer if its partition has nothing pending, else re-arms.
func (t *timerActor) process() {
	nowMs := t.eng.clock.Now().UnixMilli()
	window := t.eng.cfg.Window.Milliseconds()
	if !t.loading && t.loadedUntil-nowMs <= window/2 && nowMs >= t.loadAfter {
		if target := nowMs + window; t.nextBeyond >= target {
			t.loadedUntil = target // nothing is due before target: nothing to read
		} else {
			t.loadAhead(target)
		}
	}
	var batch []projections.PendingRun
	for t.due.Len() > 0 && t.due[0].atMs <= nowMs {
		d := heap.Pop(&t.due).(dueRun)
		pr := d.pr
		if at, ok := t.queued[pr.RunID]; !ok || at != d.atMs {
			continue // removed, or queued at another time
		}
		t.unqueue(pr.RunID)
		if t.firing[pr.RunID] {
			continue
		}
		t.firing[pr.RunID] = true
		batch = append(batch, pr)
	}
	if len(batch) > 0 {
		t.eng.fires.submit(fireRequest{ctx: t.ctx, timer: t.self, runs: batch})
	}
	if t.idle() && t.eng.retireTimer(t.key, t.self, t.received) {
		return
	}
	t.arm()
}

// idle reports whether the partition has nothing pending that this timer
// must fire: nothing queued or firing, nothing loading, and no run known
// beyond the window (runs in flight need no timer while this node leads).
func (t *timerActor) idle() bool {
	return len(t.queued) == 0 && len(t.firing) == 0 && !t.loading && t.nextBeyond == noneBeyond
}

// arm schedules the next tick: the next queued run, or the moment the
// window must be extended to take in the next known run (none while a
// load runs: its answer processes again).
func (t *timerActor) arm() {
	if t.wake != nil {
		t.wake.Stop()
	}
	next := int64(noneBeyond)
	if t.due.Len() > 0 {
		next = t.due[0].atMs
	}
	if !t.loading && t.nextBeyond != noneBeyond {
		window := t.eng.cfg.Window.Milliseconds()
		next = min(next, max(t.loadedUntil-window/2, t.nextBeyond-window, t.loadAfter))
	}
	if next == noneBeyond {
		return
	}
	self, root := t.self, t.eng.system.Root
	t.wake = t.eng.clock.At(time.UnixMilli(next), func() { root.Send(self, tick{}) })
}

// dueRun is a queued run and when to fire it.
type dueRun struct {
	pr   projections.PendingRun
	atMs int64
}

// dueHeap orders queued runs by when to fire them, then run id
// (deterministic).
type dueHeap []dueRun

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].atMs != h[j].atMs {
		return h[i].atMs < h[j].atMs
	}
	return h[i].pr.RunID < h[j].pr.RunID
}
func (h dueHeap) Swap(i, j int)       { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x interface{}) { *h = append(*h, x.(dueRun)) }
func (h *dueHeap) Pop() interface{} {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
