// Package actors turns API commands into events and fires callbacks.
//
//   - One app actor per app validates commands against the app's state,
//     stamps ids and times, and proposes events through Raft.
//   - One cron actor per cron schedule knows its expression and computes
//     next fire times (apply never evaluates cron).
//   - One timer actor per (app, partition), on the leader only, holds the
//     runs due in a near window, proposes RunFired when they are due,
//     hands the calls to a bounded delivery pool and records outcomes.
//
// Nothing here changes state directly: every change is an event that
// raftfsm applies. The leader starts its timers only after a Raft barrier
// (so it has applied everything committed before it) and stops them the
// moment it loses leadership.
package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// Replicator is what the actors need of the replication layer.
type Replicator interface {
	// Propose proposes on this node, which must lead; it returns the
	// results and the entry's Raft index.
	Propose(evs []event.Event, timeout time.Duration) ([]raftfsm.Result, uint64, error)
	// Forward proposes on the leader wherever it is, and returns once this
	// node has applied the events too; with none, it only catches this
	// node up with the leader. Only creates go this way: everything that
	// acts as the leader (timers, outcomes) must stop when it stops leading.
	Forward(evs []event.Event, timeout time.Duration) ([]raftfsm.Result, error)
	Barrier(timeout time.Duration) error
	IsLeader() bool
}

// Config tunes the scheduler.
type Config struct {
	NodeID            string
	DefaultPartitions int           // partitions of an app registered with 0
	MisfireThreshold  time.Duration // overdue by more than this at fire time: MISS
	Window            time.Duration // how far ahead timers load due runs
	Policy            delivery.Policy
	Workers           int // concurrent callback deliveries
	ProposeTimeout    time.Duration
	Logger            *slog.Logger
	Now               func() time.Time
	// Retention: closed schedules (finished or deleted, nothing pending)
	// are removed with their events this long after they closed; 0 keeps
	// everything forever. RetentionInterval is how often the leader looks.
	Retention         time.Duration
	RetentionInterval time.Duration
}

func (c *Config) setDefaults() {
	if c.DefaultPartitions <= 0 {
		c.DefaultPartitions = 1
	}
	if c.MisfireThreshold <= 0 {
		c.MisfireThreshold = time.Minute
	}
	if c.Window <= 0 {
		c.Window = 10 * time.Second
	}
	if c.Policy.MaxAttempts == 0 {
		c.Policy = delivery.DefaultPolicy()
	}
	if c.Workers <= 0 {
		c.Workers = 256
	}
	if c.ProposeTimeout <= 0 {
		c.ProposeTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RetentionInterval <= 0 {
		c.RetentionInterval = time.Minute
	}
}

// Engine owns the actor system and the leader-only firing machinery.
type Engine struct {
	cfg    Config
	system *actor.ActorSystem
	repl   Replicator
	state  projections.Reader
	client *delivery.Client
	pool   *delivery.Pool
	out    *outcomeBatcher
	fires  *fireBatcher

	mu      sync.Mutex
	leading bool
	epoch   uint64             // bumped on every leadership change
	cancel  context.CancelFunc // cancels the current term's deliveries
	ctx     context.Context
	apps    map[string]*actor.PID
	timers  map[timerKey]*actor.PID
	crons   map[string]*actor.PID
	// fired holds, by run id, the schedules of runs whose RunFired this
	// leader committed, from the apply effects until the fire batcher that
	// proposed them takes them to deliver the calls.
	fired map[string]projections.Schedule
}

type timerKey struct {
	app       string
	partition int
}

// New builds an engine. Register OnLeadership and Observe with the node.
func New(cfg Config, repl Replicator, state projections.Reader) *Engine {
	cfg.setDefaults()
	logger := cfg.Logger
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With("lib", "actor")
	}))
	client := delivery.NewClient(delivery.ClientOptions{MaxIdleConnsPerHost: cfg.Workers, Logger: logger})
	e := &Engine{
		cfg: cfg, system: system, repl: repl, state: state, client: client,
		pool:   delivery.NewPool(client, cfg.Workers, 64*cfg.Workers),
		apps:   map[string]*actor.PID{},
		timers: map[timerKey]*actor.PID{},
		crons:  map[string]*actor.PID{},
		fired:  map[string]projections.Schedule{},
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.cancel() // nothing may deliver before this node leads
	e.out = newOutcomeBatcher(e)
	e.fires = newFireBatcher(e)
	return e
}

// Leading reports whether this node fires callbacks now.
func (e *Engine) Leading() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading
}

// OnLeadership reacts to raft leadership changes (called in order).
func (e *Engine) OnLeadership(isLeader bool) {
	e.mu.Lock()
	e.epoch++
	epoch := e.epoch
	e.stepDownLocked()
	e.mu.Unlock()
	if isLeader {
		go e.takeOver(epoch)
	}
}

// takeOver enables firing once this node has applied every entry committed
// before it became leader: a barrier, then timers for every active app.
func (e *Engine) takeOver(epoch uint64) {
	for {
		err := e.repl.Barrier(e.cfg.ProposeTimeout)
		e.mu.Lock()
		if e.epoch != epoch {
			e.mu.Unlock()
			return
		}
		if err == nil {
			e.leading = true
			e.ctx, e.cancel = context.WithCancel(context.Background())
			go e.retain(e.ctx)
			e.mu.Unlock()
			break
		}
		e.mu.Unlock()
		e.cfg.Logger.Warn("barrier before taking over failed; retrying", "err", err)
		time.Sleep(100 * time.Millisecond)
	}
	apps, err := e.state.Apps()
	if err != nil {
		e.cfg.Logger.Error("load apps to start timers", "err", err)
		return
	}
	for _, app := range apps {
		if app.Active {
			e.startTimers(app, epoch)
		}
	}
	e.cfg.Logger.Info("leading: timers started", "apps", len(apps))
}

// stepDownLocked stops every actor that acts as the leader, and cancels
// deliveries in flight: a deposed leader must not keep calling out.
func (e *Engine) stepDownLocked() {
	e.leading = false
	e.cancel()
	for k, pid := range e.timers {
		e.system.Root.Stop(pid)
		delete(e.timers, k)
	}
	for k, pid := range e.apps {
		e.system.Root.Stop(pid)
		delete(e.apps, k)
	}
	for k, pid := range e.crons {
		e.system.Root.Stop(pid)
		delete(e.crons, k)
	}
	clear(e.fired)
}

// maxFiredKept bounds the fired runs' schedules waiting to be delivered.
const maxFiredKept = 1 << 16

// takeFired returns (and forgets) the schedule of a run this leader has
// just recorded as fired.
func (e *Engine) takeFired(runID string) (projections.Schedule, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.fired[runID]
	delete(e.fired, runID)
	return s, ok
}

func (e *Engine) startTimers(app projections.App, epoch uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.leading || e.epoch != epoch {
		return
	}
	ctx := e.ctx // the producer may run again later (supervisor restart), outside the lock
	for p := 0; p < app.Partitions; p++ {
		k := timerKey{app.AppID, p}
		if _, ok := e.timers[k]; ok {
			continue
		}
		props := actor.PropsFromProducer(func() actor.Actor { return newTimer(e, k, ctx) })
		e.timers[k] = e.system.Root.Spawn(props)
	}
}

func (e *Engine) stopTimers(appID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, pid := range e.timers {
		if k.app == appID {
			e.system.Root.Stop(pid)
			delete(e.timers, k)
		}
	}
}

// Observe routes applied effects to the live actors. It runs on the apply
// goroutine: it only sends messages, never blocks.
func (e *Engine) Observe(fx projections.Effects) {
	e.mu.Lock()
	leading, epoch := e.leading, e.epoch
	e.mu.Unlock()
	if !leading {
		return
	}
	if fx.Restored {
		// The state was replaced wholesale: rebuild every actor from it.
		go e.OnLeadership(true)
		return
	}
	for _, app := range fx.Apps {
		if app.Active {
			go e.startTimers(app, epoch)
		} else {
			e.stopTimers(app.AppID)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.fired) > maxFiredKept {
		// Left by proposals that failed after they were applied; the
		// batcher reads the schedule when it finds none here.
		clear(e.fired)
	}
	for _, f := range fx.Fired {
		e.fired[f.Run.RunID] = f.Schedule
	}
	for _, pr := range fx.Due {
		if pid, ok := e.timers[timerKey{pr.AppID, pr.Partition}]; ok {
			e.system.Root.Send(pid, dueAdded{pr})
		}
	}
	for _, pr := range fx.Gone {
		if pid, ok := e.timers[timerKey{pr.AppID, pr.Partition}]; ok {
			e.system.Root.Send(pid, dueGone{pr.RunID})
		}
	}
	for _, s := range fx.Deleted {
		if pid, ok := e.crons[s.ScheduleID]; ok {
			e.system.Root.Stop(pid)
			delete(e.crons, s.ScheduleID)
		}
	}
}

// Stop stops firing and the actor system.
func (e *Engine) Stop() {
	e.mu.Lock()
	e.epoch++
	e.stepDownLocked()
	e.mu.Unlock()
	e.fires.close()
	e.out.close()
	e.pool.Close()
	e.system.Shutdown()
}

// appPID returns the app actor of appID, spawning it if needed.
func (e *Engine) appPID(appID string) *actor.PID {
	e.mu.Lock()
	defer e.mu.Unlock()
	if pid, ok := e.apps[appID]; ok {
		return pid
	}
	pid := e.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newAppActor(e, appID) }))
	e.apps[appID] = pid
	return pid
}

// cronPID returns the cron actor of a cron schedule, spawning it if needed.
func (e *Engine) cronPID(id string) *actor.PID {
	e.mu.Lock()
	defer e.mu.Unlock()
	if pid, ok := e.crons[id]; ok {
		return pid
	}
	pid := e.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newCronActor(e, id) }))
	e.crons[id] = pid
	return pid
}

// ask sends a command to an app actor and waits for its answer.
func (e *Engine) ask(ctx context.Context, appID string, build func(chan<- reply) interface{}) (reply, error) {
	ch := make(chan reply, 1)
	e.system.Root.Send(e.appPID(appID), build(ch))
	select {
	case r := <-ch:
		return r, r.err
	case <-ctx.Done():
		return reply{}, fmt.Errorf("waiting for app %s: %w", appID, ctx.Err())
	}
}

// RegisterApp registers an app and returns it as applied.
func (e *Engine) RegisterApp(ctx context.Context, c RegisterApp) (projections.App, error) {
	if c.Partitions == 0 {
		c.Partitions = e.cfg.DefaultPartitions
	}
	if _, err := e.ask(ctx, c.AppID, func(ch chan<- reply) interface{} { return registerApp{c, ch} }); err != nil {
		return projections.App{}, err
	}
	return e.readApp(c.AppID)
}

// SetAppActive activates or deactivates an app.
func (e *Engine) SetAppActive(ctx context.Context, appID string, active bool) (projections.App, error) {
	if _, err := e.ask(ctx, appID, func(ch chan<- reply) interface{} { return setActive{active, ch} }); err != nil {
		return projections.App{}, err
	}
	return e.readApp(appID)
}

func (e *Engine) readApp(id string) (projections.App, error) {
	app, ok, err := e.state.App(id)
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s", projections.ErrAppNotFound, id)
	}
	return app, err
}

// CreateSchedule creates a schedule and returns it as applied.
func (e *Engine) CreateSchedule(ctx context.Context, c CreateSchedule) (projections.Schedule, error) {
	r, err := e.ask(ctx, c.AppID, func(ch chan<- reply) interface{} { return createSchedule{CreateSchedule: c, reply: ch} })
	if err != nil {
		return projections.Schedule{}, err
	}
	return *r.created, nil
}

// DeleteSchedule deletes a schedule (a cron with its future runs).
func (e *Engine) DeleteSchedule(ctx context.Context, id string) (projections.Schedule, error) {
	s, ok, err := e.state.Schedule(id)
	if err != nil {
		return projections.Schedule{}, err
	}
	if !ok || s.ParentID != "" || s.Status == event.StatusDeleted {
		return projections.Schedule{}, fmt.Errorf("%w: schedule %s", projections.ErrScheduleNotFound, id)
	}
	if _, err := e.ask(ctx, s.AppID, func(ch chan<- reply) interface{} { return deleteSchedule{id, ch} }); err != nil {
		return projections.Schedule{}, err
	}
	return e.readSchedule(id)
}

func (e *Engine) readSchedule(id string) (projections.Schedule, error) {
	s, ok, err := e.state.Schedule(id)
	if err == nil && !ok {
		err = fmt.Errorf("%w: schedule %s", projections.ErrScheduleNotFound, id)
	}
	return s, err
}

// BulkActionRun deletes or reconciles matching schedules, returning how
// many it touched.
func (e *Engine) BulkActionRun(ctx context.Context, c BulkAction) (int, error) {
	r, err := e.ask(ctx, c.AppID, func(ch chan<- reply) interface{} { return bulkAction{c, ch} })
	return r.affected, err
}

// AnnounceNode records a member's API address and the event schema its
// build reads (leader only: followers forward the request).
func (e *Engine) AnnounceNode(_ context.Context, a event.NodeAnnounced) error {
	_, err := e.proposeOne(a)
	return err
}

// propose stamps and replicates events, mapping replication errors to the
// package's own. It returns one result per event.
func (e *Engine) propose(payloads ...event.Payload) ([]raftfsm.Result, error) {
	return e.proposeAt(e.cfg.Now(), payloads...)
}

// proposeAt is propose with the events stamped at now.
func (e *Engine) proposeAt(now time.Time, payloads ...event.Payload) ([]raftfsm.Result, error) {
	return e.stampAndSend(func(evs []event.Event, timeout time.Duration) ([]raftfsm.Result, error) {
		res, _, err := e.repl.Propose(evs, timeout)
		return res, err
	}, now, payloads)
}

// forwardAt proposes payloads stamped at now on the leader, from any node.
func (e *Engine) forwardAt(now time.Time, payloads ...event.Payload) ([]raftfsm.Result, error) {
	return e.stampAndSend(e.repl.Forward, now, payloads)
}

// catchUp makes this node's projections as fresh as the leader's.
func (e *Engine) catchUp() error {
	_, err := e.repl.Forward(nil, e.cfg.ProposeTimeout)
	return replicationErr(err)
}

type sendFunc func(evs []event.Event, timeout time.Duration) ([]raftfsm.Result, error)

func (e *Engine) stampAndSend(send sendFunc, now time.Time, payloads []event.Payload) ([]raftfsm.Result, error) {
	evs := make([]event.Event, 0, len(payloads))
	for _, p := range payloads {
		ev, err := event.New(p, now.UnixNano(), e.cfg.NodeID)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	res, err := send(evs, e.cfg.ProposeTimeout)
	if err != nil {
		return nil, replicationErr(err)
	}
	return res, nil
}

// replicationErr turns the replication layer's errors into the engine's
// (nil stays nil).
func replicationErr(err error) error {
	switch {
	case errors.Is(err, raftfsm.ErrNotLeader):
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raftfsm.ErrNoLeader), errors.Is(err, raftfsm.ErrShutdown):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

// proposeOne proposes a single event and returns its rejection, if any.
func (e *Engine) proposeOne(p event.Payload) (raftfsm.Result, error) {
	res, err := e.propose(p)
	if err != nil {
		return raftfsm.Result{}, err
	}
	return res[0], res[0].Err
}
