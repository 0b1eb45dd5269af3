// Package actors turns API commands into events and fires callbacks.
//
//   - One app actor per app validates commands against the app's state,
//     stamps ids and times, and proposes its events in the order it
//     accepted the commands.
//   - One cron actor per cron schedule owns its occurrences: the first run
//     of a new cron, the next after each fire, the plan after a misfire and
//     the future runs the API lists are computed there and nowhere else
//     (apply never evaluates cron).
//   - One timer actor per (app, partition) that holds runs, on the leader
//     only, keeps the runs due in a near window and hands them to the fire
//     path when they are due; a partition with nothing pending has no
//     timer.
//
// Nothing here changes state directly: every change is an event that
// raftfsm applies. The leader starts its timers only after a Raft barrier
// (so it has applied everything committed before it) and stops them the
// moment it loses leadership.
//
// Files: leadership.go (taking over and stepping down), registry.go (the
// live actors, and the routing of applied effects to them), timer.go,
// fire.go and firebatch.go (the fire path), outcomes.go, app.go, cron.go,
// retention.go.
package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/actors/notify"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/metrics"
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
	// Term is the current Raft term.
	Term() uint64
	// Proposable reports whether every member reads events of type t (a
	// rolling upgrade may not be finished).
	Proposable(t event.Type) bool
}

// State is what the actors read of the projections; projections.Reader
// has it.
type State interface {
	App(id string) (projections.App, bool, error)
	Apps() ([]projections.App, error)
	Schedule(id string) (projections.Schedule, bool, error)
	// Pending is a pending run's record as applied now.
	Pending(runID string) (projections.PendingRun, bool, error)
	// PendingOf is a schedule's pending runs, due or in flight.
	PendingOf(scheduleID string) ([]projections.PendingRun, error)
	InflightRuns(app string, partition int, fn func(projections.PendingRun) bool) error
	DueRuns(app string, partition int, fromMs, untilMs int64, fn func(projections.PendingRun) bool) (int64, error)
	PartitionsWithRuns(app string) ([]int, error)
	ClosedBefore(cutoffMs int64, limit int) ([]string, error)
	// Job is a workflow job; LiveJobs are those waiting or processing.
	Job(id uint64) (projections.Job, bool, error)
	LiveJobs() ([]projections.Job, error)
	JobsOf(id string, offset, limit int) ([]projections.Job, error)
}

// Config tunes the scheduler.
type Config struct {
	NodeID            string
	DefaultPartitions int           // partitions of an app registered with 0
	MaxApps           int           // apps the cluster may hold (0: no limit)
	MisfireThreshold  time.Duration // overdue by more than this at fire time: MISS
	Window            time.Duration // how far ahead timers load due runs
	Policy            delivery.Policy
	Workers           int // concurrent callback deliveries
	ProposeTimeout    time.Duration
	Logger            *slog.Logger
	Clock             Clock
	// Guard checks every address a callback connects to (nil: the
	// default guard); Resolver resolves callback host names (nil: the
	// system's).
	Guard    *delivery.Guard
	Resolver *net.Resolver
	// Self returns the base URL of this node's API, where callbacks whose
	// URL is a path go (event.Callback.Local); nil: none is served.
	Self func() string
	// DataDir is where command callbacks run (each in its Dir under it);
	// MaxCommandRuns bounds the commands running at once on the leader
	// (karajo's max_job_running; default 1).
	DataDir        string
	MaxCommandRuns int
	// Targets are the notification targets schedules may name (karajo's
	// [notif]); Notify tunes their delivery (its Done is the engine's).
	Targets map[string]notify.Channel
	Notify  notify.Options
	// SecretGrace is how long an app's previous signing secret still signs
	// its callbacks after a rotation.
	SecretGrace time.Duration
	// Retention: closed schedules (finished or deleted, nothing pending)
	// are removed with their events this long after they closed; 0 keeps
	// everything forever. RetentionInterval is how often the leader looks.
	Retention         time.Duration
	RetentionInterval time.Duration
	// Metrics, if set, counts attempts, outcomes, lateness and commands.
	Metrics *metrics.Metrics
	// ComponentURL is where a workflow task naming a component is called:
	// a URL with {component} and {action} in it (--keboola-component-url).
	// TaskPoll is how often a task answered 202 is polled (default 1s).
	ComponentURL string
	TaskPoll     time.Duration
	// Mail, if set, sends workflow jobs' email notifications (its To is
	// each notice's address): the server's SMTP (--smtp-url).
	Mail *notify.Email
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
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.RetentionInterval <= 0 {
		c.RetentionInterval = time.Minute
	}
	if c.SecretGrace <= 0 {
		c.SecretGrace = 24 * time.Hour
	}
	if c.MaxCommandRuns <= 0 {
		c.MaxCommandRuns = 1
	}
	if c.TaskPoll <= 0 {
		c.TaskPoll = time.Second
	}
}

// Engine owns the actor system and the leader-only firing machinery.
//
// Its state is grouped by what guards it; no lock is held during I/O or
// while waiting for an actor, and lead is taken before reg when both are
// needed.
type Engine struct {
	// leaderTasks run each time this node takes over (WhileLeading).
	leaderTasks []func(ctx context.Context)

	cfg    Config
	clock  Clock
	system *actor.ActorSystem
	repl   Replicator
	state  State
	pool   *delivery.Pool
	client *delivery.Client // workflow tasks' calls (jobs.go)
	out    *outcomeBatcher
	fires  *fireBatcher

	// lead is this node's leadership as the engine acts on it.
	lead struct {
		sync.Mutex
		leading bool // firing: this term's barrier passed
		// draining: Drain began. Nothing more is fired (no timer starts),
		// but the term goes on, so the calls being made finish and their
		// outcomes commit.
		draining bool
		epoch    uint64             // bumped on every leadership change
		ctx      context.Context    // the current term; canceled when it ends
		cancel   context.CancelFunc // cancels the term's timers and deliveries
		// firedBy names this node and the Raft term it leads in, on every
		// call it makes (delivery.HeaderFiredBy).
		firedBy string
	}
	// reg is the registry of live actors (registry.go).
	reg struct {
		sync.Mutex
		apps   map[string]*actor.PID
		crons  map[string]*actor.PID
		timers map[timerKey]*timerEntry
		active map[string]bool // active apps, while leading: their partitions get timers
	}
	// secrets holds each app's signing secrets as apply last wrote them
	// (fire path; filled from the projection on a miss).
	secrets struct {
		sync.Mutex
		apps map[string]projections.App
	}
	// fired holds, by run id, the schedules of runs whose RunFired this
	// leader committed, from the apply effects until the fire worker that
	// proposed them takes them to deliver the calls.
	fired struct {
		sync.Mutex
		runs map[string]projections.FiredRun
	}
	// commandSlots bounds the commands running at once (MaxCommandRuns).
	commandSlots chan struct{}
	// overlap keeps exclusive schedules to one run at a time (overlap.go).
	overlap overlaps
	// notifier tells targets of outcomes (notifications.go) and workflow
	// jobs' notices (jobnotices.go). notices are the notifications on
	// their way.
	notifier *notify.Notifier
	notices  notices
	// noticeTimers: this term's workflow job notifications to come
	// (jobnotices.go).
	noticeTimers noticeTimers
	// failedLog and missedLog bound the lines written for failed and
	// missed runs.
	failedLog, missedLog runLog
	// jobs: the actors driving the processing workflow jobs (jobs.go).
	jobs jobDrivers
	// delivering: the runs this node is delivering (deliveries.go).
	delivering deliveries
	// queuedRuns counts the runs queued in this node's timers (due within
	// the window), for the metrics.
	queuedRuns atomic.Int64
	// registering counts app registrations accepted and not yet answered,
	// which --max-apps counts with the stored apps.
	registering struct {
		sync.Mutex
		n int
	}
	// background counts the goroutines that read the state store for the
	// actors (loads ahead, timer starts), which Stop waits for: the store
	// closes after the engine stops.
	background struct {
		sync.Mutex
		stopped bool
		wg      sync.WaitGroup
	}
}

// New builds an engine. Register OnLeadership and Observe with the node.
func New(cfg Config, repl Replicator, state State) *Engine {
	cfg.setDefaults()
	logger := cfg.Logger
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With("lib", "actor")
	}))
	copts := delivery.ClientOptions{MaxIdleConnsPerHost: cfg.Workers, Logger: logger,
		Guard: cfg.Guard, Resolver: cfg.Resolver, Self: cfg.Self}
	if m := cfg.Metrics; m != nil {
		copts.OnAttempt = func(req delivery.Request, status int, took time.Duration) { m.Attempt(req.AppID, status, took) }
	}
	client := delivery.NewClient(copts)
	e := &Engine{cfg: cfg, clock: cfg.Clock, system: system, repl: repl, state: state, client: client,
		pool: delivery.NewPool(client, cfg.Workers, 64*cfg.Workers)}
	e.reg.apps, e.reg.crons = map[string]*actor.PID{}, map[string]*actor.PID{}
	e.reg.timers, e.reg.active = map[timerKey]*timerEntry{}, map[string]bool{}
	e.fired.runs = map[string]projections.FiredRun{}
	e.commandSlots = make(chan struct{}, cfg.MaxCommandRuns)
	// Always a notifier: workflow jobs notify whoever their notices name.
	nopts := cfg.Notify
	nopts.Done, nopts.Logger = e.notificationDone, logger
	if nopts.Guard == nil {
		nopts.Guard = cfg.Guard
	}
	if nopts.Resolver == nil {
		nopts.Resolver = cfg.Resolver
	}
	e.notifier = notify.New(nopts)
	e.secrets.apps = map[string]projections.App{}
	e.lead.ctx, e.lead.cancel = context.WithCancel(context.Background())
	e.lead.cancel() // nothing may deliver before this node leads
	e.out = newOutcomeBatcher(e)
	e.fires = newFireBatcher(e)
	return e
}

// Stop stops firing and the actor system.
func (e *Engine) Stop() {
	e.lead.Lock()
	e.lead.epoch++
	e.stepDownLocked()
	e.lead.Unlock()
	e.stopCrons()
	e.background.Lock()
	e.background.stopped = true
	e.background.Unlock()
	e.background.wg.Wait()
	e.fires.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = e.notifier.Close(ctx) // what is still on its way is not recorded: at most once
	cancel()
	e.out.close()
	e.pool.Close()
	e.system.Shutdown()
}

// inBackground runs f on its own goroutine unless the engine is stopping.
func (e *Engine) inBackground(f func()) {
	e.background.Lock()
	defer e.background.Unlock()
	if e.background.stopped {
		return
	}
	e.background.wg.Add(1)
	go func() {
		defer e.background.wg.Done()
		f()
	}()
}

// propose stamps the engine's own events (actor "system") and replicates
// them on this node (the leader), returning one result per event.
func (e *Engine) propose(payloads ...event.Payload) ([]raftfsm.Result, error) {
	evs := make([]event.Event, len(payloads))
	now := e.clock.Now()
	for i, p := range payloads {
		var err error
		if evs[i], err = e.stamp(now, event.ActorSystem, p); err != nil {
			return nil, err
		}
	}
	return e.proposeEvents(evs)
}

// proposeEvents replicates stamped events on this node (the leader).
func (e *Engine) proposeEvents(evs []event.Event) ([]raftfsm.Result, error) {
	res, _, err := e.repl.Propose(evs, e.cfg.ProposeTimeout)
	return res, replicationErr(err)
}

// forwardEvents replicates stamped events on the leader, from any node.
func (e *Engine) forwardEvents(evs []event.Event) ([]raftfsm.Result, error) {
	res, err := e.repl.Forward(evs, e.cfg.ProposeTimeout)
	return res, replicationErr(err)
}

// stamp makes an event of p proposed by this node at now on behalf of
// actor.
func (e *Engine) stamp(now time.Time, actor string, p event.Payload) (event.Event, error) {
	ev, err := event.New(p, now.UnixNano(), e.cfg.NodeID)
	ev.Actor = actor
	return ev, err
}

// Linearize returns once this node has applied every write acknowledged
// before it was called, by any node: a read after it is linearizable (the
// leader confirms its commit index with a quorum; a follower applies it).
func (e *Engine) Linearize() error { return e.catchUp() }

// catchUp makes this node's projections as fresh as the leader's.
func (e *Engine) catchUp() error {
	_, err := e.repl.Forward(nil, e.cfg.ProposeTimeout)
	return replicationErr(err)
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

// proposeOne proposes a single event on behalf of actor and returns its
// rejection, if any.
func (e *Engine) proposeOne(actor string, p event.Payload) (raftfsm.Result, error) {
	ev, err := e.stamp(e.clock.Now(), actor, p)
	if err != nil {
		return raftfsm.Result{}, err
	}
	res, err := e.proposeEvents([]event.Event{ev})
	if err != nil {
		return raftfsm.Result{}, err
	}
	return res[0], res[0].Err
}

type actorKey struct{}

// WithActor returns ctx carrying who makes the requests it serves (an API
// token's id, event.ActorAdmin, event.ActorAnonymous): the commands under
// it stamp it on their events.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

type apiKey struct{}

// WithAPI returns ctx carrying the name of the API its requests came
// through ("goscheduler", "cronhubot"), which the command metrics count
// by.
func WithAPI(ctx context.Context, api string) context.Context {
	return context.WithValue(ctx, apiKey{}, api)
}

// count records a command on a schedule in the metrics, by the API it
// came through ("internal" when none said).
func (e *Engine) count(ctx context.Context, command string, err error) {
	api, _ := ctx.Value(apiKey{}).(string)
	if api == "" {
		api = "internal"
	}
	e.cfg.Metrics.Command(api, command, err)
}

// actorOf is ctx's actor, anonymous if none was given.
func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return event.ActorAnonymous
}

// RunCounts says where the runs this node handles stand, for the metrics.
type RunCounts struct {
	Queued     int // due within the window, waiting in a timer
	Firing     int // due, being recorded as fired (or missed)
	Delivering int // fired, their calls being made (retries included)
}

// RunCounts reports the runs this node handles now (none on a follower).
func (e *Engine) RunCounts() RunCounts {
	return RunCounts{Queued: int(e.queuedRuns.Load()), Firing: int(e.fires.pending.Load()), Delivering: e.delivering.count()}
}
