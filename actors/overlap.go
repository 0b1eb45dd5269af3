package actors

import (
	"fmt"
	"sync"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/projections"
)

// Exclusive schedules (overlap buffer_one, karajo's jobs) run one at a
// time. On the leader, a run of one that comes due while another of its
// runs is in flight is parked; it is let go (released) when that run's
// outcome is applied, and then fires however long it waited. One more that
// comes due meanwhile is skipped (MISS, saying why); a trigger then is
// refused (ErrRunWaiting). All of it is the leader's view, rebuilt from the
// state in each term: a parked run is still pending in the state, so the
// next leader finds it due.
type overlaps struct {
	sync.Mutex
	running  map[string]string                 // schedule → the run this leader fires or delivers
	parked   map[string]projections.PendingRun // schedule → the run waiting for it
	released map[string]bool                   // runs let go: they fire however overdue
}

// ErrRunWaiting: a trigger of an exclusive schedule that has a run in
// flight and one waiting (karajo answers 429).
var ErrRunWaiting = errkind.New(errkind.Conflict, "one run of the schedule is running and one is waiting")

// overlapTurn is what the fire path does with an exclusive run.
type overlapTurn int

const (
	turnFire     overlapTurn = iota // fire it (the schedule is now running it)
	turnReleased                    // fire it, overdue or not: it waited its turn
	turnPark                        // leave it pending until the run in flight ends
	turnSkip                        // a run is in flight and one waits: MISS
)

// take decides pr's turn, and if it fires, records it as its schedule's
// running run. inFlight reads whether the state holds another run of the
// schedule in flight (one of an earlier term, not yet re-fired here).
func (o *overlaps) take(pr projections.PendingRun, inFlight func() bool) overlapTurn {
	o.Lock()
	defer o.Unlock()
	if o.running == nil {
		o.running, o.parked, o.released = map[string]string{}, map[string]projections.PendingRun{}, map[string]bool{}
	}
	s := pr.ScheduleID
	switch cur := o.running[s]; {
	case cur == pr.RunID:
		return turnFire
	case pr.Fired: // a re-fire: it is the run in flight
		o.running[s] = pr.RunID
		return turnFire
	case cur == "" && o.released[pr.RunID]:
		delete(o.released, pr.RunID)
		o.running[s] = pr.RunID
		return turnReleased
	case cur == "" && !inFlight():
		if p, ok := o.parked[s]; ok && p.RunID != pr.RunID {
			return turnSkip // the parked one goes first
		}
		delete(o.parked, s)
		o.running[s] = pr.RunID
		return turnFire
	}
	if p, ok := o.parked[s]; ok && p.RunID != pr.RunID {
		return turnSkip
	}
	o.parked[s] = pr
	return turnPark
}

// drop forgets that run id of schedule s is running (it did not fire
// after all, or its outcome is applied), and returns the run parked
// behind it, now released, if any.
func (o *overlaps) drop(s, runID string) (projections.PendingRun, bool) {
	o.Lock()
	defer o.Unlock()
	if o.running[s] == runID {
		delete(o.running, s)
	}
	next, ok := o.parked[s]
	if !ok || o.running[s] != "" {
		return projections.PendingRun{}, false
	}
	delete(o.parked, s)
	o.released[next.RunID] = true
	return next, true
}

// gone forgets a parked run that stopped being pending unfired (paused,
// deleted, missed).
func (o *overlaps) gone(pr projections.PendingRun) {
	o.Lock()
	defer o.Unlock()
	if p, ok := o.parked[pr.ScheduleID]; ok && p.RunID == pr.RunID {
		delete(o.parked, pr.ScheduleID)
	}
	delete(o.released, pr.RunID)
}

// reset forgets everything: the term ended.
func (o *overlaps) reset() {
	o.Lock()
	defer o.Unlock()
	clear(o.running)
	clear(o.parked)
	clear(o.released)
}

// waiting reports whether schedule s has a run parked.
func (o *overlaps) waiting(s string) bool {
	o.Lock()
	defer o.Unlock()
	_, ok := o.parked[s]
	return ok
}

// otherInFlight reports whether the state holds a run of pr's schedule in
// flight other than pr.
func (e *Engine) otherInFlight(pr projections.PendingRun) bool {
	runs, err := e.state.PendingOf(pr.ScheduleID)
	if err != nil {
		e.cfg.Logger.Error("read a schedule's pending runs", "schedule", pr.ScheduleID, "err", err)
		return true // wait rather than overlap; the next outcome releases it
	}
	for _, r := range runs {
		if r.Fired && r.RunID != pr.RunID {
			return true
		}
	}
	return false
}

// busy refuses a trigger of exclusive schedule s while a run of it is in
// flight and another waits (parked, or due and about to be).
func (e *Engine) busy(s projections.Schedule, nowMs int64) error {
	if s.Jobs().Overlap != event.OverlapBufferOne {
		return nil
	}
	runs, err := e.state.PendingOf(s.ScheduleID)
	if err != nil {
		return err
	}
	inFlight, waiting := false, e.overlap.waiting(s.ScheduleID)
	for _, r := range runs {
		switch {
		case r.Fired:
			inFlight = true
		case r.Kind != projections.KindExpiry && r.DueMs <= nowMs:
			waiting = true
		}
	}
	if inFlight && waiting {
		return fmt.Errorf("%w: %s", ErrRunWaiting, s.ScheduleID)
	}
	return nil
}

// skipped is the MISS of a run of an exclusive schedule that came due
// while one of its runs was in flight and another waited: for a cron
// occurrence, with its next one (or its closing).
func (e *Engine) skipped(pr projections.PendingRun) ([]event.Payload, bool) {
	rc := event.RunCompleted{ScheduleID: pr.ScheduleID, RunID: pr.RunID, AppID: pr.AppID, Partition: pr.Partition,
		ScheduledTime: pr.ScheduledTime, Status: event.StatusMiss,
		ErrorMessage: "skipped: a run of this schedule was running and another was waiting (overlap buffer_one)"}
	if pr.Kind != projections.KindCron {
		return []event.Payload{rc}, true
	}
	ps, ok := e.firing(pr, pr.ScheduledTime)
	if !ok || len(ps) == 0 {
		return ps, ok
	}
	rf, fires := ps[0].(event.RunFired)
	if !fires {
		return ps, true // closed as unevaluable: nothing to skip
	}
	rc.NextRunTime = rf.NextRunTime
	return append([]event.Payload{rc}, ps[1:]...), true
}
