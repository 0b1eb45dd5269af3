package actors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
)

// Runs fire when their time comes on the clock, in due order, each once,
// also those beyond the timer's window (read ahead as time passes).
func TestRunsFireInDueOrderWhenTheirTimeComes(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	late := r.once("mail", 30*time.Second, "/late") // beyond the 10 s window
	first := r.once("mail", 10*time.Second, "/first")
	second := r.once("mail", 20*time.Second, "/second")

	r.clock.advance(9 * time.Second)
	if n := len(r.firedRuns()); n != 0 {
		t.Fatalf("%d runs fired before their time", n)
	}
	r.clock.advance(time.Second)
	r.waitFor("the first run", func() bool { return len(r.callsTo("/first")) == 1 })
	r.clock.advance(10 * time.Second)
	r.waitFor("the second run", func() bool { return len(r.callsTo("/second")) == 1 })
	r.clock.advance(10 * time.Second)
	r.waitFor("the run beyond the window", func() bool { return len(r.callsTo("/late")) == 1 })
	var order []string
	for _, rf := range r.firedRuns() {
		order = append(order, rf.RunID)
	}
	if len(order) != 3 || order[0] != first.ScheduleID || order[1] != second.ScheduleID || order[2] != late.ScheduleID {
		t.Fatalf("fired %v, want %s, %s, %s in that order", order, first.ScheduleID, second.ScheduleID, late.ScheduleID)
	}
	if got := r.callsTo("/first")[0].runID; got != first.ScheduleID {
		t.Fatalf("callback carried run id %q, want %q", got, first.ScheduleID)
	}
	r.waitFor("three outcomes", func() bool { return len(r.events(event.TypeRunCompleted)) == 3 })
}

// A run found overdue by more than the misfire threshold (nobody led while
// it fell due) is recorded as MISS with the reason, and not called.
func TestOverdueBeyondTheThresholdIsMissedNotCalled(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	s := r.once("mail", 5*time.Second, "/late")
	r.lead(false)
	r.clock.advance(2 * time.Minute)
	r.lead(true)
	r.waitFor("the MISS", func() bool { return r.schedule(s.ScheduleID).Status == event.StatusMiss })
	if msg := r.schedule(s.ScheduleID).ErrorMessage; !strings.Contains(msg, "missed: due at") || !strings.Contains(msg, "misfire threshold 1m0s") {
		t.Fatalf("miss message: %q", msg)
	}
	if len(r.callsTo("/late")) != 0 || len(r.firedRuns()) != 0 {
		t.Fatalf("a missed run was called: %v", r.callsTo("/late"))
	}
}

// A leader whose proposal fails (it lost leadership mid-fire) calls
// nothing; the next term fires the run once. A run that fired but whose
// outcome a deposed leader never recorded is fired again by the next
// term, under the same run id.
func TestLeadershipLossMidFireAndReFireWithTheSameRunID(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	s := r.once("mail", time.Second, "/hook")
	r.repl.set(func(r *fsmReplicator) { r.fail = errLost })
	r.clock.advance(time.Second)
	r.clock.waitTimer(t, r.clock.Now().Add(retryDelay)) // the failed fire is put back to try again
	if len(r.callsTo("/hook")) != 0 || len(r.firedRuns()) != 0 {
		t.Fatal("a leader that could not commit RunFired called out")
	}
	r.lead(false)
	r.repl.set(func(r *fsmReplicator) { r.fail = nil })
	r.mu.Lock()
	r.hold = make(chan struct{}) // the receiver takes the call and keeps it
	r.mu.Unlock()
	r.lead(true)
	r.waitFor("the call", func() bool { return len(r.callsTo("/hook")) == 1 })
	if rf := r.firedRuns(); len(rf) != 1 || rf[0].Refire {
		t.Fatalf("first fire: %+v", rf)
	}
	// Deposed while the call is in flight: it is cancelled, no outcome.
	r.lead(false)
	r.mu.Lock()
	close(r.hold)
	r.hold = nil
	r.mu.Unlock()
	r.lead(true)
	r.waitFor("the re-fire", func() bool { return len(r.callsTo("/hook")) == 2 })
	calls := r.callsTo("/hook")
	if calls[0].runID != s.ScheduleID || calls[1].runID != s.ScheduleID {
		t.Fatalf("re-fire under run ids %q and %q, want %q both", calls[0].runID, calls[1].runID, s.ScheduleID)
	}
	r.waitFor("the outcome", func() bool { return r.schedule(s.ScheduleID).Status == event.StatusSuccess })
	if rf := r.firedRuns(); len(rf) != 2 || !rf[1].Refire {
		t.Fatalf("fires: %+v, want the second marked as a re-fire", rf)
	}
}

// failingState fails a cron's first read once: its cron actor cannot
// compute the next occurrence then.
type failingState struct {
	State
	failures atomic.Int32
}

func (f *failingState) Schedule(id string) (projections.Schedule, bool, error) {
	if s, ok, err := f.State.Schedule(id); err == nil && ok && s.IsCron() && f.failures.Add(-1) >= 0 {
		return projections.Schedule{}, false, errors.New("injected read failure")
	}
	return f.State.Schedule(id)
}

// A cron whose next occurrence cannot be computed once is not fired then
// (a RunFired without a next run would end it): the run waits and fires
// on the next try, and the cron keeps firing after it.
func TestCronKeepsFiringAfterItsNextTimeFailedOnce(t *testing.T) {
	var st *failingState
	r := newRig(t, nil, func(s State) State { st = &failingState{State: s}; return st })
	r.registerApp("mail", 1)
	c := r.cron("mail", "*/10 * * * * *", "/cron")
	if c.NextRunTime != epoch0.Unix()+10 {
		t.Fatalf("first run %d, want %d", c.NextRunTime, epoch0.Unix()+10)
	}
	r.eng.forgetCron(c.ScheduleID) // its actor reads the schedule anew, and fails once
	st.failures.Store(1)
	r.clock.advance(10 * time.Second)
	r.clock.waitTimer(t, r.clock.Now().Add(retryDelay)) // the run waits to be tried again
	if st.failures.Load() != 0 {
		t.Fatal("the injected failure was not met")
	}
	if n := len(r.firedRuns()); n != 0 {
		t.Fatalf("fired %d runs although the next occurrence was not computed", n)
	}
	r.clock.advance(retryDelay)
	r.waitFor("the retried run", func() bool { return len(r.callsTo("/cron")) == 1 })
	r.clock.advance(9 * time.Second)
	r.waitFor("the next occurrence", func() bool { return len(r.callsTo("/cron")) == 2 })
	for _, rf := range r.firedRuns() {
		if rf.NextRunTime != rf.ScheduledTime+10 {
			t.Fatalf("RunFired %+v: next run %d, want %d", rf, rf.NextRunTime, rf.ScheduledTime+10)
		}
	}
	if s := r.schedule(c.ScheduleID); s.Status != event.StatusScheduled || s.NextRunTime != epoch0.Unix()+30 {
		t.Fatalf("cron after two fires: %+v", s)
	}
}

// A cron whose expression has no occurrence after the one that fires is
// closed by an event that says so: it shows EXPIRED, and nothing more
// is pending.
func TestACronWithNoFurtherOccurrenceCloses(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	c := r.cron("mail", "0 0 12 1 1 * 2027", "/once")
	r.clock.advance(time.Unix(c.NextRunTime, 0).Sub(r.clock.Now()))
	r.waitFor("the last occurrence", func() bool { return len(r.callsTo("/once")) == 1 })
	r.waitFor("the cron closed", func() bool {
		s := r.schedule(c.ScheduleID)
		return s.Status == event.StatusExpired && s.ClosedAt != 0
	})
	closed := r.events(event.TypeScheduleClosed)
	if len(closed) != 1 || closed[0].(*event.ScheduleClosed).Reason != event.ReasonExhausted {
		t.Fatalf("closing events: %+v", closed)
	}
}

// An app's partitions cost nothing until they hold a run: a timer starts
// with the first run of its partition and retires once nothing there is
// pending.
func TestTimersLiveOnlyWhileTheirPartitionHoldsRuns(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("wide", 1024)
	if n := r.timers(); n != 0 {
		t.Fatalf("%d timers for an app with nothing pending", n)
	}
	r.once("wide", time.Second, "/one")
	r.waitFor("one timer", func() bool { return r.timers() == 1 })
	r.clock.advance(time.Second)
	r.waitFor("the run", func() bool { return len(r.callsTo("/one")) == 1 })
	r.waitFor("the timer retired", func() bool { return r.timers() == 0 })
	// Taking over again starts timers only where runs wait.
	far := r.once("wide", time.Hour, "/far")
	r.lead(false)
	r.lead(true)
	r.waitFor("the far run's timer", func() bool { return r.timers() == 1 })
	r.clock.advance(time.Hour)
	r.waitFor("the far run", func() bool { return r.schedule(far.ScheduleID).Status == event.StatusSuccess })
}

// A run whose call is still going when its partition's timer retires is
// not called again by the timer the next run of that partition starts: in
// flight on this leader, it is this leader's to finish, not a previous
// leader's left-over to re-fire.
func TestARunInFlightIsNotCalledAgainByALaterTimer(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("slow", 1)
	r.mu.Lock()
	r.hold = make(chan struct{}) // the receiver takes each call and keeps it
	r.mu.Unlock()
	first := r.once("slow", time.Second, "/first")
	r.clock.advance(time.Second)
	r.waitFor("the first call", func() bool { return len(r.callsTo("/first")) == 1 })
	r.waitFor("the timer retired", func() bool { return r.timers() == 0 })
	r.once("slow", time.Second, "/second")
	r.clock.advance(time.Second)
	r.waitFor("the second call", func() bool { return len(r.callsTo("/second")) == 1 })
	r.mu.Lock()
	close(r.hold)
	r.hold = nil
	r.mu.Unlock()
	r.waitFor("the first run's outcome", func() bool { return r.schedule(first.ScheduleID).Status == event.StatusSuccess })
	if n := len(r.callsTo("/first")); n != 1 {
		t.Fatalf("the first run was called %d times", n)
	}
	for _, rf := range r.firedRuns() {
		if rf.Refire {
			t.Fatalf("re-fired %s while its call was going", rf.RunID)
		}
	}
}

// Commands are proposed in the order the app's actor accepted them: a
// deactivate accepted after creates waits until they are in, and creates
// after it are refused.
func TestAnAppsCommandsAreProposedInTheOrderAccepted(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 2)
	gate := make(chan struct{})
	r.repl.set(func(r *fsmReplicator) { r.gate = gate })
	pid := r.eng.appPID("mail")
	var replies []chan reply
	send := func(msg func(chan<- reply) interface{}) {
		ch := make(chan reply, 1)
		replies = append(replies, ch)
		r.eng.system.Root.Send(pid, msg(ch))
	}
	create := func(ch chan<- reply) interface{} {
		return createSchedule{CreateSchedule: CreateSchedule{AppID: "mail", Callback: r.callback("/x"),
			ScheduleTime: epoch0.Unix() + 3600}, reply: ch}
	}
	for i := 0; i < 5; i++ {
		send(create)
	}
	send(func(ch chan<- reply) interface{} { return setActive{active: false, reply: ch} })
	send(create)
	close(gate)
	for i, ch := range replies {
		rep := <-ch
		switch {
		case i < 5 && rep.err != nil:
			t.Fatalf("create %d accepted before the deactivate: %v", i, rep.err)
		case i == 6 && !errors.Is(rep.err, projections.ErrAppInactive):
			t.Fatalf("create after the deactivate: %v, want refused as inactive", rep.err)
		}
	}
	var order []event.Type
	err := eventlog.Scan(r.db, 0, 0, func(ev event.Event) error {
		if ev.Type == event.TypeScheduleCreated || ev.Type == event.TypeAppDeactivated {
			order = append(order, ev.Type)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []event.Type{4, 4, 4, 4, 4, event.TypeAppDeactivated}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("log holds %v, want the five creates before the deactivate: %v", order, want)
	}
}

// --max-apps bounds the apps a cluster holds: one more is refused (409).
func TestMaxApps(t *testing.T) {
	r := newRig(t, func(c *Config) { c.MaxApps = 2 }, nil)
	r.registerApp("a", 1)
	r.registerApp("b", 1)
	_, err := r.eng.RegisterApp(context.Background(), RegisterApp{AppID: "c", Partitions: 1, Active: true})
	if !errors.Is(err, ErrTooManyApps) || !strings.Contains(err.Error(), "--max-apps") {
		t.Fatalf("third app under --max-apps 2: %v", err)
	}
}

// An outcome whose proposal fails while this node still leads (a timeout
// on a loaded disk) is proposed again: the run does not stay in flight
// until some later leader re-fires it.
func TestAnOutcomeThatFailsToCommitIsRetriedWhileLeading(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	s := r.once("mail", time.Second, "/hook")
	failed := 0
	r.repl.set(func(fr *fsmReplicator) {
		fr.failWhen = func(evs []event.Event) error {
			if evs[0].Type == event.TypeRunCompleted && failed < 2 {
				failed++
				return errors.New("timed out enqueuing operation")
			}
			return nil
		}
	})
	r.clock.advance(time.Second)
	r.waitFor("the call", func() bool { return len(r.callsTo("/hook")) == 1 })
	r.waitFor("the outcome, recorded on a later try", func() bool { return r.schedule(s.ScheduleID).Status == event.StatusSuccess })
	if len(r.callsTo("/hook")) != 1 {
		t.Fatalf("%d calls, want 1: the run was re-fired instead of its outcome recorded", len(r.callsTo("/hook")))
	}
	r.repl.set(func(fr *fsmReplicator) {
		if failed != 2 {
			t.Errorf("the outcome's proposal failed %d times, want 2", failed)
		}
	})
}
