package actors

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/projections"
)

func mustSpec(t *testing.T, expr string) *cronspec.Spec {
	t.Helper()
	s, err := cronspec.Parse(expr, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scheduledTimes are the scheduled times of the runs fired of schedule id.
func (r *rig) scheduledTimes(id string) []int64 {
	var out []int64
	for _, rf := range r.firedRuns() {
		if rf.ScheduleID == id {
			out = append(out, rf.ScheduledTime-epoch0.Unix())
		}
	}
	return out
}

// sentinel is a one-time run due at now + in on the same app (one
// partition: the same timer), whose call tells the test that everything
// due before it was handled.
func (r *rig) sentinel(app string, in time.Duration, path string) {
	r.t.Helper()
	r.once(app, in, path)
}

// An update moves a cron to its new expression from the next occurrence
// on; what fired before keeps its record.
func TestAnUpdatedCronFiresOnItsNewTimes(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	c := r.cron("mail", "*/10 * * * * *", "/cron")
	r.clock.advance(10 * time.Second)
	r.waitFor("the first run", func() bool { return len(r.callsTo("/cron")) == 1 })
	s, err := r.eng.UpdateSchedule(context.Background(), c.ScheduleID, ScheduleChange{Cron: mustSpec(t, "0 * * * * *")})
	if err != nil {
		t.Fatal(err)
	}
	if s.CronExpression != "0 * * * * *" || s.NextRunTime != epoch0.Unix()+60 {
		t.Fatalf("after the update: %q next %d", s.CronExpression, s.NextRunTime-epoch0.Unix())
	}
	r.sentinel("mail", 55*time.Second, "/sentinel")
	r.clock.advance(50 * time.Second) // past 20, 30, 40 and 50: none fires now
	r.clock.advance(5 * time.Second)
	r.waitFor("the sentinel", func() bool { return len(r.callsTo("/sentinel")) == 1 })
	r.clock.advance(5 * time.Second)
	r.waitFor("the run at the new time", func() bool { return len(r.callsTo("/cron")) == 2 })
	if got := r.scheduledTimes(c.ScheduleID); len(got) != 2 || got[0] != 10 || got[1] != 60 {
		t.Fatalf("fired at %v s, want [10 60]", got)
	}
	ups := r.events(event.TypeScheduleUpdated)
	if len(ups) != 1 || len(ups[0].(*event.ScheduleUpdated).Changed) == 0 {
		t.Fatalf("update events: %+v", ups)
	}
}

// An update whose new next occurrence is the one already pending (the same
// run id, dropped and added again in one apply) still fires it: the timer
// must not take the drop for the last word.
func TestAnUpdatedCronFiresAnOccurrenceBothDefinitionsShare(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	c := r.cron("mail", "*/2 * * * * *", "/cron")
	for i := 1; i <= 2; i++ {
		r.clock.advance(2 * time.Second)
		r.waitFor("the runs at 2 and 4", func() bool { return len(r.callsTo("/cron")) == i })
	}
	// The run at 6 is pending and, within the timer's window, queued.
	s, err := r.eng.UpdateSchedule(context.Background(), c.ScheduleID, ScheduleChange{Cron: mustSpec(t, "*/3 * * * * *")})
	if err != nil {
		t.Fatal(err)
	}
	if s.NextRunTime != epoch0.Unix()+6 {
		t.Fatalf("after the update: next %d, want 6", s.NextRunTime-epoch0.Unix())
	}
	r.clock.advance(2 * time.Second)
	r.waitFor("the shared occurrence at 6", func() bool { return len(r.callsTo("/cron")) == 3 })
	r.clock.advance(3 * time.Second)
	r.waitFor("the run at 9", func() bool { return len(r.callsTo("/cron")) == 4 })
	if got := r.scheduledTimes(c.ScheduleID); len(got) != 4 || got[2] != 6 || got[3] != 9 {
		t.Fatalf("fired at %v s, want [2 4 6 9]", got)
	}
}

// Paused, a cron fires nothing; resumed, it fires from its next
// occurrence after the resume, not the ones it missed.
func TestAPausedCronFiresNothingAndResumesWithoutABurst(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	c := r.cron("mail", "*/10 * * * * *", "/cron")
	if _, err := r.eng.PauseSchedule(context.Background(), c.ScheduleID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.eng.PauseSchedule(context.Background(), c.ScheduleID); !errors.Is(err, projections.ErrSchedulePaused) {
		t.Fatalf("pausing twice: %v", err)
	}
	r.sentinel("mail", 45*time.Second, "/sentinel")
	r.clock.advance(45 * time.Second)
	r.waitFor("the sentinel", func() bool { return len(r.callsTo("/sentinel")) == 1 })
	if n := len(r.callsTo("/cron")); n != 0 || r.schedule(c.ScheduleID).Status != event.StatusPaused {
		t.Fatalf("a paused cron was called %d times", n)
	}
	s, err := r.eng.ResumeSchedule(context.Background(), c.ScheduleID)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != event.StatusScheduled || s.NextRunTime != epoch0.Unix()+50 {
		t.Fatalf("resumed: %s next %d s", s.Status, s.NextRunTime-epoch0.Unix())
	}
	r.clock.advance(5 * time.Second)
	r.waitFor("the run after the resume", func() bool { return len(r.callsTo("/cron")) == 1 })
	if got := r.scheduledTimes(c.ScheduleID); len(got) != 1 || got[0] != 50 {
		t.Fatalf("fired at %v s after the resume, want [50]", got)
	}
}

// A cron with an end time fires no occurrence after it and is closed at
// the end time itself, EXPIRED, even while paused.
func TestACronExpiresAtItsEndTime(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	s, err := r.eng.CreateSchedule(context.Background(), CreateSchedule{AppID: "mail", Cron: mustSpec(t, "*/10 * * * * *"),
		Callback: r.callback("/cron"), Definition: event.Definition{EndTime: epoch0.Unix() + 25}})
	if err != nil {
		t.Fatal(err)
	}
	r.clock.advance(20 * time.Second)
	r.waitFor("two runs", func() bool { return len(r.callsTo("/cron")) == 2 })
	if got := r.schedule(s.ScheduleID); got.Status != event.StatusScheduled || got.NextRunTime != 0 {
		t.Fatalf("before its end: %s next %d", got.Status, got.NextRunTime)
	}
	r.clock.advance(5 * time.Second)
	r.waitFor("the cron expired at its end time", func() bool { return r.schedule(s.ScheduleID).Status == event.StatusExpired })
	closed := r.events(event.TypeScheduleClosed)
	if len(closed) != 1 || closed[0].(*event.ScheduleClosed).Reason != event.ReasonExpired {
		t.Fatalf("closing: %+v", closed)
	}
	if _, err := r.eng.CreateSchedule(context.Background(), CreateSchedule{AppID: "mail", Cron: mustSpec(t, "0 0 * * * *"),
		Callback: r.callback("/x"), Definition: event.Definition{EndTime: r.clock.Now().Unix() + 10}}); !errors.Is(err, projections.ErrInvalidEvent) {
		t.Fatalf("an end time before the first run: %v", err)
	}

	p, err := r.eng.CreateSchedule(context.Background(), CreateSchedule{AppID: "mail", Cron: mustSpec(t, "*/10 * * * * *"),
		Callback: r.callback("/paused"), Definition: event.Definition{EndTime: r.clock.Now().Unix() + 30}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.eng.PauseSchedule(context.Background(), p.ScheduleID); err != nil {
		t.Fatal(err)
	}
	r.clock.advance(30 * time.Second)
	r.waitFor("the paused cron expired", func() bool { return r.schedule(p.ScheduleID).Status == event.StatusExpired })
	if n := len(r.callsTo("/paused")); n != 0 {
		t.Fatalf("a paused cron was called %d times", n)
	}
}

// A cron that opted in is stopped for good by an answer {"code":400};
// its number travels in the parameter it names.
func TestTheReceiverStopsACronThatOptedIn(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	cb := r.callback("/stop")
	cb.URL += "?a=1&b=2"
	cb.NumberParam = "__cronId"
	s, err := r.eng.CreateSchedule(context.Background(), CreateSchedule{AppID: "mail", Cron: mustSpec(t, "*/10 * * * * *"),
		Callback: cb, Definition: event.Definition{StopOnCallback: true}})
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.bodies = map[string]string{"/stop": `{"code":200,"message":"go on"}`}
	r.mu.Unlock()
	r.clock.advance(10 * time.Second)
	r.waitFor("the first run's outcome", func() bool { return len(r.events(event.TypeRunCompleted)) == 1 })
	if got := r.callsTo("/stop")[0].query; got != "a=1&b=2&__cronId="+itoa(s.CreatedSeq) {
		t.Fatalf("query %q", got)
	}
	r.mu.Lock()
	r.bodies["/stop"] = `{"code":400,"message":"enough"}`
	r.mu.Unlock()
	r.clock.advance(10 * time.Second)
	r.waitFor("the cron stopped", func() bool { return r.schedule(s.ScheduleID).Status == event.StatusStopped })
	got := r.schedule(s.ScheduleID)
	if got.NextRunTime != 0 || got.ErrorMessage == "" {
		t.Fatalf("stopped cron: %+v", got)
	}
	stops := r.events(event.TypeScheduleStoppedByCallback)
	if len(stops) != 1 || stops[0].(*event.ScheduleStoppedByCallback).Response != `{"code":400,"message":"enough"}` {
		t.Fatalf("stop events: %+v", stops)
	}
	r.sentinel("mail", 30*time.Second, "/sentinel")
	r.clock.advance(30 * time.Second)
	r.waitFor("the sentinel", func() bool { return len(r.callsTo("/sentinel")) == 1 })
	if n := len(r.callsTo("/stop")); n != 2 {
		t.Fatalf("%d calls, want 2: a stopped cron fired", n)
	}
}

// A triggered run fires at once under its own id, outside the cron's
// occurrences, which keep their times.
func TestATriggeredRunFiresNowUnderItsOwnID(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	c := r.cron("mail", "0 * * * * *", "/cron")
	id, err := r.eng.TriggerRun(context.Background(), c.ScheduleID)
	if err != nil {
		t.Fatal(err)
	}
	if id != event.TriggerRunID(c.ScheduleID, 1) {
		t.Fatalf("run id %q", id)
	}
	r.waitFor("the triggered run", func() bool { return len(r.callsTo("/cron")) == 1 })
	if got := r.callsTo("/cron")[0].runID; got != id {
		t.Fatalf("called with run id %q, want %q", got, id)
	}
	r.waitFor("its outcome", func() bool { return r.schedule(id).Status == event.StatusSuccess })
	if s := r.schedule(c.ScheduleID); s.NextRunTime != epoch0.Unix()+60 {
		t.Fatalf("the cron's next run moved: %d", s.NextRunTime-epoch0.Unix())
	}
	once := r.once("mail", time.Hour, "/once")
	if _, err := r.eng.TriggerRun(context.Background(), once.ScheduleID); !errors.Is(err, projections.ErrInvalidEvent) {
		t.Fatalf("trigger of a one-time schedule: %v", err)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// A one-time schedule moved to another time within the timers' window
// fires at its new time, once, and not at its old one.
func TestAOneTimeScheduleMovedWithinTheWindowFiresAtItsNewTime(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	for _, move := range []struct {
		name     string
		from, to time.Duration
	}{{"later", 3 * time.Second, 6 * time.Second}, {"earlier", 6 * time.Second, 3 * time.Second}} {
		r.clock.advance(r.clock.Now().Truncate(time.Second).Add(time.Second).Sub(r.clock.Now())) // a whole second
		start := r.clock.Now()
		s := r.once("mail", move.from, "/"+move.name)
		r.clock.advance(time.Second)
		to := start.Add(move.to).Unix()
		if _, err := r.eng.UpdateSchedule(context.Background(), s.ScheduleID, ScheduleChange{ScheduleTime: &to}); err != nil {
			t.Fatal(err)
		}
		r.clock.advance(move.to - time.Second - 10*time.Millisecond)
		r.sentinel("mail", 0, "/sentinel-"+move.name)
		r.waitFor("the sentinel", func() bool { return len(r.callsTo("/sentinel-"+move.name)) == 1 })
		if n := len(r.callsTo("/" + move.name)); n != 0 {
			t.Fatalf("%s: called %d times before its new time", move.name, n)
		}
		r.clock.advance(time.Second)
		r.waitFor("the run at its new time", func() bool { return len(r.callsTo("/"+move.name)) == 1 })
		r.clock.advance(10 * time.Second)
		r.sentinel("mail", 0, "/after-"+move.name)
		r.waitFor("the sentinel after", func() bool { return len(r.callsTo("/after-"+move.name)) == 1 })
		if n := len(r.callsTo("/" + move.name)); n != 1 {
			t.Fatalf("%s: called %d times", move.name, n)
		}
	}
}

// A due run as a timer held it before its schedule moved (a load that read
// it before the update, processed after its old time came) is neither
// called nor missed at its old time: the fire path finds the run's record
// moved and leaves it to its new time.
func TestAStaleViewOfAMovedRunIsNotFiredAtItsOldTime(t *testing.T) {
	r := newRig(t, nil, nil)
	r.registerApp("mail", 1)
	s := r.once("mail", 5*time.Second, "/moved")
	stale, ok, err := r.state.Pending(s.ScheduleID)
	if err != nil || !ok {
		t.Fatalf("pending run: %v %v", ok, err)
	}
	to := r.clock.Now().Add(8 * time.Second).Unix()
	if _, err := r.eng.UpdateSchedule(context.Background(), s.ScheduleID, ScheduleChange{ScheduleTime: &to}); err != nil {
		t.Fatal(err)
	}
	// As its timer would pop it: at its old time (it would be called), and
	// so overdue that it would be recorded as missed.
	overdue := stale
	overdue.DueMs = r.clock.Now().Add(-2 * time.Minute).UnixMilli()
	_, _, ctx := r.eng.term()
	for _, pr := range []projections.PendingRun{stale, overdue} {
		if _, err := r.eng.fireChunk([]fireItem{{ctx: ctx, pr: pr}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(r.firedRuns()); n != 0 || r.schedule(s.ScheduleID).Status != event.StatusScheduled {
		t.Fatalf("the stale run was fired (%d) or missed (%s)", n, r.schedule(s.ScheduleID).Status)
	}
	r.clock.advance(8 * time.Second)
	r.waitFor("the run at its new time", func() bool { return len(r.callsTo("/moved")) == 1 })
}
