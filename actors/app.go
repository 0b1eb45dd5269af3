package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
)

// appActor serialises the commands of one app. Its view of the app (exists,
// active, partitions) is loaded from the projection when it starts and then
// updated as its own commands are proposed, so a create that follows a
// deactivate is refused at once. Apply re-checks every invariant, so a
// stale view can refuse too much, never let through too much.
type appActor struct {
	eng   *Engine
	appID string
	app   *projections.App
	self  *actor.PID

	// Creates are group-committed: those that arrive while createsInFlight
	// entries are being committed wait in creates and go out together in
	// the next entry. Under load one entry carries tens of creates instead
	// of one, so the Raft log, its fsyncs and a restart's re-read of the
	// log tail all shrink by as much.
	creates         []queuedCreate
	createsInFlight int
}

type queuedCreate struct {
	ev    event.ScheduleCreated
	reply chan<- reply
}

// createEntriesInFlight lets the next entry be built while one commits.
const createEntriesInFlight = 2

// reloadApp tells an app actor to re-read its app after a proposal that
// may not have applied (its optimistic view may be wrong).
type reloadApp struct{}

// createsCommitted tells an app actor that one entry of creates is done.
type createsCommitted struct{ failed bool }

func newAppActor(e *Engine, appID string) *appActor { return &appActor{eng: e, appID: appID} }

func (a *appActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.self = ctx.Self()
		a.load()
	case reloadApp:
		a.load()
	case registerApp:
		a.register(m)
	case setActive:
		a.setActive(m)
	case createSchedule:
		a.create(m)
	case *actor.Stopping:
		// Stopped because this node stopped leading: queued creates were
		// never proposed, and are refused so their clients retry.
		for _, c := range a.creates {
			c.reply <- reply{err: fmt.Errorf("%w: leadership changed before the create was proposed", ErrNotLeader)}
		}
		a.creates = nil
	case createsCommitted:
		a.createsInFlight--
		if m.failed {
			a.load()
		}
		a.proposeCreates()
	case deleteSchedule:
		a.async(m.reply, func() reply {
			_, err := a.eng.proposeOne(event.ScheduleDeleted{ScheduleID: m.scheduleID, AppID: a.appID})
			return reply{err: err}
		})
	case bulkAction:
		a.async(m.reply, func() reply {
			res, err := a.eng.proposeOne(event.BulkAction{
				AppID: a.appID, Action: m.Action, Status: m.Status,
				StartTime: m.Start.Unix(), EndTime: m.End.Unix(),
			})
			return reply{affected: res.Affected, err: err}
		})
	}
}

// load replaces the actor's view of its app with the projection's (none if
// it cannot be read: commands are then refused until a later load).
func (a *appActor) load() {
	a.app = nil
	app, ok, err := a.eng.state.App(a.appID)
	if err != nil {
		a.eng.cfg.Logger.Error("load app", "app", a.appID, "err", err)
		return
	}
	if ok {
		a.app = &app
	}
}

// async waits for Raft off the actor's goroutine, so the actor keeps
// stamping and proposing the next commands meanwhile (Raft batches them).
func (a *appActor) async(ch chan<- reply, f func() reply) {
	self, root := a.self, a.eng.system.Root
	go func() {
		r := f()
		if r.err != nil {
			root.Send(self, reloadApp{})
		}
		ch <- r
	}()
}

func (a *appActor) register(m registerApp) {
	if a.app != nil {
		m.reply <- reply{err: fmt.Errorf("%w: %s", projections.ErrAppExists, a.appID)}
		return
	}
	a.app = &projections.App{AppID: m.AppID, Partitions: m.Partitions, Active: m.Active}
	a.async(m.reply, func() reply {
		_, err := a.eng.proposeOne(event.AppRegistered{AppID: m.AppID, Partitions: m.Partitions, Active: m.Active})
		return reply{err: err}
	})
}

func (a *appActor) setActive(m setActive) {
	switch {
	case a.app == nil:
		m.reply <- reply{err: fmt.Errorf("%w: %s", projections.ErrAppNotFound, a.appID)}
		return
	case m.active && a.app.Active:
		m.reply <- reply{err: fmt.Errorf("%w: %s", projections.ErrAppAlreadyActive, a.appID)}
		return
	case !m.active && !a.app.Active:
		m.reply <- reply{err: fmt.Errorf("%w: %s", projections.ErrAppAlreadyInactive, a.appID)}
		return
	}
	a.app.Active = m.active
	var p event.Payload = event.AppDeactivated{AppID: a.appID}
	if m.active {
		p = event.AppActivated{AppID: a.appID}
	}
	a.async(m.reply, func() reply {
		_, err := a.eng.proposeOne(p)
		return reply{err: err}
	})
}

func (a *appActor) create(m createSchedule) {
	if (a.app == nil || !a.app.Active) && !m.caughtUp && !a.eng.repl.IsLeader() {
		a.catchUpAndRetry(m)
		return
	}
	switch {
	case a.app == nil:
		m.reply <- reply{err: fmt.Errorf("%w: %s", projections.ErrAppNotFound, a.appID)}
		return
	case !a.app.Active:
		m.reply <- reply{err: fmt.Errorf("%w: %s", projections.ErrAppInactive, a.appID)}
		return
	}
	now := a.eng.cfg.Now()
	id := newScheduleID(now)
	ev := event.ScheduleCreated{
		ScheduleID: id, AppID: a.appID, Partition: partitionOf(id, a.app.Partitions),
		Payload: m.Payload, Callback: m.Callback, Retry: m.Retry,
	}
	if m.Cron != nil {
		next := m.Cron.Next(now)
		if next.IsZero() {
			m.reply <- reply{err: fmt.Errorf("%w: cron expression %q never fires after %s",
				projections.ErrInvalidEvent, m.Cron.Expression(), now.UTC().Format(time.RFC3339))}
			return
		}
		ev.CronExpression, ev.NextRunTime = m.Cron.Expression(), next.Unix()
		if loc := m.Cron.Location(); loc != nil && loc != time.UTC {
			ev.TimeZone = loc.String()
		}
	} else {
		ev.ScheduleTime, ev.ScheduleTimeMs = m.ScheduleTime, m.ScheduleTimeMs
		if m.ScheduleTimeMs != 0 {
			ev.ScheduleTime = m.ScheduleTimeMs / 1000
		}
	}
	a.creates = append(a.creates, queuedCreate{ev: ev, reply: m.reply})
	a.proposeCreates()
}

// catchUpAndRetry decides m again once this follower has applied all the
// leader has: a follower's view of an app is loaded once and then changed
// only by its own creates, so an app registered or activated through
// another node would be refused here although the leader would accept.
func (a *appActor) catchUpAndRetry(m createSchedule) {
	self, root := a.self, a.eng.system.Root
	go func() {
		if err := a.eng.catchUp(); err != nil {
			m.reply <- reply{err: err}
			return
		}
		m.caughtUp = true
		root.Send(self, reloadApp{})
		root.Send(self, m)
	}()
}

// proposeCreates sends the queued creates as one entry, unless enough
// entries are in flight already (then the answer to one sends them).
func (a *appActor) proposeCreates() {
	if len(a.creates) == 0 || a.createsInFlight >= createEntriesInFlight {
		return
	}
	n := min(len(a.creates), maxEventsPerEntry)
	batch := append([]queuedCreate(nil), a.creates[:n]...)
	a.creates = append(a.creates[:0], a.creates[n:]...)
	a.createsInFlight++
	self, root := a.self, a.eng.system.Root
	go func() {
		payloads := make([]event.Payload, len(batch))
		for i, c := range batch {
			payloads[i] = c.ev
		}
		now := a.eng.cfg.Now()
		results, err := a.eng.forwardAt(now, payloads...)
		failed := err != nil
		for i, c := range batch {
			r := reply{err: err}
			if err == nil {
				r.err = results[i].Err
			}
			if r.err == nil {
				// The leader stamps a forwarded create with its own time; a
				// leader of an older build does not answer it.
				at := results[i].Time
				if at == 0 {
					at = now.UnixNano()
				}
				s := projections.NewSchedule(&c.ev, at/1e6, results[i].Seq)
				r.created = &s
			}
			failed = failed || r.err != nil
			c.reply <- r
		}
		root.Send(self, createsCommitted{failed: failed})
	}()
}
