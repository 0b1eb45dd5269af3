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
}

// reloadApp tells an app actor to re-read its app after a proposal that
// may not have applied (its optimistic view may be wrong).
type reloadApp struct{}

func newAppActor(e *Engine, appID string) *appActor { return &appActor{eng: e, appID: appID} }

func (a *appActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.self = ctx.Self()
		a.load()
	case reloadApp:
		a.app = nil
		a.load()
	case registerApp:
		a.register(m)
	case setActive:
		a.setActive(m)
	case createSchedule:
		a.create(m)
	case deleteSchedule:
		a.async(m.reply, func() reply {
			_, err := a.eng.proposeOne(event.ScheduleDeleted{ScheduleID: m.scheduleID, AppID: a.appID})
			return reply{id: m.scheduleID, err: err}
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

func (a *appActor) load() {
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
		return reply{id: m.AppID, err: err}
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
		return reply{id: a.appID, err: err}
	})
}

func (a *appActor) create(m createSchedule) {
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
	a.async(m.reply, func() reply {
		_, err := a.eng.proposeOne(ev)
		return reply{id: id, err: err}
	})
}
