package actors

import (
	"context"
	"fmt"
	"time"
)

// firedBy is this node and the term it leads in ("" while not leading).
func (e *Engine) firedBy() string {
	e.lead.Lock()
	defer e.lead.Unlock()
	return e.lead.firedBy
}

// Leading reports whether this node fires callbacks now.
func (e *Engine) Leading() bool {
	e.lead.Lock()
	defer e.lead.Unlock()
	return e.lead.leading
}

// term returns whether this node leads, the epoch and the term's context.
func (e *Engine) term() (leading bool, epoch uint64, ctx context.Context) {
	e.lead.Lock()
	defer e.lead.Unlock()
	return e.lead.leading, e.lead.epoch, e.lead.ctx
}

// WhileLeading registers task to run in the background each time this
// node takes over as leader (after its barrier), with the term's context,
// which ends when it steps down: work only the leader does, such as
// reconciling a configuration file into the state. Register tasks before
// the node can lead.
func (e *Engine) WhileLeading(task func(ctx context.Context)) {
	e.leaderTasks = append(e.leaderTasks, task)
}

// OnLeadership reacts to raft leadership changes (called in order).
func (e *Engine) OnLeadership(isLeader bool) {
	e.lead.Lock()
	e.lead.epoch++
	epoch := e.lead.epoch
	e.stepDownLocked()
	e.lead.Unlock()
	if isLeader {
		e.inBackground(func() { e.takeOver(epoch) })
	}
}

// takeOver enables firing once this node has applied every entry committed
// before it became leader: a barrier, then timers for the partitions of
// every active app that hold runs.
func (e *Engine) takeOver(epoch uint64) {
	for {
		err := e.repl.Barrier(e.cfg.ProposeTimeout)
		e.lead.Lock()
		if e.lead.epoch != epoch {
			e.lead.Unlock()
			return
		}
		if err == nil {
			e.lead.leading = true
			e.lead.firedBy = fmt.Sprintf("%s/%d", e.cfg.NodeID, e.repl.Term())
			e.lead.ctx, e.lead.cancel = context.WithCancel(context.Background())
			ctx := e.lead.ctx
			e.inBackground(func() { e.retain(ctx) })
			e.inBackground(func() { e.resumeJobs(ctx) })
			for _, task := range e.leaderTasks {
				e.inBackground(func() { task(ctx) })
			}
			e.lead.Unlock()
			break
		}
		e.lead.Unlock()
		e.cfg.Logger.Warn("barrier before taking over failed; retrying", "err", err)
		time.Sleep(100 * time.Millisecond)
	}
	apps, err := e.state.Apps()
	if err != nil {
		e.cfg.Logger.Error("load apps to start timers", "err", err)
		return
	}
	active := 0
	for _, app := range apps {
		if app.Active {
			active++
			e.activate(app.AppID, epoch)
		}
	}
	e.cfg.Logger.Info("leading: timers started", "apps", len(apps), "active", active)
}

// Drain readies this node to stop without cutting calls short: it fires
// nothing more (its timers stop and none start again), then waits until
// the runs already on their way have been fired and every call it is
// making has finished with its outcome applied, or until ctx ends. The
// term stays this node's meanwhile, so outcomes commit and nothing is
// fired twice; Stop ends it. It returns how many calls were still going
// when ctx ended (0: none): those are cut short by Stop and fired again,
// under the same run ids, by the next leader.
func (e *Engine) Drain(ctx context.Context) int {
	e.lead.Lock()
	e.lead.draining = true
	e.reg.Lock()
	timers := e.takeTimersLocked()
	e.reg.Unlock()
	e.lead.Unlock()
	for _, pid := range timers {
		// Once stopped, a timer submits no more runs to fire.
		_ = e.system.Root.StopFuture(pid).Wait()
	}
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		going := e.delivering.count()
		if going == 0 && e.fires.pending.Load() == 0 {
			return 0
		}
		select {
		case <-ctx.Done():
			return going + int(e.fires.pending.Load())
		case <-poll.C:
		}
	}
}

// stepDownLocked stops every actor that acts as the leader, and cancels
// deliveries in flight: a deposed leader must not keep calling out. App
// actors go too: their view of their app was made for proposing as the
// leader. The caller holds lead.
func (e *Engine) stepDownLocked() {
	e.lead.leading = false
	e.lead.cancel()
	e.reg.Lock()
	for _, pid := range e.takeTimersLocked() {
		e.system.Root.Stop(pid)
	}
	for k, pid := range e.reg.apps {
		e.system.Root.Stop(pid)
		delete(e.reg.apps, k)
	}
	e.reg.Unlock()
	e.fired.Lock()
	clear(e.fired.runs)
	e.fired.Unlock()
	e.delivering.reset()
	e.overlap.reset()
	e.stopJobs()
	e.noticeTimers.reset()
}
