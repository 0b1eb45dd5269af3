package projections

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// world applies events the way raftfsm does (event appended only when
// accepted) to an in-memory Pebble, so tests read what users would see.
type world struct {
	t   *testing.T
	db  *pebble.DB
	seq uint64
	now int64 // unix ns stamped on events
}

func newWorld(t *testing.T) *world {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &world{t: t, db: db, now: 1_700_000_000e9}
}

func (w *world) apply(p event.Payload) (int, error) {
	w.t.Helper()
	ev, err := event.New(p, w.now, "n1")
	if err != nil {
		w.t.Fatal(err)
	}
	ev.Seq = w.seq + 1
	b := w.db.NewIndexedBatch()
	defer b.Close()
	n, err := Record(b, ev, nil)
	if err != nil {
		if !IsRejection(err) {
			w.t.Fatalf("apply %s: storage error %v", ev.Type, err)
		}
		return 0, err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		w.t.Fatal(err)
	}
	w.seq++
	return n, nil
}

func (w *world) must(p event.Payload) int {
	w.t.Helper()
	n, err := w.apply(p)
	if err != nil {
		w.t.Fatalf("apply %T: %v", p, err)
	}
	return n
}

func (w *world) q() Reader { return Reader{R: w.db} }

func (w *world) schedule(id string) Schedule {
	w.t.Helper()
	s, ok, err := w.q().Schedule(id)
	if err != nil || !ok {
		w.t.Fatalf("schedule %s: found=%v err=%v", id, ok, err)
	}
	return s
}

var cb = event.Callback{Type: "http", URL: "http://127.0.0.1:1/cb", Method: "POST"}

func TestAppLifecycleRejections(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 2, Active: true})
	for _, c := range []struct {
		p    event.Payload
		want error
	}{
		{event.AppRegistered{AppID: "a", Partitions: 2}, ErrAppExists},
		{event.AppActivated{AppID: "a"}, ErrAppAlreadyActive},
		{event.AppDeactivated{AppID: "zz"}, ErrAppNotFound},
		{event.ScheduleCreated{ScheduleID: "s", AppID: "zz", ScheduleTime: 10, Callback: cb}, ErrAppNotFound},
		{event.ScheduleCreated{ScheduleID: "s", AppID: "a", Partition: 2, ScheduleTime: 10, Callback: cb}, ErrInvalidEvent},
	} {
		if _, err := w.apply(c.p); !errors.Is(err, c.want) {
			t.Errorf("%T: got %v, want %v", c.p, err, c.want)
		}
	}
	w.must(event.AppDeactivated{AppID: "a"})
	if _, err := w.apply(event.ScheduleCreated{ScheduleID: "s", AppID: "a", ScheduleTime: 10, Callback: cb}); !errors.Is(err, ErrAppInactive) {
		t.Fatalf("create on a deactivated app: %v", err)
	}
	if w.seq != 2 {
		t.Fatalf("rejected events reached the log: %d events, want 2", w.seq)
	}
}

func TestOneTimeScheduleLifecycle(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "s1", AppID: "a", ScheduleTime: 100, Callback: cb, Payload: "{}"})

	var due []PendingRun
	next, err := w.q().DueRuns("a", 0, 0, 100_001, func(p PendingRun) bool { due = append(due, p); return true })
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].RunID != "s1" || due[0].DueMs != 100_000 || next != -1 {
		t.Fatalf("due runs: %+v, next %d", due, next)
	}
	// Not yet due before its time: the scan says when it will be.
	due = nil
	next, _ = w.q().DueRuns("a", 0, 0, 100_000, func(p PendingRun) bool { due = append(due, p); return true })
	if len(due) != 0 || next != 100_000 {
		t.Fatalf("run due before its time: %+v, next %d", due, next)
	}
	if parts, err := w.q().PartitionsWithRuns("a"); err != nil || len(parts) != 1 || parts[0] != 0 {
		t.Fatalf("partitions with runs: %v %v", parts, err)
	}
	// A window that starts at its due millisecond holds it; one that
	// starts after it does not.
	for from, want := range map[int64]int{100_000: 1, 100_001: 0} {
		due = nil
		_, _ = w.q().DueRuns("a", 0, from, 200_000, func(p PendingRun) bool { due = append(due, p); return true })
		if len(due) != want {
			t.Fatalf("due runs from %d: %+v, want %d", from, due, want)
		}
	}
	if _, err := w.apply(event.RunCompleted{ScheduleID: "s1", RunID: "s1", Status: event.StatusSuccess}); !errors.Is(err, ErrRunNotFired) {
		t.Fatalf("success before fire: %v", err)
	}
	w.must(event.RunFired{ScheduleID: "s1", RunID: "s1", AppID: "a", ScheduledTime: 100})
	if _, err := w.apply(event.RunFired{ScheduleID: "s1", RunID: "s1", AppID: "a", ScheduledTime: 100}); !errors.Is(err, ErrRunAlreadyFired) {
		t.Fatalf("double fire: %v", err)
	}
	var infl []PendingRun
	_ = w.q().InflightRuns("a", 0, func(p PendingRun) bool { infl = append(infl, p); return true })
	if len(infl) != 1 {
		t.Fatalf("in flight after fire: %+v", infl)
	}
	w.must(event.RunCompleted{ScheduleID: "s1", RunID: "s1", Status: event.StatusFailure, ErrorMessage: "500 Internal Server Error", HTTPStatus: 500, Attempts: 3})
	s := w.schedule("s1")
	if s.Status != event.StatusFailure || s.ErrorMessage != "500 Internal Server Error" || s.Attempts != 3 {
		t.Fatalf("after failure: %+v", s)
	}
	if _, err := w.apply(event.RunCompleted{ScheduleID: "s1", RunID: "s1", Status: event.StatusSuccess}); !errors.Is(err, ErrRunNotPending) {
		t.Fatalf("second outcome: %v", err)
	}

	// Reconcile re-runs it under a new run id, due at the event's time.
	n := w.must(event.BulkAction{AppID: "a", Action: event.ActionReconcile, Status: event.StatusFailure, StartTime: 0, EndTime: 200})
	if n != 1 {
		t.Fatalf("reconcile touched %d, want 1", n)
	}
	pr, ok, _ := w.q().Pending(event.ReconcileRunID("s1", 1))
	if !ok || pr.DueMs != w.now/1e6 || pr.Kind != KindReconcile {
		t.Fatalf("reconcile run: %+v ok=%v", pr, ok)
	}
	if s := w.schedule("s1"); s.Status != event.StatusScheduled || s.ErrorMessage != "" {
		t.Fatalf("reconciled schedule: %+v", s)
	}
	// A second reconcile while the first is pending touches nothing.
	if n := w.must(event.BulkAction{AppID: "a", Action: event.ActionReconcile, StartTime: 0, EndTime: 200}); n != 0 {
		t.Fatalf("reconcile of a pending run touched %d", n)
	}

	w.must(event.ScheduleDeleted{ScheduleID: "s1", AppID: "a"})
	if _, ok, _ := w.q().Pending(event.ReconcileRunID("s1", 1)); ok {
		t.Fatal("deleting a schedule left its pending run")
	}
	if _, err := w.apply(event.ScheduleDeleted{ScheduleID: "s1", AppID: "a"}); !errors.Is(err, ErrScheduleNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestCronAdvancesAndDeleteDropsFutureRuns(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "c1", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60, Callback: cb})
	r60 := event.CronRunID("c1", 60)
	w.must(event.RunFired{ScheduleID: "c1", RunID: r60, AppID: "a", ScheduledTime: 60, NextRunTime: 120})
	if s := w.schedule("c1"); s.NextRunTime != 120 {
		t.Fatalf("next run time after fire: %d", s.NextRunTime)
	}
	w.must(event.RunCompleted{ScheduleID: "c1", RunID: r60, ScheduledTime: 60, Status: event.StatusSuccess})
	// 120 is missed; the cron resumes at 300, skipping two.
	r120 := event.CronRunID("c1", 120)
	w.must(event.RunCompleted{ScheduleID: "c1", RunID: r120, ScheduledTime: 120, Status: event.StatusMiss, ErrorMessage: "missed", NextRunTime: 300, Skipped: 2})

	page, err := w.q().PastRuns(w.schedule("c1"), 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[0].ScheduleID != r120 || page.Items[0].Status != event.StatusMiss ||
		page.Items[1].Status != event.StatusSuccess {
		t.Fatalf("past runs newest first: %+v", page.Items)
	}
	// Pagination: one per page, then the token leads to the older one.
	p1, _ := w.q().PastRuns(w.schedule("c1"), 1, "")
	p2, err := w.q().PastRuns(w.schedule("c1"), 1, p1.Next)
	if err != nil || len(p2.Items) != 1 || p2.Items[0].ScheduleID != r60 || p2.Next != "" {
		t.Fatalf("second page: %+v next=%q err=%v", p2.Items, p2.Next, err)
	}
	if _, err := w.q().PastRuns(w.schedule("c1"), 1, "bogus!"); !errors.Is(err, ErrBadToken) {
		t.Fatalf("bad token: %v", err)
	}
	// A run id resolves to the run, as a schedule.
	if s := w.schedule(r60); s.ParentID != "c1" || s.ScheduleTime != 60 || s.Status != event.StatusSuccess {
		t.Fatalf("run by id: %+v", s)
	}
	w.must(event.ScheduleDeleted{ScheduleID: "c1", AppID: "a"})
	if _, ok, _ := w.q().Pending(event.CronRunID("c1", 300)); ok {
		t.Fatal("deleted cron kept its next run")
	}
	if crons, _ := w.q().Crons("a", event.StatusDeleted); len(crons) != 1 {
		t.Fatalf("deleted crons: %+v", crons)
	}
}

// A cron closes when its expression has no occurrence after the last
// (EXPIRED) or cannot be evaluated (FAILURE, with why): its future run is
// dropped, a run in flight keeps its outcome, and it is closed for
// retention once nothing is pending.
func TestClosedCronFiresNoMoreAndShowsWhy(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "c1", AppID: "a", CronExpression: "0 0 12 1 1 * 2027", NextRunTime: 60, Callback: cb})
	r60 := event.CronRunID("c1", 60)
	w.must(event.RunFired{ScheduleID: "c1", RunID: r60, AppID: "a", ScheduledTime: 60})
	w.must(event.ScheduleClosed{ScheduleID: "c1", AppID: "a", Reason: event.ReasonExhausted})
	s := w.schedule("c1")
	if s.Status != event.StatusExpired || s.NextRunTime != 0 || s.ClosedAt != 0 {
		t.Fatalf("exhausted cron with a run in flight: %+v", s)
	}
	w.must(event.RunCompleted{ScheduleID: "c1", RunID: r60, ScheduledTime: 60, Status: event.StatusSuccess})
	if s := w.schedule("c1"); s.ClosedAt == 0 {
		t.Fatalf("expired cron with nothing pending is not closed: %+v", s)
	}
	if crons, _ := w.q().Crons("a", event.StatusExpired); len(crons) != 1 {
		t.Fatalf("expired crons: %+v", crons)
	}

	w.must(event.ScheduleCreated{ScheduleID: "c2", AppID: "a", CronExpression: "* * * * *", NextRunTime: 120, Callback: cb})
	w.must(event.ScheduleClosed{ScheduleID: "c2", AppID: "a", Reason: event.ReasonUnevaluable, Message: "time zone gone"})
	if s := w.schedule("c2"); s.Status != event.StatusFailure || s.ErrorMessage != "time zone gone" || s.ClosedAt == 0 {
		t.Fatalf("unevaluable cron: %+v", s)
	}
	if _, ok, _ := w.q().Pending(event.CronRunID("c2", 120)); ok {
		t.Fatal("a closed cron kept its next run pending")
	}
	w.must(event.ScheduleCreated{ScheduleID: "o1", AppID: "a", ScheduleTime: 500, Callback: cb})
	for _, c := range []struct {
		p    event.ScheduleClosed
		want error
	}{
		{event.ScheduleClosed{ScheduleID: "c2", AppID: "a", Reason: event.ReasonExhausted}, ErrScheduleClosed},
		{event.ScheduleClosed{ScheduleID: "o1", AppID: "a", Reason: event.ReasonExhausted}, ErrInvalidEvent},
		{event.ScheduleClosed{ScheduleID: "nope", AppID: "a", Reason: event.ReasonExhausted}, ErrScheduleNotFound},
	} {
		if _, err := w.apply(c.p); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.p, err, c.want)
		}
	}
}

func TestRebuildEqualsLive(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 3, Active: true})
	w.must(event.AppRegistered{AppID: "b", Partitions: 1, Active: true})
	for i := 0; i < 50; i++ {
		id := string(rune('A'+i%26)) + string(rune('a'+i/26))
		w.now += 1e9
		w.must(event.ScheduleCreated{ScheduleID: id, AppID: "a", Partition: i % 3, ScheduleTime: int64(1000 + i), Callback: cb})
		if i%3 == 0 {
			w.must(event.RunFired{ScheduleID: id, RunID: id, AppID: "a", Partition: i % 3, ScheduledTime: int64(1000 + i)})
			w.must(event.RunCompleted{ScheduleID: id, RunID: id, Status: event.StatusSuccess})
		}
		if i%7 == 0 {
			w.must(event.ScheduleDeleted{ScheduleID: id, AppID: "a"})
		}
	}
	w.must(event.ScheduleCreated{ScheduleID: "cron", AppID: "b", CronExpression: "@hourly", NextRunTime: 3600, Callback: cb})
	w.must(event.RunFired{ScheduleID: "cron", RunID: event.CronRunID("cron", 3600), AppID: "b", ScheduledTime: 3600, NextRunTime: 7200})
	w.must(event.ScheduleCreated{ScheduleID: "ended", AppID: "b", CronExpression: "@hourly", NextRunTime: 3600, Callback: cb})
	w.must(event.ScheduleClosed{ScheduleID: "ended", AppID: "b", Reason: event.ReasonExhausted})
	w.must(event.BulkAction{AppID: "a", Action: event.ActionDelete, Status: event.StatusScheduled, StartTime: 1010, EndTime: 1020})
	w.must(event.BulkAction{AppID: "a", Action: event.ActionReconcile, Status: event.StatusSuccess, StartTime: 0, EndTime: 2000})
	// The lifecycle: update, pause, resume, trigger, stop, expiry.
	life := event.Definition{Name: "life", EndTime: 90000, StopOnCallback: true, Labels: map[string]string{"team": "x"}}
	w.must(event.ScheduleCreated{ScheduleID: "life", AppID: "a", CronExpression: "@hourly", NextRunTime: 3600, Callback: cb, Definition: life})
	life.Name = "life2"
	w.must(event.ScheduleUpdated{ScheduleID: "life", AppID: "a", CronExpression: "@daily", NextRunTime: 86400, Callback: cb,
		Definition: life, Changed: []string{"cronExpression", "name"}})
	w.must(event.RunTriggered{ScheduleID: "life", AppID: "a", RunID: event.TriggerRunID("life", 1)})
	w.must(event.RunFired{ScheduleID: "life", RunID: event.TriggerRunID("life", 1), AppID: "a", ScheduledTime: w.now / 1e9})
	w.must(event.SchedulePaused{ScheduleID: "life", AppID: "a"})
	w.must(event.ScheduleResumed{ScheduleID: "life", AppID: "a", NextRunTime: 86400})
	w.must(event.ScheduleStoppedByCallback{ScheduleID: "life", AppID: "a", RunID: event.TriggerRunID("life", 1), Response: `{"code":400}`})
	w.must(event.ScheduleCreated{ScheduleID: "ends", AppID: "a", CronExpression: "@hourly", NextRunTime: 3600, Callback: cb,
		Definition: event.Definition{EndTime: 5000}})
	w.must(event.ScheduleClosed{ScheduleID: "ends", AppID: "a", Reason: event.ReasonExpired})
	w.must(event.ScheduleCreated{ScheduleID: "once", AppID: "a", ScheduleTime: 4000, Callback: cb})
	w.must(event.ScheduleUpdated{ScheduleID: "once", AppID: "a", ScheduleTime: 4500, Callback: cb})
	w.must(event.AppDeactivated{AppID: "b"})
	// An app of a build before signing gets its first secret; the next
	// rotation keeps the one before signing until PreviousUntil.
	w.must(event.SecretRotated{AppID: "a", Secret: "whsec_" + strings.Repeat("A", 44), PreviousUntil: 5})
	if app, _, _ := w.q().App("a"); app.SigningSecret == "" || app.PreviousUntil != 0 || len(app.SigningSecrets(4)) != 1 {
		t.Fatalf("app after its first rotation: %+v", app)
	}
	w.must(event.SecretRotated{AppID: "a", Secret: "whsec_" + strings.Repeat("B", 44), PreviousUntil: 5})
	if app, _, _ := w.q().App("a"); len(app.SigningSecrets(4)) != 2 || len(app.SigningSecrets(5)) != 1 ||
		app.SigningSecrets(5)[0] != "whsec_"+strings.Repeat("B", 44) {
		t.Fatalf("app during and after the grace period: %+v", app)
	}
	// Spent signatures: one replayed (refused), one that expired and was
	// pruned by a later one.
	w.must(event.SignatureSpent{Digest: strings.Repeat("a", 64), Until: w.now/1e6 + 1000})
	if _, err := w.apply(event.SignatureSpent{Digest: strings.Repeat("a", 64), Until: w.now/1e6 + 1000}); err == nil {
		t.Fatal("a replayed signature was recorded")
	}
	w.now += 2e9
	w.must(event.SignatureSpent{Digest: strings.Repeat("b", 64), Until: w.now/1e6 + 1000})
	// A counted command job keeping one output: the first output (and its
	// event) is dropped when the second comes, on the rebuild too.
	w.must(event.ScheduleCreated{ScheduleID: "cmd", AppID: "a", CronExpression: "@every 1s", NextRunTime: 1,
		Callback: commandCallback, Definition: event.Definition{Job: &event.JobOptions{Counted: true, KeepOutputs: 1}}})
	for i := int64(1); i <= 2; i++ {
		run := event.CronRunID("cmd", i)
		w.must(event.RunFired{ScheduleID: "cmd", RunID: run, AppID: "a", ScheduledTime: i, NextRunTime: i + 1})
		w.must(event.RunOutput{ScheduleID: "cmd", RunID: run, AppID: "a", Output: []byte{0xff, 'o', 'k', byte(i)}})
		w.must(event.RunCompleted{ScheduleID: "cmd", RunID: run, AppID: "a", ScheduledTime: i, Status: event.StatusFailure})
	}
	// A workflow schedule and its jobs.
	w.must(event.ScheduleCreated{ScheduleID: "wf", AppID: "a", CronExpression: "@manual", Callback: workflowCallback})
	w.must(event.JobCreated{ScheduleID: "wf", AppID: "a", Tasks: workflowCallback.Workflow.Tasks, InitializedBy: "scheduler"})
	job := w.seq
	w.must(event.JobStarted{JobID: job, ScheduleID: "wf", AppID: "a"})
	w.must(event.TaskStarted{JobID: job, ScheduleID: "wf", AppID: "a", Task: 2, TaskRunID: "wf.2"})
	w.must(event.TaskFinished{JobID: job, ScheduleID: "wf", AppID: "a", Task: 2, Status: event.StatusJobSuccess})
	w.must(event.JobFinished{JobID: job, ScheduleID: "wf", AppID: "a", Status: event.StatusJobSuccess})

	live, err := Checksums(w.db)
	if err != nil {
		t.Fatal(err)
	}
	dst := newWorld(t)
	if err := Rebuild(w.db, dst.db, 7, nil); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := Checksums(dst.db)
	if err != nil {
		t.Fatal(err)
	}
	if d := DiffChecksums(live, rebuilt); len(d) > 0 {
		t.Fatalf("rebuilt projections differ: %v", d)
	}
	// The check can fail: corrupt one key and it must be detected.
	if err := dst.db.Set(scheduleKey("Aa"), []byte(`{"scheduleId":"Aa"}`), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	corrupted, _ := Checksums(dst.db)
	if d := DiffChecksums(live, corrupted); len(d) != 1 {
		t.Fatalf("corruption not detected exactly once: %v", d)
	}
}

// A leader starts timers only for the partitions that hold runs: an app
// with 1024 partitions and runs in three of them needs three timers.
func TestPartitionsWithRunsSeekPastEmptyOnes(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1024, Active: true})
	w.must(event.AppRegistered{AppID: "a2", Partitions: 4, Active: true}) // a key prefix of neither
	for _, c := range []struct {
		id   string
		part int
	}{{"s1", 700}, {"s2", 3}, {"s3", 3}, {"s4", 5}} {
		w.must(event.ScheduleCreated{ScheduleID: c.id, AppID: "a", Partition: c.part, ScheduleTime: 100, Callback: cb})
	}
	w.must(event.ScheduleCreated{ScheduleID: "o", AppID: "a2", Partition: 1, ScheduleTime: 100, Callback: cb})
	w.must(event.RunFired{ScheduleID: "s4", RunID: "s4", AppID: "a", Partition: 5, ScheduledTime: 100}) // in flight
	parts, err := w.q().PartitionsWithRuns("a")
	if err != nil || fmt.Sprint(parts) != "[3 5 700]" {
		t.Fatalf("partitions with runs: %v %v, want [3 5 700]", parts, err)
	}
	w.must(event.RunCompleted{ScheduleID: "s4", RunID: "s4", Status: event.StatusSuccess})
	if parts, _ := w.q().PartitionsWithRuns("a"); fmt.Sprint(parts) != "[3 700]" {
		t.Fatalf("after the run in flight completed: %v", parts)
	}
}

// staleIndex reads its iterators from an earlier snapshot and its points
// from the live store: what DueRuns meets when runs fire or move between
// opening its iterator and reading their records.
type staleIndex struct {
	pebble.Reader
	iters pebble.Reader
}

func (s staleIndex) NewIter(o *pebble.IterOptions) (*pebble.Iterator, error) {
	return s.iters.NewIter(o)
}

// TestDueRunsSkipsRunsThatFiredOrMovedSinceTheIndexWasRead: a run whose
// record no longer matches its due entry (fired since, or moved to
// another time) is not returned as due: a timer firing it again called
// its receiver twice.
func TestDueRunsSkipsRunsThatFiredOrMovedSinceTheIndexWasRead(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	for _, id := range []string{"fired", "moved", "kept"} {
		w.must(event.ScheduleCreated{ScheduleID: id, AppID: "a", ScheduleTime: 100, Callback: cb})
	}
	snap := w.db.NewSnapshot()
	defer snap.Close()
	w.must(event.RunFired{ScheduleID: "fired", RunID: "fired", AppID: "a", ScheduledTime: 100})
	w.must(event.ScheduleUpdated{ScheduleID: "moved", AppID: "a", ScheduleTime: 150, Callback: cb})

	var due []string
	q := Reader{R: staleIndex{Reader: w.db, iters: snap}}
	if _, err := q.DueRuns("a", 0, 0, 200_000, func(p PendingRun) bool { due = append(due, p.RunID); return true }); err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0] != "kept" {
		t.Fatalf("due from a stale index: %v, want only kept", due)
	}
	// Read consistently, the moved run is due at its new time.
	due = nil
	_, _ = w.q().DueRuns("a", 0, 0, 200_000, func(p PendingRun) bool { due = append(due, p.RunID); return true })
	if len(due) != 2 || due[0] != "kept" || due[1] != "moved" {
		t.Fatalf("due: %v, want kept then moved", due)
	}
}
