package projections

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/cockroachdb/pebble/v2"
)

// Rejections: an event that breaks an invariant is refused with one of
// these (wrapped with detail) and changes nothing.
var (
	ErrAppExists          = errors.New("app already registered")
	ErrAppNotFound        = errors.New("unregistered App")
	ErrAppInactive        = errors.New("app is deactivated")
	ErrAppAlreadyActive   = errors.New("app is already activated")
	ErrAppAlreadyInactive = errors.New("app is already deactivated")
	ErrScheduleExists     = errkind.New(errkind.Conflict, "schedule already exists")
	ErrScheduleNotFound   = errkind.New(errkind.NotFound, "not found")
	ErrRunNotPending      = errkind.New(errkind.Conflict, "run is not pending")
	ErrRunAlreadyFired    = errkind.New(errkind.Conflict, "run already fired")
	ErrRunNotFired        = errkind.New(errkind.Conflict, "run has not fired")
	ErrInvalidEvent       = errkind.New(errkind.Invalid, "invalid event")
	ErrScheduleClosed     = errkind.New(errkind.Conflict, "schedule is closed")
	ErrTokenExists        = errkind.New(errkind.Conflict, "token already exists")
	ErrTokenNotFound      = errkind.New(errkind.NotFound, "no such token")
	ErrNameTaken          = errkind.New(errkind.Conflict, "the app has a schedule of that name")
	ErrSchedulePaused     = errkind.New(errkind.Conflict, "schedule is paused")
	ErrScheduleNotPaused  = errkind.New(errkind.Conflict, "schedule is not paused")
)

// Batch is an indexed Pebble batch: apply reads its own earlier writes, so
// several events applied in one batch see each other.
type Batch interface {
	pebble.Reader
	Set(key, value []byte, opts *pebble.WriteOptions) error
	Delete(key []byte, opts *pebble.WriteOptions) error
}

// Effects collects what changed for the live scheduler (timer actors) to
// react to once the batch is committed. Rebuilds ignore it.
type Effects struct {
	// Pending lists the runs that became pending (not fired yet) or
	// stopped being pending, in the order apply made them: one batch may
	// drop a run and add it again under the same id (a cron update whose
	// next occurrence is the one already pending, a one-time schedule
	// moved), and only that order tells which came last.
	Pending []PendingChange
	Apps    []App      // registered, activated or deactivated
	Deleted []Schedule // schedules deleted
	Closed  []Schedule // schedules closed (they fire no more)
	Updated []Schedule // schedules updated, paused or resumed (a cron's definition may have changed)
	Fired   []FiredRun // runs recorded as fired, with what their call needs
	Jobs    []Job      // workflow jobs created, started, finished or cancelled, as they are now

	// Restored: the whole state was replaced from a snapshot; reload everything.
	Restored bool
}

// PendingChange is a run that became pending, or stopped being pending
// (Gone).
type PendingChange struct {
	Run  PendingRun
	Gone bool
}

// FiredRun is a run that a RunFired made in flight, with its schedule as
// apply read it (callback, payload, retry policy): the leader that
// proposed the RunFired delivers the call with it instead of reading the
// schedule again.
type FiredRun struct {
	Run      PendingRun
	Schedule Schedule
	Counter  int // the run's number, if its schedule is Counted (0 for a re-fire: it keeps its own)
}

// Apply applies one event to the projections in b. It returns the number
// of records a bulk action touched (0 for other events), or a rejection.
// Handlers validate first and write after, so a rejection writes nothing.
func Apply(b Batch, ev event.Event, fx *Effects) (int, error) {
	p, err := ev.Payload()
	if err != nil {
		return 0, err
	}
	return applyPayload(b, ev, p, fx)
}

// Record applies ev to the read models in b and, if they accept it,
// appends it to the event log in the same batch: what every writer of a
// state store does with each event (the FSM for the events of an entry,
// the bench's log generator, tests). ev.Seq must be the log's next. A
// rejection writes nothing and is returned as Apply returns it.
func Record(b Batch, ev event.Event, fx *Effects) (int, error) {
	n, err := Apply(b, ev, fx)
	if err != nil {
		return 0, err
	}
	if err := eventlog.Append(b, ev); err != nil {
		return 0, err
	}
	return n, nil
}

// applyPayload is Apply with the event's payload already decoded.
func applyPayload(b Batch, ev event.Event, p event.Payload, fx *Effects) (int, error) {
	if fx == nil {
		fx = &Effects{}
	}
	a := &applier{b: b, ev: ev, fx: fx}
	n, err := a.apply(p)
	if err != nil {
		return 0, err
	}
	return n, a.recordHistory()
}

func (a *applier) apply(p event.Payload) (int, error) {
	switch p := p.(type) {
	case *event.AppRegistered:
		a.app = p.AppID
		return 0, a.appRegistered(p)
	case *event.AppActivated:
		a.app = p.AppID
		return 0, a.appActive(p.AppID, true)
	case *event.AppDeactivated:
		a.app = p.AppID
		return 0, a.appActive(p.AppID, false)
	case *event.ScheduleCreated:
		a.app = p.AppID
		a.touch(p.ScheduleID, false)
		return 0, a.scheduleCreated(p)
	case *event.ScheduleDeleted:
		a.touch(p.ScheduleID, true)
		return 0, a.scheduleDeleted(p)
	case *event.RunFired:
		a.touch(p.ScheduleID, false)
		return 0, a.runFired(p)
	case *event.RunCompleted:
		a.touch(p.ScheduleID, true)
		return 0, a.runCompleted(p)
	case *event.BulkAction:
		a.app = p.AppID
		return a.bulkAction(p)
	case *event.NodeAnnounced:
		return 0, a.nodeAnnounced(p)
	case *event.EventsCompacted:
		return a.eventsCompacted(p)
	case *event.ScheduleClosed:
		a.touch(p.ScheduleID, true)
		return 0, a.scheduleClosed(p)
	case *event.SecretRotated:
		a.app = p.AppID
		return 0, a.secretRotated(p)
	case *event.TokenIssued:
		return 0, a.tokenIssued(p)
	case *event.TokenRevoked:
		return 0, a.tokenRevoked(p)
	case *event.ScheduleUpdated:
		a.touch(p.ScheduleID, false)
		return 0, a.scheduleUpdated(p)
	case *event.SchedulePaused:
		a.touch(p.ScheduleID, false)
		return 0, a.schedulePaused(p)
	case *event.ScheduleResumed:
		a.touch(p.ScheduleID, false)
		return 0, a.scheduleResumed(p)
	case *event.RunTriggered:
		a.touch(p.ScheduleID, false)
		return 0, a.runTriggered(p)
	case *event.ScheduleStoppedByCallback:
		a.touch(p.ScheduleID, true)
		return 0, a.scheduleStopped(p)
	case *event.SignatureSpent:
		return 0, a.signatureSpent(p)
	case *event.RunOutput:
		return 0, a.runOutput(p)
	case *event.JobCreated:
		a.app = p.AppID
		a.touch(p.ScheduleID, false)
		return 0, a.jobCreated(p)
	case *event.JobStarted:
		a.touch(p.ScheduleID, false)
		return 0, a.jobStarted(p)
	case *event.TaskStarted:
		a.touch(p.ScheduleID, false)
		return 0, a.taskStarted(p)
	case *event.TaskFinished:
		a.touch(p.ScheduleID, false)
		return 0, a.taskFinished(p)
	case *event.JobFinished:
		a.touch(p.ScheduleID, false)
		return 0, a.jobFinished(p)
	case *event.JobCancelled:
		a.touch(p.ScheduleID, false)
		return 0, a.jobCancelled(p)
	case *event.NotificationSent:
		// Nothing of the state changes: it goes into its schedule's (and
		// app's) history, where a user looks for why a mail never came.
		if _, err := a.schedule(p.ScheduleID); err != nil {
			return 0, err
		}
		a.app = p.AppID
		a.touch(p.ScheduleID, false)
		return 0, a.jobNotified(p)
	}
	return 0, fmt.Errorf("%w: no apply rule for %s", ErrInvalidEvent, a.ev.Type)
}

type applier struct {
	b  Batch
	ev event.Event
	fx *Effects

	// What the event is about, for the history indexes: its app and the
	// schedules it touched (with whether it may have opened or closed them).
	app     string
	touched []touchedSchedule
}

type touchedSchedule struct {
	id          string
	mayCloseNow bool
}

func (a *applier) touch(id string, mayClose bool) {
	a.touched = append(a.touched, touchedSchedule{id: id, mayCloseNow: mayClose})
}

// nowMs is the proposer's stamp of the event, the only "time" apply knows.
func (a *applier) nowMs() int64 { return a.ev.Time / 1e6 }

func (a *applier) appRegistered(p *event.AppRegistered) error {
	if p.AppID == "" || p.Partitions < 1 {
		return fmt.Errorf("%w: app %q with %d partitions", ErrInvalidEvent, p.AppID, p.Partitions)
	}
	if _, ok, err := getRecord[App](a.b, appKey(p.AppID)); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %s", ErrAppExists, p.AppID)
	}
	app := App{AppID: p.AppID, Partitions: p.Partitions, Active: p.Active, CreatedAt: a.nowMs(), SigningSecret: p.SigningSecret}
	a.fx.Apps = append(a.fx.Apps, app)
	return putRecord(a, appKey(app.AppID), app)
}

func (a *applier) appActive(appID string, active bool) error {
	app, ok, err := getRecord[App](a.b, appKey(appID))
	if err != nil {
		return err
	}
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", ErrAppNotFound, appID)
	case active && app.Active:
		return fmt.Errorf("%w: %s", ErrAppAlreadyActive, appID)
	case !active && !app.Active:
		return fmt.Errorf("%w: %s", ErrAppAlreadyInactive, appID)
	}
	app.Active = active
	a.fx.Apps = append(a.fx.Apps, app)
	return putRecord(a, appKey(appID), app)
}

// secretRotated makes the app sign with a new secret, and with the one
// before until the event's PreviousUntil.
func (a *applier) secretRotated(p *event.SecretRotated) error {
	app, ok, err := getRecord[App](a.b, appKey(p.AppID))
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("%w: %s", ErrAppNotFound, p.AppID)
	case p.Secret == "":
		return fmt.Errorf("%w: rotation to no secret", ErrInvalidEvent)
	}
	app.PreviousSecret, app.PreviousUntil, app.SigningSecret = app.SigningSecret, p.PreviousUntil, p.Secret
	if app.PreviousSecret == "" {
		app.PreviousUntil = 0
	}
	a.fx.Apps = append(a.fx.Apps, app)
	return putRecord(a, appKey(app.AppID), app)
}

func (a *applier) tokenIssued(p *event.TokenIssued) error {
	if _, ok, err := getRecord[Token](a.b, tokenKey(p.TokenID)); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %s", ErrTokenExists, p.TokenID)
	}
	if _, closer, err := a.b.Get(tokenHashKey(p.Hash)); err == nil {
		closer.Close()
		return fmt.Errorf("%w: a token with the same secret", ErrTokenExists)
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	t := Token{TokenID: p.TokenID, Name: p.Name, Role: p.Role, Apps: p.Apps, Hash: p.Hash, IssuedAt: a.nowMs(), IssuedBy: a.ev.Actor}
	if err := a.b.Set(tokenHashKey(t.Hash), []byte(t.TokenID), nil); err != nil {
		return err
	}
	return putRecord(a, tokenKey(t.TokenID), t)
}

func (a *applier) tokenRevoked(p *event.TokenRevoked) error {
	t, ok, err := getRecord[Token](a.b, tokenKey(p.TokenID))
	switch {
	case err != nil:
		return err
	case !ok || t.RevokedAt != 0:
		return fmt.Errorf("%w: %s", ErrTokenNotFound, p.TokenID)
	}
	t.RevokedAt, t.RevokedBy = a.nowMs(), a.ev.Actor
	if err := a.b.Delete(tokenHashKey(t.Hash), nil); err != nil {
		return err
	}
	return putRecord(a, tokenKey(t.TokenID), t)
}

func (a *applier) activeApp(appID string) (App, error) {
	app, ok, err := getRecord[App](a.b, appKey(appID))
	if err != nil {
		return App{}, err
	}
	if !ok {
		return App{}, fmt.Errorf("%w: %s", ErrAppNotFound, appID)
	}
	if !app.Active {
		return App{}, fmt.Errorf("%w: %s", ErrAppInactive, appID)
	}
	return app, nil
}

// NewSchedule is the record apply writes for an accepted ScheduleCreated
// stamped at createdAtMs with sequence number seq. The create answer is
// built with it rather than read back from the store.
func NewSchedule(p *event.ScheduleCreated, createdAtMs int64, seq uint64) Schedule {
	s := Schedule{
		ScheduleID: p.ScheduleID, AppID: p.AppID, Partition: p.Partition, Payload: p.Payload,
		ScheduleTime: p.ScheduleTime, ScheduleTimeMs: p.ScheduleTimeMs, CronExpression: p.CronExpression, TimeZone: p.TimeZone,
		NextRunTime: p.NextRunTime, Callback: p.Callback, Retry: p.Retry,
		Status: event.StatusScheduled, CreatedAt: createdAtMs, CreatedSeq: seq, Definition: p.Definition,
	}
	if p.Paused {
		s.Status, s.NextRunTime = event.StatusPaused, 0
	}
	return s
}

func (a *applier) scheduleCreated(p *event.ScheduleCreated) error {
	app, err := a.activeApp(p.AppID)
	if err != nil {
		return err
	}
	if p.ScheduleID == "" || p.Partition < 0 || p.Partition >= app.Partitions ||
		(p.IsCron() == (p.ScheduleTime > 0)) || (p.ScheduleTimeMs != 0 && p.ScheduleTimeMs/1000 != p.ScheduleTime) {
		return fmt.Errorf("%w: schedule %q partition %d of %d", ErrInvalidEvent, p.ScheduleID, p.Partition, app.Partitions)
	}
	if _, ok, err := getRecord[Schedule](a.b, scheduleKey(p.ScheduleID)); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %s", ErrScheduleExists, p.ScheduleID)
	}
	if err := a.nameFree(p.AppID, p.Name, p.ScheduleID); err != nil {
		return err
	}
	s := NewSchedule(p, a.nowMs(), a.ev.Seq)
	if err := putRecord(a, scheduleKey(s.ScheduleID), s); err != nil {
		return err
	}
	if err := a.setName(s, ""); err != nil {
		return err
	}
	if s.IsCron() {
		if err := a.b.Set(cronIndexKey(s.AppID, s.ScheduleID), nil, nil); err != nil {
			return err
		}
		if err := a.setExpiry(s, 0); err != nil {
			return err
		}
		return a.addCronOccurrence(s, s.NextRunTime)
	}
	if err := a.b.Set(atKey(s.AppID, s.ScheduleTime, s.ScheduleID), append([]byte{'o'}, s.ScheduleID...), nil); err != nil {
		return err
	}
	if s.Status == event.StatusPaused {
		return nil // its run becomes pending on resume
	}
	return a.addPending(s, PendingRun{
		RunID: s.ScheduleID, ScheduleID: s.ScheduleID, AppID: s.AppID, Partition: s.Partition,
		ScheduledTime: s.ScheduleTime, DueMs: s.DueMs(), Kind: KindOnce,
	})
}

// addCronOccurrence makes occurrence t of cron s pending (t == 0: none;
// none either after the cron's end time, or while it is not scheduled).
func (a *applier) addCronOccurrence(s Schedule, t int64) error {
	if t <= 0 || (s.EndTime != 0 && t > s.EndTime) || s.Status != event.StatusScheduled {
		return nil
	}
	runID := event.CronRunID(s.ScheduleID, t)
	if _, ok, err := getRecord[PendingRun](a.b, pendKey(runID)); err != nil || ok {
		return err
	}
	return a.addPending(s, PendingRun{
		RunID: runID, ScheduleID: s.ScheduleID, AppID: s.AppID, Partition: s.Partition,
		ScheduledTime: t, DueMs: t * 1000, Kind: KindCron,
	})
}

func (a *applier) scheduleDeleted(p *event.ScheduleDeleted) error {
	s, ok, err := getRecord[Schedule](a.b, scheduleKey(p.ScheduleID))
	if err != nil {
		return err
	}
	if !ok || s.Status == event.StatusDeleted {
		return fmt.Errorf("%w: schedule %s", ErrScheduleNotFound, p.ScheduleID)
	}
	return a.deleteSchedule(s)
}

func (a *applier) deleteSchedule(s Schedule) error {
	pending, err := a.pendingRunsOf(s)
	if err != nil {
		return err
	}
	for _, pr := range pending {
		if err := a.removePending(pr); err != nil {
			return err
		}
	}
	if err := a.clearName(s); err != nil {
		return err
	}
	s.Status = event.StatusDeleted
	s.NextRunTime = 0
	a.fx.Deleted = append(a.fx.Deleted, s)
	return putRecord(a, scheduleKey(s.ScheduleID), s)
}

func (a *applier) runFired(p *event.RunFired) error {
	pr, err := a.pendingRun(p.RunID, p.ScheduleID)
	if err != nil {
		return err
	}
	if pr.Kind == KindExpiry {
		return fmt.Errorf("%w: %s is an end time, not a run", ErrInvalidEvent, p.RunID)
	}
	if _, err := a.activeApp(pr.AppID); err != nil {
		return err
	}
	if pr.Fired && !p.Refire {
		return fmt.Errorf("%w: %s", ErrRunAlreadyFired, p.RunID)
	}
	s, err := a.schedule(pr.ScheduleID)
	if err != nil {
		return err
	}
	wasFired := pr.Fired
	if !wasFired {
		if err := a.b.Delete(dueKey(pr), nil); err != nil {
			return err
		}
		if err := a.b.Set(inflKey(pr), nil, nil); err != nil {
			return err
		}
	}
	pr.Fired, pr.FiredAt = true, a.nowMs()
	if err := putRecord(a, pendKey(pr.RunID), pr); err != nil {
		return err
	}
	counter := 0
	if s.Jobs().Counted && !wasFired {
		// Numbered as it fires: a re-fire keeps its number, a miss takes
		// none (karajo counts the runs it starts). The branches below
		// write s, or (putCounted) write it for the count.
		s.Runs++
		counter = s.Runs
	}
	putCounted := func() error {
		if counter == 0 {
			return nil
		}
		return putRecord(a, scheduleKey(s.ScheduleID), s)
	}
	a.fx.Fired = append(a.fx.Fired, FiredRun{Run: pr, Schedule: s, Counter: counter})
	switch {
	case pr.Kind == KindCron && !wasFired:
		run := Run{RunID: pr.RunID, ScheduleID: s.ScheduleID, AppID: s.AppID, Partition: s.Partition,
			ScheduledTime: pr.ScheduledTime, Status: event.StatusScheduled, FiredAt: pr.FiredAt, Counter: counter}
		if err := a.putNewRun(run); err != nil {
			return err
		}
		return a.advanceCron(s, p.NextRunTime)
	case pr.Kind == KindTrigger && !wasFired:
		if err := putCounted(); err != nil {
			return err
		}
		return a.putNewRun(Run{RunID: pr.RunID, ScheduleID: s.ScheduleID, AppID: s.AppID, Partition: s.Partition,
			ScheduledTime: pr.ScheduledTime, Status: event.StatusScheduled, FiredAt: pr.FiredAt, Triggered: true, Counter: counter})
	case s.IsCron():
		if err := putCounted(); err != nil {
			return err
		}
		return a.updateRunOf(pr, func(r *Run) {
			r.FiredAt = pr.FiredAt
			if counter != 0 {
				r.Counter = counter
			}
		})
	default:
		s.FiredAt = pr.FiredAt
		return putRecord(a, scheduleKey(s.ScheduleID), s)
	}
}

// closedStatus is the status a closed cron shows, by reason.
var closedStatus = map[string]string{event.ReasonExhausted: event.StatusExpired, event.ReasonUnevaluable: event.StatusFailure,
	event.ReasonExpired: event.StatusExpired}

// scheduleClosed ends a cron schedule: its runs not yet fired are dropped
// (one in flight keeps its outcome to come), and it shows the status of
// the reason, with the message.
func (a *applier) scheduleClosed(p *event.ScheduleClosed) error {
	s, ok, err := getRecord[Schedule](a.b, scheduleKey(p.ScheduleID))
	switch {
	case err != nil:
		return err
	case !ok || s.Status == event.StatusDeleted:
		return fmt.Errorf("%w: schedule %s", ErrScheduleNotFound, p.ScheduleID)
	case !s.IsCron() || s.ParentID != "":
		return fmt.Errorf("%w: only a cron schedule is closed, not %s", ErrInvalidEvent, p.ScheduleID)
	case !s.Active() || (s.Status == event.StatusPaused && p.Reason != event.ReasonExpired):
		return fmt.Errorf("%w: %s is %s", ErrScheduleClosed, p.ScheduleID, s.Status)
	case closedStatus[p.Reason] == "":
		return fmt.Errorf("%w: closing reason %q", ErrInvalidEvent, p.Reason)
	}
	return a.closeCron(s, closedStatus[p.Reason], p.Message)
}

// closeCron ends cron s with status and message: its runs not yet fired
// (and its end time's entry) are dropped; one in flight keeps its outcome
// to come.
func (a *applier) closeCron(s Schedule, status, message string) error {
	if err := a.dropUnfired(s); err != nil {
		return err
	}
	s.Status, s.ErrorMessage, s.NextRunTime = status, message, 0
	a.fx.Closed = append(a.fx.Closed, s)
	return putRecord(a, scheduleKey(s.ScheduleID), s)
}

// dropUnfired removes s's pending runs that have not fired, except those
// of the kinds kept.
func (a *applier) dropUnfired(s Schedule, keep ...string) error {
	pending, err := a.pendingRunsOf(s)
	if err != nil {
		return err
	}
	for _, pr := range pending {
		if !pr.Fired && !slices.Contains(keep, pr.Kind) {
			if err := a.removePending(pr); err != nil {
				return err
			}
		}
	}
	return nil
}

// scheduleStopped closes a cron whose receiver answered the stop contract.
func (a *applier) scheduleStopped(p *event.ScheduleStoppedByCallback) error {
	s, ok, err := getRecord[Schedule](a.b, scheduleKey(p.ScheduleID))
	switch {
	case err != nil:
		return err
	case !ok || s.Status == event.StatusDeleted:
		return fmt.Errorf("%w: schedule %s", ErrScheduleNotFound, p.ScheduleID)
	case !s.IsCron() || !s.StopOnCallback:
		return fmt.Errorf("%w: %s did not opt in to being stopped by its callback", ErrInvalidEvent, p.ScheduleID)
	case !s.Active():
		return fmt.Errorf("%w: %s is %s", ErrScheduleClosed, p.ScheduleID, s.Status)
	}
	msg := fmt.Sprintf("stopped by its receiver: run %s answered", p.RunID)
	if p.HTTPStatus != 0 {
		msg += fmt.Sprintf(" HTTP %d", p.HTTPStatus)
	}
	if p.Response != "" {
		msg += " " + p.Response
	}
	return a.closeCron(s, event.StatusStopped, msg)
}

// liveSchedule reads schedule id for a change: it must exist and be
// scheduled or paused.
func (a *applier) liveSchedule(id string) (Schedule, error) {
	s, ok, err := getRecord[Schedule](a.b, scheduleKey(id))
	switch {
	case err != nil:
		return s, err
	case !ok || s.Status == event.StatusDeleted || s.ParentID != "":
		return s, fmt.Errorf("%w: schedule %s", ErrScheduleNotFound, id)
	case !s.Active():
		return s, fmt.Errorf("%w: %s is %s", ErrScheduleClosed, id, s.Status)
	}
	return s, nil
}

// onceInFlight refuses a change to one-time schedule s once its run fired.
func (a *applier) onceInFlight(s Schedule) error {
	if s.IsCron() {
		return nil
	}
	pr, ok, err := getRecord[PendingRun](a.b, pendKey(s.ScheduleID))
	if err != nil {
		return err
	}
	if ok && pr.Fired {
		return fmt.Errorf("%w: %s is being called", ErrRunAlreadyFired, s.ScheduleID)
	}
	return nil
}

func (a *applier) scheduleUpdated(p *event.ScheduleUpdated) error {
	s, err := a.liveSchedule(p.ScheduleID)
	if err != nil {
		return err
	}
	switch {
	case s.AppID != p.AppID || s.IsCron() != p.IsCron():
		return fmt.Errorf("%w: update of %s changes its app or its kind", ErrInvalidEvent, p.ScheduleID)
	case s.Status == event.StatusPaused && p.NextRunTime != 0:
		return fmt.Errorf("%w: a paused cron has no next run", ErrInvalidEvent)
	}
	if err := a.onceInFlight(s); err != nil {
		return err
	}
	if err := a.nameFree(s.AppID, p.Name, s.ScheduleID); err != nil {
		return err
	}
	old := s
	s.Payload, s.Callback, s.Retry, s.Definition, s.UpdatedAt = p.Payload, p.Callback, p.Retry, p.Definition, a.nowMs()
	if err := a.setName(s, old.Name); err != nil {
		return err
	}
	if s.IsCron() {
		s.CronExpression, s.TimeZone, s.NextRunTime = p.CronExpression, p.TimeZone, p.NextRunTime
		// The occurrence that was pending goes; the new definition's
		// next one comes (triggered and reconciled runs stay).
		if err := a.dropUnfired(s, KindTrigger, KindReconcile, KindExpiry); err != nil {
			return err
		}
		if err := putRecord(a, scheduleKey(s.ScheduleID), s); err != nil {
			return err
		}
		a.fx.Updated = append(a.fx.Updated, s)
		if err := a.setExpiry(s, old.EndTime); err != nil {
			return err
		}
		return a.addCronOccurrence(s, s.NextRunTime)
	}
	s.ScheduleTime, s.ScheduleTimeMs = p.ScheduleTime, p.ScheduleTimeMs
	if err := putRecord(a, scheduleKey(s.ScheduleID), s); err != nil {
		return err
	}
	a.fx.Updated = append(a.fx.Updated, s)
	if s.DueMs() == old.DueMs() {
		return nil
	}
	if err := a.b.Delete(atKey(s.AppID, old.ScheduleTime, s.ScheduleID), nil); err != nil {
		return err
	}
	if err := a.b.Set(atKey(s.AppID, s.ScheduleTime, s.ScheduleID), append([]byte{'o'}, s.ScheduleID...), nil); err != nil {
		return err
	}
	if s.Status != event.StatusScheduled {
		return nil // paused: its run comes back, at the new time, on resume
	}
	if pr, ok, err := getRecord[PendingRun](a.b, pendKey(s.ScheduleID)); err != nil {
		return err
	} else if ok {
		if err := a.removePending(pr); err != nil {
			return err
		}
	}
	return a.addPending(s, onceRun(s))
}

// onceRun is the pending run of one-time schedule s.
func onceRun(s Schedule) PendingRun {
	return PendingRun{RunID: s.ScheduleID, ScheduleID: s.ScheduleID, AppID: s.AppID, Partition: s.Partition,
		ScheduledTime: s.ScheduleTime, DueMs: s.DueMs(), Kind: KindOnce}
}

func (a *applier) schedulePaused(p *event.SchedulePaused) error {
	s, err := a.liveSchedule(p.ScheduleID)
	if err != nil {
		return err
	}
	if s.Status == event.StatusPaused {
		return fmt.Errorf("%w: %s", ErrSchedulePaused, p.ScheduleID)
	}
	if err := a.onceInFlight(s); err != nil {
		return err
	}
	if err := a.dropUnfired(s, KindExpiry); err != nil { // a paused cron still expires at its end time
		return err
	}
	s.Status, s.NextRunTime, s.UpdatedAt = event.StatusPaused, 0, a.nowMs()
	a.fx.Updated = append(a.fx.Updated, s)
	return putRecord(a, scheduleKey(s.ScheduleID), s)
}

func (a *applier) scheduleResumed(p *event.ScheduleResumed) error {
	s, err := a.liveSchedule(p.ScheduleID)
	if err != nil {
		return err
	}
	switch {
	case s.Status != event.StatusPaused:
		return fmt.Errorf("%w: %s", ErrScheduleNotPaused, p.ScheduleID)
	case !s.IsCron() && p.NextRunTime != 0:
		return fmt.Errorf("%w: a one-time schedule resumes at its own time", ErrInvalidEvent)
	}
	s.Status, s.UpdatedAt = event.StatusScheduled, a.nowMs()
	if s.IsCron() {
		s.NextRunTime = p.NextRunTime
	}
	if err := putRecord(a, scheduleKey(s.ScheduleID), s); err != nil {
		return err
	}
	a.fx.Updated = append(a.fx.Updated, s)
	if s.IsCron() {
		return a.addCronOccurrence(s, s.NextRunTime)
	}
	return a.addPending(s, onceRun(s))
}

func (a *applier) runTriggered(p *event.RunTriggered) error {
	s, err := a.liveSchedule(p.ScheduleID)
	if err != nil {
		return err
	}
	switch {
	case !s.IsCron():
		return fmt.Errorf("%w: only a cron's run is triggered, not %s's", ErrInvalidEvent, p.ScheduleID)
	case p.AppID != s.AppID || p.Partition != s.Partition:
		return fmt.Errorf("%w: trigger of %s names another app or partition", ErrInvalidEvent, p.ScheduleID)
	case p.RunID != event.TriggerRunID(s.ScheduleID, s.Triggers+1):
		return fmt.Errorf("%w: run %s: the next triggered run of %s is %s", ErrScheduleExists, p.RunID, s.ScheduleID,
			event.TriggerRunID(s.ScheduleID, s.Triggers+1))
	}
	s.Triggers++
	if err := putRecord(a, scheduleKey(s.ScheduleID), s); err != nil {
		return err
	}
	now := a.nowMs()
	return a.addPending(s, PendingRun{RunID: p.RunID, ScheduleID: s.ScheduleID, AppID: s.AppID, Partition: s.Partition,
		ScheduledTime: now / 1000, DueMs: now, Kind: KindTrigger})
}

// setExpiry makes cron s's end time pending as an expiry entry, replacing
// the one of its previous end time old (0: none).
func (a *applier) setExpiry(s Schedule, old int64) error {
	if s.EndTime == old && old != 0 {
		return nil
	}
	if old != 0 {
		pr, ok, err := getRecord[PendingRun](a.b, pendKey(event.ExpiryRunID(s.ScheduleID)))
		if err != nil {
			return err
		}
		if ok {
			if err := a.removePending(pr); err != nil {
				return err
			}
		}
	}
	if s.EndTime == 0 {
		return nil
	}
	return a.addPending(s, PendingRun{RunID: event.ExpiryRunID(s.ScheduleID), ScheduleID: s.ScheduleID, AppID: s.AppID,
		Partition: s.Partition, ScheduledTime: s.EndTime, DueMs: s.EndTime * 1000, Kind: KindExpiry})
}

// nameFree reports ErrNameTaken if another schedule of app than id has
// name ("" is never taken).
func (a *applier) nameFree(app, name, id string) error {
	if name == "" {
		return nil
	}
	v, closer, err := a.b.Get(nameKey(app, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	holder := string(v)
	closer.Close()
	if holder != id {
		return fmt.Errorf("%w: %q (schedule %s)", ErrNameTaken, name, holder)
	}
	return nil
}

// setName indexes s under its name, in place of old (its previous name).
func (a *applier) setName(s Schedule, old string) error {
	if s.Name == old {
		return nil
	}
	if old != "" {
		if err := a.b.Delete(nameKey(s.AppID, old), nil); err != nil {
			return err
		}
	}
	if s.Name == "" {
		return nil
	}
	return a.b.Set(nameKey(s.AppID, s.Name), []byte(s.ScheduleID), nil)
}

// clearName frees s's name (it is deleted or dropped).
func (a *applier) clearName(s Schedule) error {
	if s.Name == "" {
		return nil
	}
	return a.b.Delete(nameKey(s.AppID, s.Name), nil)
}

// advanceCron records the cron's next occurrence and makes it pending.
func (a *applier) advanceCron(s Schedule, next int64) error {
	s.NextRunTime = next
	if err := putRecord(a, scheduleKey(s.ScheduleID), s); err != nil {
		return err
	}
	return a.addCronOccurrence(s, next)
}

func (a *applier) runCompleted(p *event.RunCompleted) error {
	switch p.Status {
	case event.StatusSuccess, event.StatusFailure, event.StatusMiss, event.StatusCanceled:
	default:
		return fmt.Errorf("%w: run %s completed with status %q", ErrInvalidEvent, p.RunID, p.Status)
	}
	pr, err := a.pendingRun(p.RunID, p.ScheduleID)
	if err != nil {
		return err
	}
	if pr.Kind == KindExpiry {
		return fmt.Errorf("%w: %s is an end time, not a run", ErrInvalidEvent, p.RunID)
	}
	if !pr.Fired && p.Status != event.StatusMiss {
		return fmt.Errorf("%w: %s", ErrRunNotFired, p.RunID)
	}
	s, err := a.schedule(pr.ScheduleID)
	if err != nil {
		return err
	}
	if err := a.removePending(pr); err != nil {
		return err
	}
	outcome := func(status, msg *string, httpStatus, attempts *int, completed *int64) {
		*status, *msg, *httpStatus, *attempts, *completed = p.Status, p.ErrorMessage, p.HTTPStatus, p.Attempts, a.nowMs()
	}
	switch {
	case (pr.Kind == KindCron || pr.Kind == KindTrigger) && !pr.Fired:
		run := Run{RunID: pr.RunID, ScheduleID: s.ScheduleID, AppID: s.AppID, Partition: s.Partition,
			ScheduledTime: pr.ScheduledTime, Triggered: pr.Kind == KindTrigger}
		outcome(&run.Status, &run.ErrorMessage, &run.HTTPStatus, &run.Attempts, &run.CompletedAt)
		if err := a.putNewRun(run); err != nil {
			return err
		}
		if run.Triggered {
			return nil
		}
		return a.advanceCron(s, p.NextRunTime)
	case s.IsCron():
		return a.updateRunOf(pr, func(r *Run) {
			outcome(&r.Status, &r.ErrorMessage, &r.HTTPStatus, &r.Attempts, &r.CompletedAt)
		})
	default:
		outcome(&s.Status, &s.ErrorMessage, &s.HTTPStatus, &s.Attempts, &s.CompletedAt)
		return putRecord(a, scheduleKey(s.ScheduleID), s)
	}
}

func (a *applier) nodeAnnounced(p *event.NodeAnnounced) error {
	if p.NodeID == "" || p.HTTPAddr == "" {
		return fmt.Errorf("%w: node announcement without id or address", ErrInvalidEvent)
	}
	n := Node{NodeID: p.NodeID, HTTPAddr: p.HTTPAddr, RaftAddr: p.RaftAddr, AnnouncedAt: a.nowMs(), Schema: p.Schema,
		Types: p.Types}
	return putRecord(a, nodeKey(n.NodeID), n)
}

// bulkItem is one entry of an app's time index: a one-time schedule or a
// cron run.
type bulkItem struct {
	sched *Schedule
	run   *Run
}

func (a *applier) bulkAction(p *event.BulkAction) (int, error) {
	if _, ok, err := getRecord[App](a.b, appKey(p.AppID)); err != nil {
		return 0, err
	} else if !ok {
		return 0, fmt.Errorf("%w: %s", ErrAppNotFound, p.AppID)
	}
	if p.Action != event.ActionDelete && p.Action != event.ActionReconcile {
		return 0, fmt.Errorf("%w: bulk action %q", ErrInvalidEvent, p.Action)
	}
	// Collect first, mutate after: the index is not modified under the iterator.
	var items []bulkItem
	err := scanTimeIndex(a.b, p.AppID, p.StartTime, p.EndTime, nil, func(_ []byte, s *Schedule, r *Run) (bool, error) {
		status := ""
		if s != nil {
			status = s.Status
		} else {
			status = r.Status
		}
		if status == event.StatusDeleted || (p.Status != "" && status != p.Status) {
			return true, nil
		}
		items = append(items, bulkItem{sched: s, run: r})
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, it := range items {
		var done bool
		var err error
		if p.Action == event.ActionDelete {
			done, err = a.bulkDelete(it)
		} else {
			done, err = a.bulkReconcile(it)
		}
		if err != nil {
			return 0, err
		}
		if done {
			n++
			if it.sched != nil {
				a.touch(it.sched.ScheduleID, true)
			} else {
				a.touch(it.run.ScheduleID, true)
			}
		}
	}
	return n, nil
}

func (a *applier) bulkDelete(it bulkItem) (bool, error) {
	if it.sched != nil {
		return true, a.deleteSchedule(*it.sched)
	}
	r := *it.run
	if r.Reconciles > 0 {
		if pr, ok, err := getRecord[PendingRun](a.b, pendKey(event.ReconcileRunID(r.RunID, r.Reconciles))); err != nil {
			return false, err
		} else if ok {
			if err := a.removePending(pr); err != nil {
				return false, err
			}
		}
	}
	if _, ok, err := getRecord[PendingRun](a.b, pendKey(r.RunID)); err != nil {
		return false, err
	} else if ok {
		return false, nil // in flight: its outcome is still to come
	}
	return true, a.updateRunRecord(r, func(r *Run) { r.Status = event.StatusDeleted })
}

// bulkReconcile re-runs a schedule or cron run that is not pending.
func (a *applier) bulkReconcile(it bulkItem) (bool, error) {
	base, reconciles := "", 0
	var scheduleID string
	var t int64
	var partition int
	var app string
	if it.sched != nil {
		base, reconciles, scheduleID, t = it.sched.ScheduleID, it.sched.Reconciles, it.sched.ScheduleID, it.sched.ScheduleTime
		partition, app = it.sched.Partition, it.sched.AppID
	} else {
		base, reconciles, scheduleID, t = it.run.RunID, it.run.Reconciles, it.run.ScheduleID, it.run.ScheduledTime
		partition, app = it.run.Partition, it.run.AppID
	}
	for _, id := range []string{base, event.ReconcileRunID(base, reconciles)} {
		if _, ok, err := getRecord[PendingRun](a.b, pendKey(id)); err != nil {
			return false, err
		} else if ok {
			return false, nil
		}
	}
	reconciles++
	s, err := a.schedule(scheduleID)
	if err != nil {
		return false, err
	}
	if err := a.addPending(s, PendingRun{
		RunID: event.ReconcileRunID(base, reconciles), ScheduleID: scheduleID, AppID: app, Partition: partition,
		ScheduledTime: t, DueMs: a.nowMs(), Kind: KindReconcile,
	}); err != nil {
		return false, err
	}
	reset := func(status, msg *string, httpStatus, attempts *int, rec *int) {
		*status, *msg, *httpStatus, *attempts, *rec = event.StatusScheduled, "", 0, 0, reconciles
	}
	if it.sched != nil {
		s := *it.sched
		reset(&s.Status, &s.ErrorMessage, &s.HTTPStatus, &s.Attempts, &s.Reconciles)
		return true, putRecord(a, scheduleKey(s.ScheduleID), s)
	}
	return true, a.updateRunRecord(*it.run, func(r *Run) {
		reset(&r.Status, &r.ErrorMessage, &r.HTTPStatus, &r.Attempts, &r.Reconciles)
	})
}

func (a *applier) schedule(id string) (Schedule, error) {
	s, ok, err := getRecord[Schedule](a.b, scheduleKey(id))
	if err != nil {
		return Schedule{}, err
	}
	if !ok {
		return Schedule{}, fmt.Errorf("%w: schedule %s", ErrScheduleNotFound, id)
	}
	return s, nil
}

func (a *applier) pendingRun(runID, scheduleID string) (PendingRun, error) {
	pr, ok, err := getRecord[PendingRun](a.b, pendKey(runID))
	if err != nil {
		return PendingRun{}, err
	}
	if !ok || pr.ScheduleID != scheduleID {
		return PendingRun{}, fmt.Errorf("%w: %s", ErrRunNotPending, runID)
	}
	return pr, nil
}

// pendingRunsOf returns the pending and in-flight runs of s: for a
// one-time schedule by looking up the ids its runs can have, as hasPending
// does (an index scan costs an iterator over every level, and in a rebuild
// a commit of the batch first), for others from the index.
func (a *applier) pendingRunsOf(s Schedule) ([]PendingRun, error) {
	ids, bounded := pendingRunIDs(s)
	if !bounded {
		return pendingOf(a.b, s.ScheduleID)
	}
	var out []PendingRun
	for _, id := range ids {
		pr, ok, err := getRecord[PendingRun](a.b, pendKey(id))
		if err != nil {
			return nil, err
		}
		if ok && pr.ScheduleID == s.ScheduleID {
			out = append(out, pr)
		}
	}
	return out, nil
}

// pendingOf returns the runs the pending-by-schedule index of r lists for
// scheduleID, in run id order.
func pendingOf(r pebble.Reader, scheduleID string) ([]PendingRun, error) {
	var out []PendingRun
	err := scanPrefix(r, pschPrefix(scheduleID), nil, func(k, _ []byte) (bool, error) {
		runID := string(k[len(pschPrefix(scheduleID)):])
		pr, ok, err := getRecord[PendingRun](r, pendKey(runID))
		if err != nil {
			return false, err
		}
		if ok {
			out = append(out, pr)
		}
		return true, nil
	})
	return out, err
}

// addPending makes pr, a run of schedule s, pending: it takes s's
// policies (Exclusive, NoRefire), read by the fire path.
func (a *applier) addPending(s Schedule, pr PendingRun) error {
	if pr.Kind != KindExpiry {
		pr.Exclusive, pr.NoRefire = s.Jobs().Overlap == event.OverlapBufferOne, s.IsCommand()
	}
	if err := putRecord(a, pendKey(pr.RunID), pr); err != nil {
		return err
	}
	if err := a.b.Set(dueKey(pr), nil, nil); err != nil {
		return err
	}
	if err := a.b.Set(pschKey(pr.ScheduleID, pr.RunID), nil, nil); err != nil {
		return err
	}
	a.fx.Pending = append(a.fx.Pending, PendingChange{Run: pr})
	return nil
}

func (a *applier) removePending(pr PendingRun) error {
	// A pending run is in the due index until it fires, then in the
	// in-flight index (runFired moves it): deleting only the key it has
	// spares the store a tombstone per run (a tenth of a rebuild's writes).
	queued := dueKey(pr)
	if pr.Fired {
		queued = inflKey(pr)
	}
	for _, k := range [][]byte{pendKey(pr.RunID), queued, pschKey(pr.ScheduleID, pr.RunID)} {
		if err := a.b.Delete(k, nil); err != nil {
			return err
		}
	}
	a.fx.Pending = append(a.fx.Pending, PendingChange{Run: pr, Gone: true})
	return nil
}

func (a *applier) putNewRun(r Run) error {
	ref := runRefOf(r)
	if err := putRecord(a, join([]byte(pRun), ref), r); err != nil {
		return err
	}
	if err := a.b.Set(ridKey(r.RunID), ref, nil); err != nil {
		return err
	}
	return a.b.Set(atKey(r.AppID, r.ScheduledTime, r.RunID), append([]byte{'r'}, ref...), nil)
}

// updateRunOf updates the record of pending cron run pr: an occurrence's
// at its time; a triggered run's, or a reconcile of either, where the run
// id index says.
func (a *applier) updateRunOf(pr PendingRun, f func(*Run)) error {
	if pr.Kind == KindCron {
		return a.updateRun(pr.ScheduleID, pr.ScheduledTime, f)
	}
	base := pr.RunID
	if pr.Kind == KindReconcile {
		if i := strings.LastIndex(base, ".r"); i > 0 {
			base = base[:i]
		}
	}
	ref, closer, err := a.b.Get(ridKey(base))
	if errors.Is(err, pebble.ErrNotFound) {
		return a.updateRun(pr.ScheduleID, pr.ScheduledTime, f) // a reconcile of an occurrence
	}
	if err != nil {
		return err
	}
	key := join([]byte(pRun), ref)
	closer.Close()
	return a.updateRunAt(key, f)
}

func (a *applier) updateRun(cronID string, t int64, f func(*Run)) error {
	return a.updateRunAt(runKey(cronID, t), f)
}

// updateRunRecord updates run r's stored record.
func (a *applier) updateRunRecord(r Run, f func(*Run)) error {
	return a.updateRunAt(join([]byte(pRun), runRefOf(r)), f)
}

func (a *applier) updateRunAt(key []byte, f func(*Run)) error {
	r, ok, err := getRecord[Run](a.b, key)
	if err != nil {
		return err
	}
	if !ok {
		// Callers validated the run before writing; returning a rejection
		// here would leave their earlier writes in the batch.
		return nil
	}
	f(&r)
	return putRecord(a, key, r)
}

// getRecord reads the record at key (found false if absent), from the
// apply cache's decoded records when r is a CachingBatch.
func getRecord[T record](r pebble.Reader, key []byte) (T, bool, error) {
	cb, caching := r.(*CachingBatch)
	if caching {
		if v, found, ok := decoded[T](cb, key); ok {
			return v, found, nil
		}
	}
	var v T
	b, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return v, false, nil
	}
	if err != nil {
		return v, false, fmt.Errorf("read %q: %w", key, err)
	}
	defer closer.Close()
	if v, err = decodeRecord[T](b); err != nil {
		return v, false, fmt.Errorf("record %q: %w", key, err)
	}
	if caching {
		cb.rememberDecoded(key, v)
	}
	return v, true, nil
}

// putRecord writes v at key in the form of the event being applied (see
// records_wire.go).
func putRecord[T record](a *applier, key []byte, v T) error {
	data, err := encodeRecord[T](v, a.ev.V == event.SchemaJSON)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	if cb, ok := a.b.(*CachingBatch); ok {
		err = cb.setDecoded(key, data, v)
	} else {
		err = a.b.Set(key, data, nil)
	}
	if err != nil {
		return fmt.Errorf("write %q: %w", key, err)
	}
	return nil
}
