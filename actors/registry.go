package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/projections"
)

// The registry: which app, cron and timer actors live, and the routing of
// what apply changed to them. Actors are spawned on demand and stopped
// when what they stand for goes (a deleted or closed cron, a partition
// with nothing pending, the end of a term), so an app costs nothing for
// partitions that hold no runs.

type timerKey struct {
	app       string
	partition int
}

// timerEntry is a live timer and how many dueAdded messages the registry
// sent it: a timer may retire only once it has taken every one of them
// (retireTimer), or a run announced meanwhile would be lost.
type timerEntry struct {
	pid  *actor.PID
	sent uint64
}

// maxCronActors bounds the cron actors kept alive. They are caches of a
// parsed expression, made again on demand, so past the bound some are
// stopped (a request in flight to one of them fails and is retried).
const maxCronActors = 10_000

// appPID returns the app actor of appID, spawning it if needed.
func (e *Engine) appPID(appID string) *actor.PID {
	e.reg.Lock()
	defer e.reg.Unlock()
	if pid, ok := e.reg.apps[appID]; ok {
		return pid
	}
	pid := e.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newAppActor(e, appID) }))
	e.reg.apps[appID] = pid
	return pid
}

// cronPID returns the cron actor of schedule id, spawning it if needed;
// spec, if given, is its expression already parsed (a cron being created,
// not yet stored).
func (e *Engine) cronPID(id string, spec *cronspec.Spec) *actor.PID {
	e.reg.Lock()
	defer e.reg.Unlock()
	if pid, ok := e.reg.crons[id]; ok {
		return pid
	}
	if len(e.reg.crons) >= maxCronActors {
		n := 0
		for k, pid := range e.reg.crons {
			e.system.Root.Stop(pid)
			delete(e.reg.crons, k)
			if n++; n >= maxCronActors/10 {
				break
			}
		}
	}
	pid := e.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newCronActor(e, id, spec) }))
	e.reg.crons[id] = pid
	return pid
}

// forgetCron stops the cron actor of id, if any (its schedule was deleted
// or closed, or its create refused).
func (e *Engine) forgetCron(id string) {
	e.reg.Lock()
	defer e.reg.Unlock()
	if pid, ok := e.reg.crons[id]; ok {
		e.system.Root.Stop(pid)
		delete(e.reg.crons, id)
	}
}

func (e *Engine) stopCrons() {
	e.reg.Lock()
	defer e.reg.Unlock()
	for k, pid := range e.reg.crons {
		e.system.Root.Stop(pid)
		delete(e.reg.crons, k)
	}
}

// activate starts timers for the partitions of an active app that hold
// runs (one seek per such partition), if this node still leads in epoch.
// The app is marked active before the index is read, so a run that
// becomes pending meanwhile is either in what is read or announced to a
// timer by Observe.
func (e *Engine) activate(appID string, epoch uint64) {
	if !e.withTimers(epoch, func() { e.reg.active[appID] = true }) {
		return
	}
	parts, err := e.state.PartitionsWithRuns(appID)
	if err != nil {
		e.cfg.Logger.Error("partitions with runs: timers not started", "app", appID, "err", err)
		return
	}
	e.withTimers(epoch, func() {
		if e.reg.active[appID] {
			for _, p := range parts {
				e.ensureTimerLocked(timerKey{appID, p})
			}
		}
	})
}

// withTimers runs f with lead and reg held if this node leads in epoch,
// and reports whether it did.
func (e *Engine) withTimers(epoch uint64, f func()) bool {
	e.lead.Lock()
	defer e.lead.Unlock()
	if !e.lead.leading || e.lead.draining || e.lead.epoch != epoch {
		return false
	}
	e.reg.Lock()
	defer e.reg.Unlock()
	f()
	return true
}

// ensureTimerLocked returns the timer of k, spawning it for the current
// term. The caller holds lead (leading) and reg.
func (e *Engine) ensureTimerLocked(k timerKey) *timerEntry {
	if t, ok := e.reg.timers[k]; ok {
		return t
	}
	ctx := e.lead.ctx // the producer may run again later (supervisor restart), outside the lock
	t := &timerEntry{pid: e.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newTimer(e, k, ctx) }))}
	e.reg.timers[k] = t
	return t
}

func (e *Engine) stopTimersLocked(appID string) {
	for k, t := range e.reg.timers {
		if k.app == appID {
			e.system.Root.Stop(t.pid)
			delete(e.reg.timers, k)
		}
	}
}

// takeTimersLocked takes every timer out of the registry, and every app
// out of the active set (none starts a timer again until activated),
// returning the timers for the caller to stop. The caller holds reg.
func (e *Engine) takeTimersLocked() []*actor.PID {
	pids := make([]*actor.PID, 0, len(e.reg.timers))
	for k, t := range e.reg.timers {
		pids = append(pids, t.pid)
		delete(e.reg.timers, k)
	}
	clear(e.reg.active)
	return pids
}

// retireTimer stops the timer of k if it is pid and has taken every
// dueAdded sent to it (received): its partition has nothing pending. It
// reports whether the timer is gone; if not, messages are on their way
// to it and it carries on.
func (e *Engine) retireTimer(k timerKey, pid *actor.PID, received uint64) bool {
	e.reg.Lock()
	defer e.reg.Unlock()
	t, ok := e.reg.timers[k]
	if !ok || !t.pid.Equal(pid) {
		return true // already replaced or stopped
	}
	if t.sent != received {
		return false
	}
	delete(e.reg.timers, k)
	e.system.Root.Stop(pid)
	return true
}

// maxFiredKept bounds the fired runs' schedules waiting to be delivered.
const maxFiredKept = 1 << 16

// takeFired returns (and forgets) a run this leader has just recorded as
// fired, with its schedule as apply read it.
func (e *Engine) takeFired(runID string) (projections.FiredRun, bool) {
	e.fired.Lock()
	defer e.fired.Unlock()
	f, ok := e.fired.runs[runID]
	delete(e.fired.runs, runID)
	return f, ok
}

func (e *Engine) keepFired(runs []projections.FiredRun) {
	if len(runs) == 0 {
		return
	}
	e.fired.Lock()
	defer e.fired.Unlock()
	if len(e.fired.runs) > maxFiredKept {
		// Left by proposals that failed after they were applied; the
		// fire path reads the schedule when it finds none here.
		clear(e.fired.runs)
	}
	for _, f := range runs {
		e.fired.runs[f.Run.RunID] = f
	}
}

// Observe routes applied effects to the live actors. It runs on the apply
// goroutine: it only sends messages and spawns actors, never blocks.
func (e *Engine) Observe(fx projections.Effects) {
	if fx.Restored {
		// The state was replaced wholesale: every actor's view goes with it.
		e.stopCrons()
		if leading, _, _ := e.term(); leading {
			go e.OnLeadership(true)
		}
		return
	}
	e.keepSecrets(fx.Apps)
	for _, s := range fx.Deleted {
		e.forgetCron(s.ScheduleID)
	}
	for _, s := range fx.Closed {
		e.forgetCron(s.ScheduleID)
	}
	for _, s := range fx.Updated {
		e.forgetCron(s.ScheduleID) // its definition may have changed: the next ask loads it anew
	}
	e.delivering.forget(fx.Pending)
	e.lead.Lock()
	defer e.lead.Unlock()
	if !e.lead.leading || e.lead.draining {
		return
	}
	epoch := e.lead.epoch
	e.keepFired(fx.Fired)
	e.jobsChanged(fx.Jobs)
	for _, s := range fx.Deleted {
		if s.Callback.Workflow != nil {
			ctx, id := e.lead.ctx, s.ScheduleID
			e.inBackground(func() { e.startNext(ctx, id) }) // its waiting job is cancelled
		}
	}
	e.reg.Lock()
	defer e.reg.Unlock()
	for _, app := range fx.Apps {
		if app.Active {
			appID := app.AppID
			e.inBackground(func() { e.activate(appID, epoch) }) // reads the index: not on the apply goroutine
		} else {
			delete(e.reg.active, app.AppID)
			e.stopTimersLocked(app.AppID)
		}
	}
	// In apply's order: a run dropped and added again in this batch must
	// reach its timer as gone, then due.
	for _, c := range fx.Pending {
		pr := c.Run
		if !c.Gone {
			e.announceLocked(pr)
			continue
		}
		if t, ok := e.reg.timers[timerKey{pr.AppID, pr.Partition}]; ok {
			e.system.Root.Send(t.pid, dueGone{pr.RunID})
		}
		switch {
		case pr.Fired:
			// Its outcome is applied: the run parked behind it, if any,
			// goes (whatever this run's own policy was: the schedule may
			// have become exclusive while it ran).
			if next, ok := e.overlap.drop(pr.ScheduleID, pr.RunID); ok {
				e.announceLocked(next)
			}
		case pr.Exclusive:
			e.overlap.gone(pr)
		}
	}
}

// announceLocked hands a run that is due to its partition's timer,
// starting one if none runs. The caller holds reg.
func (e *Engine) announceLocked(pr projections.PendingRun) {
	t, ok := e.reg.timers[timerKey{pr.AppID, pr.Partition}]
	switch {
	case !e.reg.active[pr.AppID]:
		// activating: its timers will read the run from the index
	case ok:
		t.sent++
		e.system.Root.Send(t.pid, dueAdded{pr})
	default:
		e.ensureTimerLocked(timerKey{pr.AppID, pr.Partition}) // its first load reads the run
	}
}

// requeue hands a released run back to its timer, to fire now.
func (e *Engine) requeue(pr projections.PendingRun) {
	e.reg.Lock()
	defer e.reg.Unlock()
	e.announceLocked(pr)
}
