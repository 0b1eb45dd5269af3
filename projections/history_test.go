package projections

import (
	"testing"

	"fmt"
	"math/rand/v2"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/cockroachdb/pebble/v2"
)

func types(evs []event.Event) []event.Type {
	var out []event.Type
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func sameTypes(got []event.Event, want ...event.Type) bool {
	g := types(got)
	if len(g) != len(want) {
		return false
	}
	for i := range g {
		if g[i] != want[i] {
			return false
		}
	}
	return true
}

func TestHistoryOfOneTimeAndCronSchedules(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "s1", AppID: "a", ScheduleTime: 100, Callback: cb})
	w.must(event.ScheduleCreated{ScheduleID: "c1", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60, Callback: cb})
	w.must(event.RunFired{ScheduleID: "s1", RunID: "s1", AppID: "a", ScheduledTime: 100})
	r60 := event.CronRunID("c1", 60)
	w.must(event.RunFired{ScheduleID: "c1", RunID: r60, AppID: "a", ScheduledTime: 60, NextRunTime: 120})
	w.must(event.RunCompleted{ScheduleID: "s1", RunID: "s1", AppID: "a", ScheduledTime: 100, Status: event.StatusSuccess, HTTPStatus: 200})
	w.must(event.RunCompleted{ScheduleID: "c1", RunID: r60, AppID: "a", ScheduledTime: 60, Status: event.StatusFailure, HTTPStatus: 500})
	w.must(event.ScheduleDeleted{ScheduleID: "c1", AppID: "a"})

	one, err := w.q().ScheduleEvents("s1", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !sameTypes(one.Events, event.TypeScheduleCreated, event.TypeRunFired, event.TypeRunCompleted) || one.More {
		t.Fatalf("one-time history: %v more=%v", types(one.Events), one.More)
	}
	if one.Events[0].Seq != 2 || one.Events[1].Seq != 4 || one.Events[2].Seq != 6 {
		t.Fatalf("history seqs: %d %d %d", one.Events[0].Seq, one.Events[1].Seq, one.Events[2].Seq)
	}
	cron, err := w.q().ScheduleEvents("c1", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !sameTypes(cron.Events, event.TypeScheduleCreated, event.TypeRunFired, event.TypeRunCompleted, event.TypeScheduleDeleted) {
		t.Fatalf("deleted cron history: %v", types(cron.Events))
	}
	// Paging by seq: two, then the rest after the last seq seen.
	p1, _ := w.q().ScheduleEvents("c1", 0, 2)
	p2, err := w.q().ScheduleEvents("c1", p1.Events[1].Seq, 2)
	if err != nil || len(p1.Events) != 2 || !p1.More || !sameTypes(p2.Events, event.TypeRunCompleted, event.TypeScheduleDeleted) || p2.More {
		t.Fatalf("pages: %v more=%v / %v more=%v err=%v", types(p1.Events), p1.More, types(p2.Events), p2.More, err)
	}
	app, err := w.q().AppEvents("a", 0, 100)
	if err != nil || len(app.Events) != 8 || app.Events[0].Type != event.TypeAppRegistered {
		t.Fatalf("app history: %v err=%v", types(app.Events), err)
	}
	// Finished and deleted schedules are closed; the open one-time is not.
	if s := w.schedule("s1"); s.ClosedAt == 0 {
		t.Fatal("finished one-time schedule not closed")
	}
	if s := w.schedule("c1"); s.ClosedAt == 0 {
		t.Fatal("deleted cron not closed")
	}
	if ids, _ := w.q().ClosedBefore(w.now/1e6+1, 10); len(ids) != 2 {
		t.Fatalf("closed index: %v", ids)
	}
}

func TestBulkReconcileReopensAndIsInHistory(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "s1", AppID: "a", ScheduleTime: 100, Callback: cb})
	w.must(event.RunFired{ScheduleID: "s1", RunID: "s1", AppID: "a", ScheduledTime: 100})
	w.must(event.RunCompleted{ScheduleID: "s1", RunID: "s1", AppID: "a", ScheduledTime: 100, Status: event.StatusFailure})
	if w.schedule("s1").ClosedAt == 0 {
		t.Fatal("failed schedule not closed")
	}
	if n := w.must(event.BulkAction{AppID: "a", Action: event.ActionReconcile, StartTime: 0, EndTime: 200}); n != 1 {
		t.Fatalf("reconciled %d", n)
	}
	if s := w.schedule("s1"); s.ClosedAt != 0 || s.Status != event.StatusScheduled {
		t.Fatalf("reconciled schedule still closed: %+v", s)
	}
	if ids, _ := w.q().ClosedBefore(w.now/1e6+1, 10); len(ids) != 0 {
		t.Fatalf("closed index kept a reopened schedule: %v", ids)
	}
	h, _ := w.q().ScheduleEvents("s1", 0, 10)
	if !sameTypes(h.Events, event.TypeScheduleCreated, event.TypeRunFired, event.TypeRunCompleted, event.TypeBulkAction) {
		t.Fatalf("history with bulk action: %v", types(h.Events))
	}
}

func TestRetentionDropsOnlyClosedSchedulesAndReplays(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	// old: finished long ago; cron: deleted long ago with runs; open: pending.
	w.must(event.ScheduleCreated{ScheduleID: "old", AppID: "a", ScheduleTime: 100, Callback: cb})
	w.must(event.ScheduleCreated{ScheduleID: "open", AppID: "a", ScheduleTime: 5000, Callback: cb})
	w.must(event.ScheduleCreated{ScheduleID: "cron", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60, Callback: cb})
	w.must(event.RunFired{ScheduleID: "old", RunID: "old", AppID: "a", ScheduledTime: 100})
	w.must(event.RunCompleted{ScheduleID: "old", RunID: "old", AppID: "a", ScheduledTime: 100, Status: event.StatusSuccess})
	r60 := event.CronRunID("cron", 60)
	w.must(event.RunFired{ScheduleID: "cron", RunID: r60, AppID: "a", ScheduledTime: 60, NextRunTime: 120})
	w.must(event.RunCompleted{ScheduleID: "cron", RunID: r60, AppID: "a", ScheduledTime: 60, Status: event.StatusSuccess})
	w.must(event.BulkAction{AppID: "a", Action: event.ActionDelete, Status: event.StatusScheduled, StartTime: 4000, EndTime: 4001})
	w.must(event.ScheduleDeleted{ScheduleID: "cron", AppID: "a"})
	// ended: a cron closed (no occurrence left) long ago.
	w.must(event.ScheduleCreated{ScheduleID: "ended", AppID: "a", CronExpression: "* * * * *", NextRunTime: 60, Callback: cb})
	w.must(event.ScheduleClosed{ScheduleID: "ended", AppID: "a", Reason: event.ReasonExhausted})
	oldSeqs := []uint64{}
	for _, id := range []string{"old", "cron", "ended"} {
		h, _ := w.q().ScheduleEvents(id, 0, 100)
		for _, e := range h.Events {
			oldSeqs = append(oldSeqs, e.Seq)
		}
	}
	// Closed after the cutoff: must survive.
	w.now += 3600e9
	w.must(event.ScheduleCreated{ScheduleID: "recent", AppID: "a", ScheduleTime: 200, Callback: cb})
	w.must(event.ScheduleDeleted{ScheduleID: "recent", AppID: "a"})
	cutoff := w.now - 60e9

	candidates, err := w.q().ClosedBefore(cutoff/1e6, 100)
	if err != nil || len(candidates) != 3 {
		t.Fatalf("candidates: %v err=%v", candidates, err)
	}
	listed := append(candidates, "open", "recent", "never-existed")
	if n := w.must(event.EventsCompacted{Cutoff: cutoff, Retention: "1m0s", ScheduleIDs: listed}); n != 3 {
		t.Fatalf("compaction removed %d schedules, want 3", n)
	}
	for _, id := range []string{"old", "cron", r60, "ended"} {
		if _, ok, _ := w.q().Schedule(id); ok {
			t.Errorf("%s survived retention", id)
		}
	}
	for _, id := range []string{"open", "recent"} {
		if _, ok, _ := w.q().Schedule(id); !ok {
			t.Errorf("%s was removed though not closed before the cutoff", id)
		}
	}
	for _, seq := range oldSeqs {
		if _, err := eventlog.Get(w.db, seq); err == nil {
			t.Errorf("event %d of a removed schedule is still in the log", seq)
		}
	}
	app, _ := w.q().AppEvents("a", 0, 100)
	if !sameTypes(app.Events, event.TypeAppRegistered, event.TypeScheduleCreated, event.TypeBulkAction,
		event.TypeScheduleCreated, event.TypeScheduleDeleted) {
		t.Fatalf("app history after retention: %v", types(app.Events))
	}
	if page, _ := w.q().AppSchedules("a", 0, 1<<40, "", 100, ""); len(page.Items) != 2 {
		t.Fatalf("app schedules after retention: %+v", page.Items)
	}

	// The compacted log (with the compaction event in it) rebuilds the
	// same projections.
	live, _ := Checksums(w.db)
	dst := newWorld(t)
	if err := Rebuild(w.db, dst.db, 3, nil); err != nil {
		t.Fatal(err)
	}
	rebuilt, _ := Checksums(dst.db)
	if d := DiffChecksums(live, rebuilt); len(d) > 0 {
		t.Fatalf("rebuild of the compacted log differs: %v", d)
	}
}

// The point lookups that tell whether a one-time schedule has a run
// pending must agree with a scan of the pending index after every event
// of a random mix of fires, outcomes, reconciles and deletes; retention
// trusts them to say a schedule is closed.
func TestPendingLookupAgreesWithTheIndex(t *testing.T) {
	w := newWorld(t)
	rng := rand.New(rand.NewPCG(7, 11))
	w.must(event.AppRegistered{AppID: "a", Partitions: 2, Active: true})
	var ids []string
	statuses := []string{event.StatusSuccess, event.StatusFailure, event.StatusMiss}
	for step := 0; step < 1500; step++ {
		w.now += 1e9
		var pending []PendingRun
		_ = scanPrefix(w.db, []byte(pPend), nil, func(_, v []byte) (bool, error) {
			pr, err := decodeRecord[PendingRun](v)
			if err != nil {
				t.Fatal(err)
			}
			pending = append(pending, pr)
			return true, nil
		})
		switch k := rng.IntN(10); {
		case k < 2 || len(ids) == 0:
			id := fmt.Sprintf("s%03d", len(ids))
			ids = append(ids, id)
			w.must(event.ScheduleCreated{ScheduleID: id, AppID: "a", Partition: len(ids) % 2, ScheduleTime: int64(100 + len(ids)), Callback: cb})
		case k < 5 && len(pending) > 0:
			pr := pending[rng.IntN(len(pending))]
			_, _ = w.apply(event.RunFired{ScheduleID: pr.ScheduleID, RunID: pr.RunID, AppID: "a", Partition: pr.Partition,
				ScheduledTime: pr.ScheduledTime, Refire: pr.Fired && rng.IntN(2) == 0})
		case k < 8 && len(pending) > 0:
			pr := pending[rng.IntN(len(pending))]
			_, _ = w.apply(event.RunCompleted{ScheduleID: pr.ScheduleID, RunID: pr.RunID, AppID: "a", Partition: pr.Partition,
				ScheduledTime: pr.ScheduledTime, Status: statuses[rng.IntN(len(statuses))]})
		case k < 9:
			from := int64(100 + rng.IntN(len(ids)+1))
			action := event.ActionReconcile
			if rng.IntN(4) == 0 {
				action = event.ActionDelete
			}
			_, _ = w.apply(event.BulkAction{AppID: "a", Action: action, StartTime: from, EndTime: from + int64(rng.IntN(5))})
		default:
			_, _ = w.apply(event.ScheduleDeleted{ScheduleID: ids[rng.IntN(len(ids))], AppID: "a"})
		}
		a := &applier{b: w.db.NewIndexedBatch()}
		for _, id := range ids {
			s, ok, err := getRecord[Schedule](a.b, scheduleKey(id))
			if err != nil || !ok {
				continue // removed
			}
			fast, err1 := a.hasPending(s)
			scan, err2 := a.scanPending(id)
			if err1 != nil || err2 != nil || fast != scan {
				t.Fatalf("step %d, %s (%s, %d reconciles): lookup says pending=%v, index says %v (%v %v)",
					step, id, s.Status, s.Reconciles, fast, scan, err1, err2)
			}
		}
		a.b.(*pebble.Batch).Close()
	}
	reconciled := 0
	for _, id := range ids {
		if s, ok, _ := w.q().Schedule(id); ok && s.Reconciles > 1 {
			reconciled++
		}
	}
	if reconciled == 0 {
		t.Fatal("the mix never reconciled a schedule twice: it does not exercise reconcile run ids")
	}
}
