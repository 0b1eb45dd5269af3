package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// appActor serialises the commands of one app. Its view of the app (exists,
// active, partitions) is loaded from the projection when it starts and then
// updated as it accepts commands, so a create that follows a deactivate is
// refused at once. Apply re-checks every invariant, so a stale view can
// refuse too much, never let through too much.
//
// Its events are proposed in the order it accepted the commands: creates
// are group-committed, those that arrive while earlier entries commit
// going out together in the next entry (under load one entry carries tens
// of creates instead of one, so the Raft log, its fsyncs and a restart's
// re-read of the log tail all shrink by as much), with up to
// createEntriesInFlight entries of creates committing at once; any other
// command waits for every entry before it to be answered and holds back
// everything after it until it is. A deactivate can therefore never
// overtake the creates accepted before it.
type appActor struct {
	eng   *Engine
	appID string
	app   *projections.App
	self  *actor.PID

	outbox    []outgoing // accepted, not yet proposed, in order
	inFlight  int        // entries proposed and not yet answered
	exclusive bool       // the entry in flight is a command other than creates
}

// outgoing is one accepted command: a create, or another command.
type outgoing struct {
	create *queuedCreate
	other  *queuedCommand
}

type queuedCreate struct {
	ev    event.ScheduleCreated
	actor string
	reply chan<- reply
}

type queuedCommand struct {
	payload event.Payload
	build   func() (event.Payload, error) // instead of payload: made when proposed
	actor   string
	reply   chan<- reply
	release func() // given back once answered (an app registration's place under --max-apps)
}

// createEntriesInFlight lets the next entry of creates be built while one
// commits.
const createEntriesInFlight = 2

// entryDone tells an app actor that one of its entries was answered.
type entryDone struct{ failed bool }

// reloadApp tells an app actor to re-read its app after a follower caught
// up with the leader.
type reloadApp struct{}

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
	case deleteSchedule:
		a.enqueue(event.ScheduleDeleted{ScheduleID: m.scheduleID, AppID: a.appID}, m.actor, m.reply, nil)
	case bulkAction:
		a.enqueue(event.BulkAction{AppID: a.appID, Action: m.Action, Status: m.Status,
			StartTime: m.Start.Unix(), EndTime: m.End.Unix()}, m.actor, m.reply, nil)
	case builtCommand:
		a.outbox = append(a.outbox, outgoing{other: &queuedCommand{build: m.build, actor: m.actor, reply: m.reply}})
		a.pump()
	case rotateSecret:
		if a.app == nil {
			m.reply <- reply{err: fmt.Errorf("%w: %s", projections.ErrAppNotFound, a.appID)}
			return
		}
		a.enqueue(event.SecretRotated{AppID: a.appID, Secret: delivery.NewSigningSecret(),
			PreviousUntil: a.eng.clock.Now().Add(a.eng.cfg.SecretGrace).UnixMilli()}, m.actor, m.reply, nil)
	case entryDone:
		a.inFlight--
		a.exclusive = false
		if m.failed {
			a.load() // the optimistic view may be wrong
		}
		a.pump()
	case *actor.Stopping:
		// Stopped because this node's leadership changed: what was accepted
		// but never proposed is refused, so its clients retry.
		for _, o := range a.outbox {
			err := fmt.Errorf("%w: leadership changed before the command was proposed", ErrNotLeader)
			if o.create != nil {
				o.create.reply <- reply{err: err}
			} else {
				o.other.reply <- reply{err: err}
				if o.other.release != nil {
					o.other.release()
				}
			}
		}
		a.outbox = nil
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

func (a *appActor) register(m registerApp) {
	if a.app != nil {
		m.reply <- reply{err: fmt.Errorf("%w: %s", projections.ErrAppExists, a.appID)}
		return
	}
	release, err := a.eng.reserveApp()
	if err != nil {
		m.reply <- reply{err: err}
		return
	}
	a.app = &projections.App{AppID: m.AppID, Partitions: m.Partitions, Active: m.Active}
	a.enqueue(event.AppRegistered{AppID: m.AppID, Partitions: m.Partitions, Active: m.Active,
		SigningSecret: delivery.NewSigningSecret()}, m.actor, m.reply, release)
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
	a.enqueue(p, m.actor, m.reply, nil)
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
	now := a.eng.clock.Now()
	id := newScheduleID(now)
	ev := event.ScheduleCreated{
		ScheduleID: id, AppID: a.appID, Partition: partitionOf(id, a.app.Partitions),
		Payload: m.Payload, Callback: m.Callback, Retry: m.Retry, Definition: m.Definition, Paused: m.Paused,
	}
	if m.Cron != nil {
		// The new cron's actor computes its first run: it owns its
		// occurrences from the start.
		first, err := a.eng.firstOccurrence(id, m, now)
		if err != nil {
			m.reply <- reply{err: err}
			return
		}
		ev.CronExpression, ev.NextRunTime = m.Cron.Expression(), first
		if m.Paused {
			ev.NextRunTime = 0 // its resume computes it; the first run only proved the expression fires
		}
		if loc := m.Cron.Location(); loc != nil && loc != time.UTC {
			ev.TimeZone = loc.String()
		}
	} else {
		ev.ScheduleTime, ev.ScheduleTimeMs = m.ScheduleTime, m.ScheduleTimeMs
		if m.ScheduleTimeMs != 0 {
			ev.ScheduleTime = m.ScheduleTimeMs / 1000
		}
	}
	a.outbox = append(a.outbox, outgoing{create: &queuedCreate{ev: ev, actor: m.actor, reply: m.reply}})
	a.pump()
}

// firstOccurrence asks the cron actor of a cron being created for its first
// occurrence after now.
func (e *Engine) firstOccurrence(id string, m createSchedule, now time.Time) (int64, error) {
	if m.Cron.Manual() {
		return 0, nil // it runs when triggered
	}
	e.cronPID(id, m.Cron)
	first := e.askCron(id, firstRun{Now: now, End: m.EndTime})
	switch {
	case first.err != nil:
		e.forgetCron(id)
		return 0, first.err
	case first.ended:
		e.forgetCron(id)
		return 0, fmt.Errorf("%w: endTime %s comes before the first run of %q", projections.ErrInvalidEvent,
			time.Unix(m.EndTime, 0).UTC().Format(time.RFC3339), m.Cron.Expression())
	case first.next == 0:
		e.forgetCron(id)
		return 0, fmt.Errorf("%w: cron expression %q never fires after %s",
			projections.ErrInvalidEvent, m.Cron.Expression(), now.UTC().Format(time.RFC3339))
	}
	return first.next, nil
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

// enqueue accepts a command other than a create; it is proposed alone, in
// order (see appActor).
func (a *appActor) enqueue(p event.Payload, actor string, ch chan<- reply, release func()) {
	a.outbox = append(a.outbox, outgoing{other: &queuedCommand{payload: p, actor: actor, reply: ch, release: release}})
	a.pump()
}

// pump proposes what the outbox allows now, in order.
func (a *appActor) pump() {
	for len(a.outbox) > 0 && !a.exclusive {
		if head := a.outbox[0].other; head != nil {
			if a.inFlight > 0 {
				return // after everything accepted before it
			}
			a.outbox = a.outbox[1:]
			a.inFlight++
			a.exclusive = true
			a.proposeCommand(*head)
			return
		}
		if a.inFlight >= createEntriesInFlight {
			return
		}
		n := 0
		for n < len(a.outbox) && n < maxEventsPerEntry && a.outbox[n].create != nil {
			n++
		}
		batch := make([]queuedCreate, n)
		for i := range batch {
			batch[i] = *a.outbox[i].create
		}
		a.outbox = append(a.outbox[:0], a.outbox[n:]...)
		a.inFlight++
		a.proposeCreates(batch)
	}
}

// proposeCommand waits for Raft off the actor's goroutine, so the actor
// keeps accepting commands meanwhile.
func (a *appActor) proposeCommand(c queuedCommand) {
	self, root := a.self, a.eng.system.Root
	go func() {
		p, err := c.payload, error(nil)
		if c.build != nil {
			p, err = c.build()
		}
		var res raftfsm.Result
		if err == nil {
			res, err = a.eng.proposeOne(c.actor, p)
		}
		if c.release != nil {
			c.release()
		}
		c.reply <- reply{affected: res.Affected, proposed: p, seq: res.Seq, at: res.Time, err: err}
		root.Send(self, entryDone{failed: err != nil})
	}()
}

// proposeCreates sends a batch of creates as one entry, through the leader
// wherever it is.
func (a *appActor) proposeCreates(batch []queuedCreate) {
	self, root := a.self, a.eng.system.Root
	go func() {
		now := a.eng.clock.Now()
		evs := make([]event.Event, len(batch))
		var err error
		for i, c := range batch {
			if evs[i], err = a.eng.stamp(now, c.actor, c.ev); err != nil {
				break
			}
		}
		var results []raftfsm.Result
		if err == nil {
			results, err = a.eng.forwardEvents(evs)
		}
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
			} else if c.ev.IsCron() {
				a.eng.forgetCron(c.ev.ScheduleID)
			}
			failed = failed || r.err != nil
			c.reply <- r
		}
		root.Send(self, entryDone{failed: failed})
	}()
}
