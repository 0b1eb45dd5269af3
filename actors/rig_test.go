package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
	"github.com/chronicle-sched/chronicle/raftfsm/raftstore"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// The engine's unit tests run it on a fake clock and a fake replicator:
// proposals are applied at once to a real FSM over an in-memory Pebble
// store (the real apply rules, projections and effects), without Raft.
// Callbacks go to a real HTTP receiver.

// fakeClock moves only when a test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool // guarded by c.mu
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) At(at time.Time, f func()) Stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: at, f: f}
	if !at.After(c.now) {
		t.stopped = true
		go f()
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// advance moves the clock by d and runs what fell due, earliest first.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		go t.f()
	}
}

// waitTimer waits until something is scheduled at at: how a test knows
// that an actor has handled what came before and armed its next wake-up.
func (c *fakeClock) waitTimer(t *testing.T, at time.Time) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		for _, tm := range c.timers {
			if !tm.stopped && tm.at.Equal(at) {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("nothing was scheduled at %s", at.Format(time.RFC3339))
		}
	}
}

// fsmReplicator applies every proposal to a real FSM at once.
type fsmReplicator struct {
	fsm *raftfsm.FSM

	mu    sync.Mutex
	index uint64
	fail  error         // proposals fail with it while set
	gate  chan struct{} // while set, a proposal waits for it to close
	// failWhen, if set, fails a proposal it returns an error for.
	failWhen func(evs []event.Event) error
}

func (r *fsmReplicator) Propose(evs []event.Event, _ time.Duration) ([]raftfsm.Result, uint64, error) {
	r.mu.Lock()
	gate, fail := r.gate, r.fail
	if fail == nil && r.failWhen != nil {
		fail = r.failWhen(evs)
	}
	r.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if fail != nil {
		return nil, 0, fail
	}
	admitted, refused := raftfsm.AdmitEvents(evs)
	data, err := raftfsm.EncodeCommand(admitted, true)
	if err != nil {
		return nil, 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.index++
	res := r.fsm.ApplyBatch([]*raft.Log{{Index: r.index, Term: 1, Type: raft.LogCommand, Data: data}})[0].([]raftfsm.Result)
	if refused != nil {
		res = raftfsm.MergeResults(refused, res)
	}
	return res, r.index, nil
}

func (r *fsmReplicator) Forward(evs []event.Event, timeout time.Duration) ([]raftfsm.Result, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	res, _, err := r.Propose(evs, timeout)
	return res, err
}

func (r *fsmReplicator) Barrier(time.Duration) error { return nil }
func (r *fsmReplicator) IsLeader() bool              { return true }
func (r *fsmReplicator) Term() uint64                { return 1 }
func (r *fsmReplicator) Proposable(event.Type) bool  { return true }

func (r *fsmReplicator) set(f func(r *fsmReplicator)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

// call is one callback the receiver got.
type call struct {
	path, runID, query string
}

// rig is an engine leading on a fake clock, with a receiver.
type rig struct {
	t     *testing.T
	clock *fakeClock
	repl  *fsmReplicator
	db    *pebble.DB
	state projections.Reader
	eng   *Engine
	srv   *httptest.Server

	mu     sync.Mutex
	calls  []call
	hold   chan struct{}     // while set, the receiver answers only once it is closed
	bodies map[string]string // what the receiver answers, by path ("": nothing)
}

// start of every rig's clock: a whole second, so due seconds are exact.
var epoch0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func newRig(t *testing.T, tune func(*Config), wrap func(State) State) *rig {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: raftstore.PebbleLogger(logger)})
	if err != nil {
		t.Fatal(err)
	}
	fsm, err := raftfsm.NewFSM(db, logger)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, clock: &fakeClock{now: epoch0}, repl: &fsmReplicator{fsm: fsm}, db: db, state: projections.Reader{R: db}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.calls = append(r.calls, call{path: req.URL.Path, runID: req.Header.Get("X-Chronicle-Run-Id"), query: req.URL.RawQuery})
		hold, body := r.hold, r.bodies[req.URL.Path]
		r.mu.Unlock()
		if body != "" {
			_, _ = io.WriteString(w, body)
		}
		if hold != nil {
			select {
			case <-hold:
			case <-req.Context().Done():
			}
		}
	}))
	cfg := Config{NodeID: "n1", Window: 10 * time.Second, MisfireThreshold: time.Minute, Workers: 8, Clock: r.clock,
		Logger: logger, ProposeTimeout: 2 * time.Second,
		Policy: delivery.Policy{MaxAttempts: 1, Timeout: 5 * time.Second, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}}
	if tune != nil {
		tune(&cfg)
	}
	var st State = r.state
	if wrap != nil {
		st = wrap(st)
	}
	r.eng = New(cfg, r.repl, st)
	fsm.SetObserver(r.eng.Observe)
	t.Cleanup(func() {
		r.eng.Stop()
		r.srv.Close()
		db.Close()
	})
	r.lead(true)
	return r
}

// lead switches leadership and waits until the engine acts on it.
func (r *rig) lead(on bool) {
	r.t.Helper()
	r.eng.OnLeadership(on)
	r.waitFor("leadership "+map[bool]string{true: "taken", false: "given up"}[on], func() bool { return r.eng.Leading() == on })
}

// waitFor polls cond (the actors work asynchronously) for at most five
// seconds (a loaded machine; it returns as soon as cond holds).
func (r *rig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			r.mu.Lock()
			calls := len(r.calls)
			r.mu.Unlock()
			r.t.Fatalf("timed out waiting for %s, at %v on the fake clock; calls received: %d; the log: %s",
				what, r.clock.Now().Sub(epoch0), calls, r.logSummary())
		}
	}
}

// logSummary lists the log's events (type and payload), for a test that
// failed to say what happened.
func (r *rig) logSummary() string {
	var b strings.Builder
	_ = eventlog.Scan(r.db, 0, 0, func(ev event.Event) error {
		p, err := ev.Payload()
		fmt.Fprintf(&b, "\n  %d %s %+v %v", ev.Seq, ev.Type, p, err)
		return nil
	})
	return b.String()
}

func (r *rig) registerApp(id string, partitions int) {
	r.t.Helper()
	if _, err := r.eng.RegisterApp(context.Background(), RegisterApp{AppID: id, Partitions: partitions, Active: true}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) callback(path string) event.Callback {
	return event.Callback{Type: "http", URL: r.srv.URL + path, Method: "POST"}
}

// once creates a one-time schedule of app due at the clock's now + in.
func (r *rig) once(app string, in time.Duration, path string) projections.Schedule {
	r.t.Helper()
	s, err := r.eng.CreateSchedule(context.Background(), CreateSchedule{AppID: app, Callback: r.callback(path),
		ScheduleTime: r.clock.Now().Add(in).Unix()})
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// cron creates a cron schedule of app with expression expr.
func (r *rig) cron(app, expr, path string) projections.Schedule {
	r.t.Helper()
	spec, err := cronspec.Parse(expr, "")
	if err != nil {
		r.t.Fatal(err)
	}
	s, err := r.eng.CreateSchedule(context.Background(), CreateSchedule{AppID: app, Cron: spec, Callback: r.callback(path)})
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// events returns the log's events of type t, decoded.
func (r *rig) events(t event.Type) []event.Payload {
	r.t.Helper()
	var out []event.Payload
	err := eventlog.Scan(r.db, 0, 0, func(ev event.Event) error {
		if ev.Type == t {
			p, err := ev.Payload()
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *rig) firedRuns() []*event.RunFired {
	var out []*event.RunFired
	for _, p := range r.events(event.TypeRunFired) {
		out = append(out, p.(*event.RunFired))
	}
	return out
}

func (r *rig) callsTo(path string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		if c.path == path {
			out = append(out, c)
		}
	}
	return out
}

func (r *rig) schedule(id string) projections.Schedule {
	r.t.Helper()
	s, ok, err := r.state.Schedule(id)
	if err != nil || !ok {
		r.t.Fatalf("schedule %s: %v %v", id, ok, err)
	}
	return s
}

// timers counts the live timer actors.
func (r *rig) timers() int {
	r.eng.reg.Lock()
	defer r.eng.reg.Unlock()
	return len(r.eng.reg.timers)
}

var errLost = errors.New("leadership lost")
