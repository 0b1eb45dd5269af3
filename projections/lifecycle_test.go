package projections

import (
	"errors"
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

// pendingKinds is what is pending for schedule id, by run id.
func (w *world) pendingKinds(id string) map[string]string {
	w.t.Helper()
	s := w.schedule(id)
	prs, err := Reader{R: w.db}.PendingOf(s.ScheduleID)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]string{}
	for _, pr := range prs {
		out[pr.RunID] = pr.Kind
	}
	return out
}

// An update replaces a cron's pending occurrence with the one of its new
// definition and keeps the runs that fired; a name is unique in its app
// and freed by a delete; an end time waits in the due index and moves
// with the update.
func TestUpdateReplacesTheNextRunAndKeepsThePast(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "c1", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60, Callback: cb,
		Definition: event.Definition{Name: "report", EndTime: 6000}})
	r60 := event.CronRunID("c1", 60)
	w.must(event.RunFired{ScheduleID: "c1", RunID: r60, AppID: "a", ScheduledTime: 60, NextRunTime: 120})
	w.must(event.RunCompleted{ScheduleID: "c1", RunID: r60, ScheduledTime: 60, Status: event.StatusSuccess})
	if got := w.pendingKinds("c1"); got[event.CronRunID("c1", 120)] != KindCron || got[event.ExpiryRunID("c1")] != KindExpiry {
		t.Fatalf("pending before the update: %v", got)
	}
	if _, err := w.apply(event.ScheduleCreated{ScheduleID: "c2", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60,
		Callback: cb, Definition: event.Definition{Name: "report"}}); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("a second schedule named report: %v", err)
	}
	w.must(event.ScheduleUpdated{ScheduleID: "c1", AppID: "a", CronExpression: "0 * * * *", NextRunTime: 3600, Callback: cb,
		Payload: "new", Definition: event.Definition{Name: "daily report", EndTime: 7200}, Changed: []string{"cronExpression"}})
	s := w.schedule("c1")
	if s.CronExpression != "0 * * * *" || s.NextRunTime != 3600 || s.Payload != "new" || s.UpdatedAt == 0 || s.Status != event.StatusScheduled {
		t.Fatalf("after the update: %+v", s)
	}
	got := w.pendingKinds("c1")
	if len(got) != 2 || got[event.CronRunID("c1", 3600)] != KindCron || got[event.ExpiryRunID("c1")] != KindExpiry {
		t.Fatalf("pending after the update: %v", got)
	}
	if pr, _, _ := w.q().Pending(event.ExpiryRunID("c1")); pr.DueMs != 7200_000 {
		t.Fatalf("end time entry %+v, want due at 7200 s", pr)
	}
	if r := w.schedule(r60); r.Status != event.StatusSuccess {
		t.Fatalf("the run that fired before the update: %+v", r)
	}
	if byName, ok, _ := w.q().ScheduleByName("a", "daily report"); !ok || byName.ScheduleID != "c1" {
		t.Fatal("not found by its new name")
	}
	if _, ok, _ := w.q().ScheduleByName("a", "report"); ok {
		t.Fatal("the old name still names it")
	}
	if n, ok, _ := w.q().ScheduleByNumber(s.CreatedSeq); !ok || n.ScheduleID != "c1" {
		t.Fatalf("by number %d: %v", s.CreatedSeq, ok)
	}
	// Changing kind, or updating what is gone, is refused.
	if _, err := w.apply(event.ScheduleUpdated{ScheduleID: "c1", AppID: "a", ScheduleTime: 99, Callback: cb}); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("cron updated into a one-time schedule: %v", err)
	}
	w.must(event.ScheduleDeleted{ScheduleID: "c1", AppID: "a"})
	if _, err := w.apply(event.ScheduleUpdated{ScheduleID: "c1", AppID: "a", CronExpression: "* * * * *", Callback: cb}); !errors.Is(err, ErrScheduleNotFound) {
		t.Fatalf("update of a deleted schedule: %v", err)
	}
	w.must(event.ScheduleCreated{ScheduleID: "c3", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60, Callback: cb,
		Definition: event.Definition{Name: "daily report"}})
}

// A one-time schedule's update moves its run; once its run is in flight it
// can be neither updated nor paused.
func TestOneTimeUpdateMovesItsRun(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "o1", AppID: "a", ScheduleTime: 100, Callback: cb})
	w.must(event.ScheduleUpdated{ScheduleID: "o1", AppID: "a", ScheduleTime: 200, Callback: cb, Payload: "p"})
	if pr, ok, _ := w.q().Pending("o1"); !ok || pr.DueMs != 200_000 {
		t.Fatalf("pending after moving: %+v", pr)
	}
	page, _ := w.q().AppSchedules("a", 0, 1000, "", 10, "")
	if len(page.Items) != 1 || page.Items[0].ScheduleTime != 200 {
		t.Fatalf("time index after moving: %+v", page.Items)
	}
	w.must(event.RunFired{ScheduleID: "o1", RunID: "o1", AppID: "a", ScheduledTime: 200})
	for _, p := range []event.Payload{
		event.ScheduleUpdated{ScheduleID: "o1", AppID: "a", ScheduleTime: 300, Callback: cb},
		event.SchedulePaused{ScheduleID: "o1", AppID: "a"},
	} {
		if _, err := w.apply(p); !errors.Is(err, ErrRunAlreadyFired) {
			t.Fatalf("%T of a schedule being called: %v", p, err)
		}
	}
}

// Paused, nothing is pending but the end time; resumed, the cron has the
// next run the resume names, and a one-time schedule its own again.
func TestPauseAndResume(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "c1", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60, Callback: cb,
		Definition: event.Definition{EndTime: 9000}})
	w.must(event.ScheduleCreated{ScheduleID: "o1", AppID: "a", ScheduleTime: 100, Callback: cb})
	w.must(event.SchedulePaused{ScheduleID: "c1", AppID: "a"})
	w.must(event.SchedulePaused{ScheduleID: "o1", AppID: "a"})
	if got := w.pendingKinds("c1"); len(got) != 1 || got[event.ExpiryRunID("c1")] != KindExpiry {
		t.Fatalf("pending of a paused cron: %v", got)
	}
	if got := w.pendingKinds("o1"); len(got) != 0 {
		t.Fatalf("pending of a paused one-time schedule: %v", got)
	}
	if s := w.schedule("c1"); s.Status != event.StatusPaused || s.NextRunTime != 0 || s.ClosedAt != 0 {
		t.Fatalf("paused cron: %+v", s)
	}
	if _, err := w.apply(event.SchedulePaused{ScheduleID: "c1", AppID: "a"}); !errors.Is(err, ErrSchedulePaused) {
		t.Fatalf("pausing twice: %v", err)
	}
	if _, err := w.apply(event.RunFired{ScheduleID: "c1", RunID: event.CronRunID("c1", 60), AppID: "a", ScheduledTime: 60}); !errors.Is(err, ErrRunNotPending) {
		t.Fatalf("a paused cron's old occurrence fired: %v", err)
	}
	w.must(event.ScheduleResumed{ScheduleID: "c1", AppID: "a", NextRunTime: 600})
	w.must(event.ScheduleResumed{ScheduleID: "o1", AppID: "a"})
	if got := w.pendingKinds("c1"); len(got) != 2 || got[event.CronRunID("c1", 600)] != KindCron {
		t.Fatalf("pending of a resumed cron: %v", got)
	}
	if pr, ok, _ := w.q().Pending("o1"); !ok || pr.DueMs != 100_000 {
		t.Fatalf("resumed one-time schedule: %+v", pr)
	}
	if _, err := w.apply(event.ScheduleResumed{ScheduleID: "o1", AppID: "a"}); !errors.Is(err, ErrScheduleNotPaused) {
		t.Fatalf("resuming what runs: %v", err)
	}
}

// Created paused, a schedule has nothing pending but its end time until
// it is resumed.
func TestCreatedPaused(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "c1", AppID: "a", CronExpression: "* * * * *", Callback: cb, Paused: true,
		Definition: event.Definition{EndTime: 9000}})
	w.must(event.ScheduleCreated{ScheduleID: "o1", AppID: "a", ScheduleTime: 100, Callback: cb, Paused: true})
	for _, id := range []string{"c1", "o1"} {
		if s := w.schedule(id); s.Status != event.StatusPaused || s.NextRunTime != 0 {
			t.Fatalf("%s created paused: %+v", id, s)
		}
	}
	if got := w.pendingKinds("c1"); len(got) != 1 || got[event.ExpiryRunID("c1")] != KindExpiry {
		t.Fatalf("pending of a cron created paused: %v", got)
	}
	if _, ok, _ := w.q().Pending("o1"); ok {
		t.Fatal("a one-time schedule created paused is pending")
	}
	w.must(event.ScheduleResumed{ScheduleID: "c1", AppID: "a", NextRunTime: 600})
	w.must(event.ScheduleResumed{ScheduleID: "o1", AppID: "a"})
	if got := w.pendingKinds("c1"); got[event.CronRunID("c1", 600)] != KindCron {
		t.Fatalf("pending of the resumed cron: %v", got)
	}
	if pr, ok, _ := w.q().Pending("o1"); !ok || pr.DueMs != 100_000 {
		t.Fatalf("resumed one-time schedule: %+v %v", pr, ok)
	}
}

// The end time closes a cron (paused or not) as EXPIRED; the stop
// contract closes one that opted in as STOPPED, with the answer; both drop
// what is pending, and neither happens twice.
func TestExpiryAndStopCloseACron(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "c1", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60, Callback: cb,
		Definition: event.Definition{EndTime: 120}})
	w.must(event.SchedulePaused{ScheduleID: "c1", AppID: "a"})
	w.must(event.ScheduleClosed{ScheduleID: "c1", AppID: "a", Reason: event.ReasonExpired})
	if s := w.schedule("c1"); s.Status != event.StatusExpired || s.ClosedAt == 0 || len(w.pendingKinds("c1")) != 0 {
		t.Fatalf("expired cron: %+v, pending %v", s, w.pendingKinds("c1"))
	}
	// The occurrence after the end time is never pending.
	w.must(event.ScheduleCreated{ScheduleID: "c2", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60, Callback: cb,
		Definition: event.Definition{EndTime: 100}})
	w.must(event.RunFired{ScheduleID: "c2", RunID: event.CronRunID("c2", 60), AppID: "a", ScheduledTime: 60, NextRunTime: 120})
	if got := w.pendingKinds("c2"); got[event.CronRunID("c2", 120)] != "" {
		t.Fatalf("an occurrence after the end time is pending: %v", got)
	}

	w.must(event.ScheduleCreated{ScheduleID: "c3", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60, Callback: cb})
	r60 := event.CronRunID("c3", 60)
	w.must(event.RunFired{ScheduleID: "c3", RunID: r60, AppID: "a", ScheduledTime: 60, NextRunTime: 120})
	if _, err := w.apply(event.ScheduleStoppedByCallback{ScheduleID: "c3", AppID: "a", RunID: r60}); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("a cron that did not opt in was stopped: %v", err)
	}
	w.must(event.ScheduleCreated{ScheduleID: "c4", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60, Callback: cb,
		Definition: event.Definition{StopOnCallback: true}})
	r := event.CronRunID("c4", 60)
	w.must(event.RunFired{ScheduleID: "c4", RunID: r, AppID: "a", ScheduledTime: 60, NextRunTime: 120})
	w.must(event.RunCompleted{ScheduleID: "c4", RunID: r, ScheduledTime: 60, Status: event.StatusSuccess, HTTPStatus: 200})
	w.must(event.ScheduleStoppedByCallback{ScheduleID: "c4", AppID: "a", RunID: r, HTTPStatus: 200, Response: `{"code":400}`})
	s := w.schedule("c4")
	if s.Status != event.StatusStopped || s.ErrorMessage == "" || len(w.pendingKinds("c4")) != 0 || s.ClosedAt == 0 {
		t.Fatalf("stopped cron: %+v", s)
	}
	if _, err := w.apply(event.ScheduleStoppedByCallback{ScheduleID: "c4", AppID: "a", RunID: r}); !errors.Is(err, ErrScheduleClosed) {
		t.Fatalf("stopped twice: %v", err)
	}
}

// A triggered run has its own id and record beside an occurrence of the
// same second; it fires and completes without moving the cron.
func TestTriggeredRunsStandApart(t *testing.T) {
	w := newWorld(t)
	w.now = 60e9 // the trigger's second is the occurrence's
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "c1", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60, Callback: cb})
	t1 := event.TriggerRunID("c1", 1)
	if _, err := w.apply(event.RunTriggered{ScheduleID: "c1", AppID: "a", RunID: event.TriggerRunID("c1", 2)}); !errors.Is(err, ErrScheduleExists) {
		t.Fatalf("a trigger out of turn: %v", err)
	}
	w.must(event.RunTriggered{ScheduleID: "c1", AppID: "a", RunID: t1})
	occ := event.CronRunID("c1", 60)
	w.must(event.RunFired{ScheduleID: "c1", RunID: occ, AppID: "a", ScheduledTime: 60, NextRunTime: 120})
	w.must(event.RunFired{ScheduleID: "c1", RunID: t1, AppID: "a", ScheduledTime: 60})
	w.must(event.RunCompleted{ScheduleID: "c1", RunID: t1, ScheduledTime: 60, Status: event.StatusFailure, HTTPStatus: 500})
	w.must(event.RunCompleted{ScheduleID: "c1", RunID: occ, ScheduledTime: 60, Status: event.StatusSuccess})
	if r := w.schedule(t1); r.Status != event.StatusFailure || r.ParentID != "c1" {
		t.Fatalf("triggered run: %+v", r)
	}
	if r := w.schedule(occ); r.Status != event.StatusSuccess {
		t.Fatalf("the occurrence of the same second: %+v", r)
	}
	if s := w.schedule("c1"); s.NextRunTime != 120 || s.Triggers != 1 {
		t.Fatalf("cron after a trigger: %+v", s)
	}
	page, _ := w.q().PastRuns(w.schedule("c1"), 10, "")
	if len(page.Items) != 2 {
		t.Fatalf("past runs: %+v", page.Items)
	}
	// A reconcile of the triggered run updates its record, not the occurrence's.
	w.must(event.BulkAction{AppID: "a", Action: event.ActionReconcile, Status: event.StatusFailure, StartTime: 0, EndTime: 100})
	re := event.ReconcileRunID(t1, 1)
	w.must(event.RunFired{ScheduleID: "c1", RunID: re, AppID: "a", ScheduledTime: 60})
	w.must(event.RunCompleted{ScheduleID: "c1", RunID: re, ScheduledTime: 60, Status: event.StatusSuccess})
	if r := w.schedule(t1); r.Status != event.StatusSuccess || r.Reconciles != 1 {
		t.Fatalf("reconciled triggered run: %+v", r)
	}
	if r := w.schedule(occ); r.Status != event.StatusSuccess || r.Reconciles != 0 {
		t.Fatalf("the occurrence after the trigger's reconcile: %+v", r)
	}
}
