package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/projections"
)

// Errors the HTTP layer maps to answers. Rejections decided by apply come
// back as the projections package's errors (ErrAppNotFound, ...).
var (
	// ErrUnavailable: no leader could take the write right now (503).
	ErrUnavailable = errkind.New(errkind.Unavailable, "service unavailable: no raft leader")
	// ErrNotLeader: this node cannot take writes; the leader can (503 or forward).
	ErrNotLeader = errkind.New(errkind.Unavailable, "this node is not the leader")
	// ErrTooManyApps: the cluster holds as many apps as --max-apps allows.
	ErrTooManyApps = errkind.New(errkind.Conflict, "too many apps")
)

// RegisterApp registers an app. Partitions 0 takes the configured default.
type RegisterApp struct {
	AppID      string
	Partitions int
	Active     bool
}

// CreateSchedule creates a one-time schedule (ScheduleTime, unix seconds,
// or ScheduleTimeMs, unix milliseconds, for a sub-second due time) or a
// cron schedule (Cron, already parsed and validated by the caller).
type CreateSchedule struct {
	AppID          string
	Payload        string
	ScheduleTime   int64
	ScheduleTimeMs int64
	Cron           *cronspec.Spec
	Callback       event.Callback
	Retry          *event.RetryPolicy
	event.Definition
	// Paused creates the schedule paused: it fires once resumed.
	Paused bool
}

// BulkAction deletes or reconciles an app's schedules in a time range.
type BulkAction struct {
	AppID  string
	Action string
	Status string
	Start  time.Time
	End    time.Time
}

// Messages to app actors. Each carries the channel its answer goes to, so
// the answer can be sent from the goroutine that waits on Raft without
// touching the actor's context.
// Every one carries the actor the request came from, stamped on its event.
type (
	registerApp struct {
		RegisterApp
		actor string
		reply chan<- reply
	}
	setActive struct {
		active bool
		actor  string
		reply  chan<- reply
	}
	createSchedule struct {
		CreateSchedule
		actor    string
		reply    chan<- reply
		caughtUp bool // a follower already caught up with the leader for it
	}
	deleteSchedule struct {
		scheduleID string
		actor      string
		reply      chan<- reply
	}
	bulkAction struct {
		BulkAction
		actor string
		reply chan<- reply
	}
	rotateSecret struct {
		actor string
		reply chan<- reply
	}
	// builtCommand is a command whose event depends on the schedule as it
	// stands once every command accepted before it applied (an update
	// merges into it, a resume and a trigger read it): build makes the
	// event then, just before it is proposed.
	builtCommand struct {
		build func() (event.Payload, error)
		actor string
		reply chan<- reply
	}
)

// reply is what an app actor answers: an error, or what the applied event
// did (the record a create wrote, the count a bulk action touched).
type reply struct {
	affected int
	created  *projections.Schedule // a create's record, as apply wrote it
	proposed event.Payload         // a built command's event
	seq      uint64                // a built command's event's seq
	at       int64                 // and its time (unix ns)
	err      error
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
	if _, err := e.ask(ctx, c.AppID, func(ch chan<- reply) interface{} { return registerApp{c, actorOf(ctx), ch} }); err != nil {
		return projections.App{}, err
	}
	return e.readApp(c.AppID)
}

// reserveApp counts a registration against --max-apps until release: the
// stored apps and the registrations under way must stay within it.
func (e *Engine) reserveApp() (release func(), err error) {
	if e.cfg.MaxApps <= 0 {
		return func() {}, nil
	}
	e.registering.Lock()
	defer e.registering.Unlock()
	apps, err := e.state.Apps()
	if err != nil {
		return nil, err
	}
	if len(apps)+e.registering.n >= e.cfg.MaxApps {
		return nil, fmt.Errorf("%w: this cluster holds %d apps, the most --max-apps allows", ErrTooManyApps, e.cfg.MaxApps)
	}
	e.registering.n++
	return func() {
		e.registering.Lock()
		e.registering.n--
		e.registering.Unlock()
	}, nil
}

// SetAppActive activates or deactivates an app; a refusal is confirmed
// (confirmRefusal).
func (e *Engine) SetAppActive(ctx context.Context, appID string, active bool) (projections.App, error) {
	return confirmRefusal(e, func() (projections.App, error) {
		if _, err := e.ask(ctx, appID, func(ch chan<- reply) interface{} { return setActive{active, actorOf(ctx), ch} }); err != nil {
			return projections.App{}, err
		}
		return e.readApp(appID)
	})
}

func (e *Engine) readApp(id string) (projections.App, error) {
	app, ok, err := e.state.App(id)
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s", projections.ErrAppNotFound, id)
	}
	return app, err
}

// CreateSchedule creates a schedule and returns it as applied.
func (e *Engine) CreateSchedule(ctx context.Context, c CreateSchedule) (_ projections.Schedule, err error) {
	defer func() { e.count(ctx, "create", err) }()
	if c.Definition.Set() || c.Callback.NumberParam != "" || c.Paused {
		if err := e.readable(event.LifecycleSince); err != nil {
			return projections.Schedule{}, err
		}
	}
	if err := e.CheckTargets(c.Definition); err != nil {
		return projections.Schedule{}, err
	}
	if c.Callback.Shaped() || c.Definition.HasJob() || c.Cron != nil && (c.Cron.Parts() > 1 || c.Cron.Manual()) {
		if err := e.readable(event.JobsSince); err != nil {
			return projections.Schedule{}, err
		}
	}
	r, err := e.ask(ctx, c.AppID, func(ch chan<- reply) interface{} {
		return createSchedule{CreateSchedule: c, actor: actorOf(ctx), reply: ch}
	})
	if err != nil {
		return projections.Schedule{}, err
	}
	return *r.created, nil
}

// DeleteSchedule deletes a schedule (a cron with its future runs); a
// refusal is confirmed (confirmRefusal).
func (e *Engine) DeleteSchedule(ctx context.Context, id string) (_ projections.Schedule, err error) {
	defer func() { e.count(ctx, "delete", err) }()
	return confirmRefusal(e, func() (projections.Schedule, error) { return e.deleteOnce(ctx, id) })
}

func (e *Engine) deleteOnce(ctx context.Context, id string) (projections.Schedule, error) {
	s, err := e.visibleSchedule(id)
	if err != nil {
		return projections.Schedule{}, err
	}
	if _, err := e.ask(ctx, s.AppID, func(ch chan<- reply) interface{} { return deleteSchedule{id, actorOf(ctx), ch} }); err != nil {
		return projections.Schedule{}, err
	}
	s, ok, err := e.state.Schedule(id)
	if err == nil && !ok {
		err = fmt.Errorf("%w: schedule %s", projections.ErrScheduleNotFound, id)
	}
	return s, err
}

// BulkActionRun deletes or reconciles matching schedules, returning how
// many it touched.
func (e *Engine) BulkActionRun(ctx context.Context, c BulkAction) (_ int, err error) {
	defer func() { e.count(ctx, "bulk", err) }()
	r, err := e.ask(ctx, c.AppID, func(ch chan<- reply) interface{} { return bulkAction{c, actorOf(ctx), ch} })
	return r.affected, err
}

// RotateSecret gives an app a new signing secret; the one before still
// signs its callbacks for the configured grace period. It returns the app
// as applied.
func (e *Engine) RotateSecret(ctx context.Context, appID string) (projections.App, error) {
	if err := e.readable(event.TypeSecretRotated); err != nil {
		return projections.App{}, err
	}
	if _, err := e.ask(ctx, appID, func(ch chan<- reply) interface{} { return rotateSecret{actorOf(ctx), ch} }); err != nil {
		return projections.App{}, err
	}
	return e.readApp(appID)
}

// readable refuses (503) an event type some member does not read yet:
// one that joined moments ago and has not announced its build, or an
// older build during a rolling upgrade.
func (e *Engine) readable(t event.Type) error {
	if e.repl.Proposable(t) {
		return nil
	}
	return errkind.Newf(errkind.Unavailable, "service unavailable: a member of the cluster cannot record %s yet "+
		"(it has not announced its build, or a rolling upgrade is not finished); retry", t)
}

// SpendSignature records that a signed request was accepted: the same
// signature (digest) is refused, on every node, until until. It answers
// projections.ErrSignatureSpent for a replay.
func (e *Engine) SpendSignature(ctx context.Context, digest string, until time.Time) error {
	if err := e.readable(event.JobsSince); err != nil {
		return err
	}
	_, err := e.proposeOne(actorOf(ctx), event.SignatureSpent{Digest: digest, Until: until.UnixMilli()})
	return err
}

// IssueToken records a new API token under hash (the secret itself never
// leaves the caller) and returns its id.
func (e *Engine) IssueToken(ctx context.Context, id, name, role string, apps []string, hash string) error {
	if err := e.readable(event.TypeTokenIssued); err != nil {
		return err
	}
	_, err := e.proposeOne(actorOf(ctx), event.TokenIssued{TokenID: id, Name: name, Role: role, Apps: apps, Hash: hash})
	return err
}

// RevokeToken records that a token opens nothing any more, on every node.
func (e *Engine) RevokeToken(ctx context.Context, id string) error {
	if err := e.readable(event.TypeTokenRevoked); err != nil {
		return err
	}
	_, err := e.proposeOne(actorOf(ctx), event.TokenRevoked{TokenID: id})
	return err
}

// Upcoming returns up to n occurrences of cron s strictly after unix time
// after, as its cron actor computes them (fewer if the expression ends).
func (e *Engine) Upcoming(ctx context.Context, s projections.Schedule, after int64, n int) ([]int64, error) {
	if !s.IsCron() || s.Status != event.StatusScheduled {
		return nil, nil
	}
	a := e.askCron(s.ScheduleID, upcoming{After: after, N: n})
	if a.err != nil && a.times == nil {
		return nil, a.err
	}
	return a.times, ctx.Err()
}
