package actors

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/projections"
)

// A schedule's lifecycle after its creation: update, pause, resume and a
// triggered run. Each goes through the schedule's app actor, in order with
// the app's other commands, and its event is built when it is proposed,
// from the schedule as every command before it left it (see builtCommand):
// an update merges into that, a resume computes its next run from it.

// ScheduleChange is an update of a schedule: a nil field keeps its value.
type ScheduleChange struct {
	Payload *string
	// ScheduleTime and ScheduleTimeMs move a one-time schedule (unix s, or
	// ms for a sub-second time); Cron changes a cron's expression and zone.
	ScheduleTime   *int64
	ScheduleTimeMs *int64
	Cron           *cronspec.Spec
	Callback       *event.Callback
	Retry          *event.RetryPolicy
	Name           *string
	EndTime        *int64 // 0 removes it
	StopOnCallback *bool
	Labels         *map[string]string
	Counted        *bool
	Overlap        *string
	KeepOutputs    *int
	// NotifyOnSuccess and NotifyOnFailure replace the targets told of
	// outcomes.
	NotifyOnSuccess *[]string
	NotifyOnFailure *[]string
}

// JobOver is job options o with the ones c sets laid over them.
func (c ScheduleChange) JobOver(o event.JobOptions) event.JobOptions {
	if c.Counted != nil {
		o.Counted = *c.Counted
	}
	if c.Overlap != nil {
		o.Overlap = *c.Overlap
	}
	if c.KeepOutputs != nil {
		o.KeepOutputs = *c.KeepOutputs
	}
	if c.NotifyOnSuccess != nil {
		o.NotifyOnSuccess = *c.NotifyOnSuccess
	}
	if c.NotifyOnFailure != nil {
		o.NotifyOnFailure = *c.NotifyOnFailure
	}
	return o
}

// jobs reports whether c changes a field of event.JobsSince.
func (c ScheduleChange) jobs() bool {
	return c.Callback != nil && c.Callback.Shaped() || c.Counted != nil || c.Overlap != nil || c.KeepOutputs != nil ||
		c.NotifyOnSuccess != nil || c.NotifyOnFailure != nil ||
		c.Cron != nil && (c.Cron.Parts() > 1 || c.Cron.Manual())
}

// changed lists the fields c sets, by their API names.
func (c ScheduleChange) changed() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(c.Payload != nil, "payload")
	add(c.ScheduleTime != nil, "scheduleTime")
	add(c.ScheduleTimeMs != nil, "scheduleTimeMs")
	add(c.Cron != nil, "cronExpression")
	add(c.Cron != nil, "timeZone")
	add(c.Callback != nil, "callback")
	add(c.Retry != nil, "retry")
	add(c.Name != nil, "name")
	add(c.EndTime != nil, "endTime")
	add(c.StopOnCallback != nil, "stopOnCallback")
	add(c.Labels != nil, "labels")
	add(c.Counted != nil, "counted")
	add(c.Overlap != nil, "overlap")
	add(c.KeepOutputs != nil, "keepOutputs")
	add(c.NotifyOnSuccess != nil, "notifyOnSuccess")
	add(c.NotifyOnFailure != nil, "notifyOnFailure")
	return out
}

// UpdateSchedule changes a schedule in place and returns it as applied.
func (e *Engine) UpdateSchedule(ctx context.Context, id string, c ScheduleChange) (_ projections.Schedule, err error) {
	defer func() { e.count(ctx, "update", err) }()
	if c.jobs() {
		if err := e.readable(event.JobsSince); err != nil {
			return projections.Schedule{}, err
		}
	}
	return e.lifecycle(ctx, id, func() (event.Payload, error) { return e.buildUpdate(id, c) })
}

// PauseSchedule stops a schedule from firing until it is resumed.
func (e *Engine) PauseSchedule(ctx context.Context, id string) (_ projections.Schedule, err error) {
	defer func() { e.count(ctx, "pause", err) }()
	return e.lifecycle(ctx, id, func() (event.Payload, error) {
		s, err := e.liveSchedule(id)
		if err != nil {
			return nil, err
		}
		if s.Status == event.StatusPaused {
			return nil, fmt.Errorf("%w: %s", projections.ErrSchedulePaused, id)
		}
		return event.SchedulePaused{ScheduleID: id, AppID: s.AppID}, nil
	})
}

// ResumeSchedule lets a paused schedule fire again: a cron from its next
// occurrence after now, a one-time schedule at its own time.
func (e *Engine) ResumeSchedule(ctx context.Context, id string) (_ projections.Schedule, err error) {
	defer func() { e.count(ctx, "resume", err) }()
	return e.lifecycle(ctx, id, func() (event.Payload, error) {
		s, err := e.liveSchedule(id)
		if err != nil {
			return nil, err
		}
		if s.Status != event.StatusPaused {
			return nil, fmt.Errorf("%w: %s", projections.ErrScheduleNotPaused, id)
		}
		ev := event.ScheduleResumed{ScheduleID: id, AppID: s.AppID}
		if s.IsCron() {
			next := e.askCron(id, nextAfter{T: e.clock.Now().Unix()})
			if next.err != nil {
				return nil, fmt.Errorf("next run of %s: %w", id, next.err)
			}
			ev.NextRunTime = next.next
		}
		return ev, nil
	})
}

// TriggerRun fires one run of a cron now, outside its occurrences, and
// returns the run's id.
func (e *Engine) TriggerRun(ctx context.Context, id string) (runID string, err error) {
	defer func() { e.count(ctx, "trigger", err) }()
	_, err = e.lifecycle(ctx, id, func() (event.Payload, error) {
		s, err := e.liveSchedule(id)
		if err != nil {
			return nil, err
		}
		if !s.IsCron() {
			return nil, fmt.Errorf("%w: %s is a one-time schedule: only a cron's run is triggered (update its "+
				"scheduleTime to run it now)", projections.ErrInvalidEvent, id)
		}
		if err := e.busy(s, e.clock.Now().UnixMilli()); err != nil {
			return nil, err
		}
		runID = event.TriggerRunID(id, s.Triggers+1)
		return event.RunTriggered{ScheduleID: id, AppID: s.AppID, RunID: runID, Partition: s.Partition}, nil
	})
	return runID, err
}

// lifecycle runs a built command on schedule id's app and returns the
// schedule as applied; a refusal is confirmed (confirmRefusal).
func (e *Engine) lifecycle(ctx context.Context, id string, build func() (event.Payload, error)) (projections.Schedule, error) {
	return confirmRefusal(e, func() (projections.Schedule, error) { return e.lifecycleOnce(ctx, id, build) })
}

// confirmRefusal runs a write and, when this node's state refuses it (the
// schedule is not found, closed, paused already...), checks that state is
// current before answering: a node that still believes it leads may have
// been deposed while it was stopped or cut off, and miss writes a newer
// leader committed. A 404 or 409 drawn from that state is not
// linearizable (the chaos suite caught a pause answered 404 by such a node
// 150 ms after the create was acknowledged elsewhere). Nothing was
// proposed for a refused write, so it runs once more on the state as of
// the cluster's commit index; if this node cannot reach that (deposed, no
// quorum), the write answers 503.
func confirmRefusal[T any](e *Engine, write func() (T, error)) (T, error) {
	v, err := write()
	if !refusedByState(err) {
		return v, err
	}
	if lerr := e.Linearize(); lerr != nil {
		var zero T
		return zero, lerr
	}
	return write()
}

// Linearizer brings a node's state up to every acknowledged write (the
// Engine is one).
type Linearizer interface{ Linearize() error }

// ForWrite is read (of what a write names) confirmed when it finds
// nothing: read again once this node has applied every acknowledged write.
// An API answers a write's 404 from it, for the reason confirmRefusal
// gives.
func ForWrite[T any](l Linearizer, read func() (T, bool, error)) func() (T, bool, error) {
	return func() (T, bool, error) {
		v, found, err := read()
		if err != nil || found {
			return v, found, err
		}
		if err := l.Linearize(); err != nil {
			return v, false, err
		}
		return read()
	}
}

// refusedByState: err is a refusal drawn from the state (not found, or a
// conflict with it), not from the input.
func refusedByState(err error) bool {
	return errors.Is(err, errkind.NotFound) || errors.Is(err, errkind.Conflict) || errors.Is(err, projections.ErrAppNotFound) ||
		errors.Is(err, projections.ErrAppAlreadyActive) || errors.Is(err, projections.ErrAppAlreadyInactive)
}

func (e *Engine) lifecycleOnce(ctx context.Context, id string, build func() (event.Payload, error)) (projections.Schedule, error) {
	if err := e.readable(event.LifecycleSince); err != nil {
		return projections.Schedule{}, err
	}
	s, err := e.liveSchedule(id)
	if errors.Is(err, projections.ErrScheduleClosed) {
		err = nil // the app actor's build answers it, in order with what came before
	}
	if err != nil {
		return projections.Schedule{}, err
	}
	if _, err := e.ask(ctx, s.AppID, func(ch chan<- reply) interface{} {
		return builtCommand{build: build, actor: actorOf(ctx), reply: ch}
	}); err != nil {
		return projections.Schedule{}, err
	}
	s, ok, err := e.state.Schedule(id)
	if err == nil && !ok {
		err = fmt.Errorf("%w: schedule %s", projections.ErrScheduleNotFound, id)
	}
	return s, err
}

// visibleSchedule reads schedule id as the APIs show it: it must exist,
// be a schedule (not a cron run) and not be deleted.
func (e *Engine) visibleSchedule(id string) (projections.Schedule, error) {
	s, ok, err := e.state.Schedule(id)
	switch {
	case err != nil:
		return s, err
	case !ok || s.ParentID != "" || s.Status == event.StatusDeleted:
		return s, fmt.Errorf("%w: schedule %s", projections.ErrScheduleNotFound, id)
	}
	return s, nil
}

// liveSchedule reads schedule id (not a cron run) for a change: it must
// exist, not deleted, and be scheduled or paused.
func (e *Engine) liveSchedule(id string) (projections.Schedule, error) {
	s, err := e.visibleSchedule(id)
	if err == nil && !s.Active() {
		err = fmt.Errorf("%w: %s is %s", projections.ErrScheduleClosed, id, s.Status)
	}
	return s, err
}

// buildUpdate merges c into schedule id as it stands and, for a cron whose
// occurrences the change moves, computes its next run.
func (e *Engine) buildUpdate(id string, c ScheduleChange) (event.Payload, error) {
	s, err := e.liveSchedule(id)
	if err != nil {
		return nil, err
	}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", projections.ErrInvalidEvent, fmt.Sprintf(format, args...))
	}
	if s.IsCron() && (c.ScheduleTime != nil || c.ScheduleTimeMs != nil) {
		return nil, invalid("%s is a cron schedule: change its cronExpression, not a scheduleTime", id)
	}
	if !s.IsCron() && (c.Cron != nil || c.EndTime != nil || c.StopOnCallback != nil) {
		return nil, invalid("%s is a one-time schedule: cronExpression, timeZone, endTime and stopOnCallback are for crons", id)
	}
	u := event.ScheduleUpdated{ScheduleID: id, AppID: s.AppID, Payload: s.Payload, ScheduleTime: s.ScheduleTime,
		ScheduleTimeMs: s.ScheduleTimeMs, CronExpression: s.CronExpression, TimeZone: s.TimeZone,
		NextRunTime: s.NextRunTime, Callback: s.Callback, Retry: s.Retry, Definition: s.Definition, Changed: c.changed()}
	u.Labels = maps.Clone(s.Labels)
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&u.Payload, c.Payload)
	set(&u.Name, c.Name)
	if c.Callback != nil {
		u.Callback = *c.Callback
	}
	if c.Retry != nil {
		u.Retry = c.Retry
	}
	if c.StopOnCallback != nil {
		u.StopOnCallback = *c.StopOnCallback
	}
	if c.Labels != nil {
		u.Labels = *c.Labels
	}
	u.Job = c.JobOver(u.Jobs()).Ref()
	if err := e.CheckTargets(u.Definition); err != nil {
		return nil, err
	}
	switch {
	case c.ScheduleTimeMs != nil:
		u.ScheduleTimeMs, u.ScheduleTime = *c.ScheduleTimeMs, *c.ScheduleTimeMs/1000
	case c.ScheduleTime != nil:
		u.ScheduleTime, u.ScheduleTimeMs = *c.ScheduleTime, 0
	}
	if !s.IsCron() {
		return u, nil
	}
	if c.EndTime != nil {
		u.EndTime = *c.EndTime
	}
	now := e.clock.Now()
	if u.EndTime != 0 && u.EndTime <= now.Unix() && u.EndTime != s.EndTime {
		return nil, invalid("endTime %s is not in the future", time.Unix(u.EndTime, 0).UTC().Format(time.RFC3339))
	}
	spec := c.Cron
	if spec != nil {
		u.CronExpression, u.TimeZone = spec.Expression(), ""
		if loc := spec.Location(); loc != nil && loc != time.UTC {
			u.TimeZone = loc.String()
		}
	}
	if s.Status == event.StatusPaused {
		u.NextRunTime = 0 // its resume computes it
		return u, nil
	}
	if spec == nil && u.EndTime == s.EndTime {
		return u, nil // its occurrences do not move
	}
	if spec == nil {
		if spec, err = cronspec.Load(s.CronExpression, s.TimeZone); err != nil {
			return nil, fmt.Errorf("cron expression of %s: %w", id, err)
		}
	}
	next := e.askCron(id, nextUnder{Spec: spec, End: u.EndTime, Now: now})
	switch {
	case next.err != nil:
		return nil, invalid("%v", next.err)
	case next.next == 0 && !next.ended && !spec.Manual():
		return nil, invalid("cron expression %q never fires after %s", u.CronExpression, now.UTC().Format(time.RFC3339))
	}
	u.NextRunTime = next.next
	return u, nil
}
