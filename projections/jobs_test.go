package projections

import (
	"errors"
	"fmt"
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
)

var commandCallback = event.Callback{Type: event.CallbackCommand,
	Command: &event.Command{Lines: []string{"echo hi"}, Dir: "karajo/job/x", CounterEnv: "KARAJO_JOB_COUNTER"}}

// A counted command cron (a karajo job): runs are numbered as they fire,
// its pending runs carry its policies, each run's output is kept until
// KeepOutputs newer ones came (its RunOutput event leaves the log with
// it), a CANCELED outcome is recorded.
func TestCommandJobRunsAreCountedAndKeepTheirNewestOutputs(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "k", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "job", AppID: "k", CronExpression: "@every 1s", NextRunTime: 1,
		Callback: commandCallback, Definition: event.Definition{Job: &event.JobOptions{Counted: true, Overlap: event.OverlapBufferOne, KeepOutputs: 2}}})
	if pr, ok, _ := w.q().Pending(event.CronRunID("job", 1)); !ok || !pr.Exclusive || !pr.NoRefire {
		t.Fatalf("pending run %+v: want Exclusive and NoRefire from its schedule", pr)
	}
	outputSeq := map[string]uint64{}
	for i := int64(1); i <= 4; i++ {
		run := event.CronRunID("job", i)
		w.must(event.RunFired{ScheduleID: "job", RunID: run, AppID: "k", ScheduledTime: i, NextRunTime: i + 1})
		if _, err := w.apply(event.RunOutput{ScheduleID: "job", RunID: event.CronRunID("job", i+1), AppID: "k", Output: []byte("x")}); !errors.Is(err, ErrRunNotFired) {
			t.Fatalf("output of a run not fired: %v", err)
		}
		w.must(event.RunOutput{ScheduleID: "job", RunID: run, AppID: "k", Output: []byte(fmt.Sprintf("run %d\n", i)), Cut: i == 4})
		outputSeq[run] = w.seq
		status := event.StatusSuccess
		if i == 3 {
			status = event.StatusCanceled
		}
		w.must(event.RunCompleted{ScheduleID: "job", RunID: run, AppID: "k", ScheduledTime: i, Status: status})
		if _, err := w.apply(event.RunOutput{ScheduleID: "job", RunID: run, AppID: "k", Output: []byte("again")}); err == nil {
			t.Fatal("a second output of a completed run was recorded")
		}
		if r := w.schedule(run); r.Counter != int(i) {
			t.Fatalf("run %d has counter %d", i, r.Counter)
		}
	}
	if s := w.schedule("job"); s.Runs != 4 {
		t.Fatalf("schedule counted %d runs, want 4", s.Runs)
	}
	if r := w.schedule(event.CronRunID("job", 3)); r.Status != event.StatusCanceled {
		t.Fatalf("run 3 is %s, want CANCELED", r.Status)
	}
	for i := int64(1); i <= 4; i++ {
		run := event.CronRunID("job", i)
		out, cut, found, err := w.q().RunOutput(run)
		_, evErr := eventlog.Get(w.db, outputSeq[run])
		switch {
		case err != nil:
			t.Fatal(err)
		case i <= 2 && (found || evErr == nil):
			t.Errorf("run %d's output (found %v) or its event (%v) outlived the 2 kept", i, found, evErr)
		case i > 2 && (!found || string(out) != fmt.Sprintf("run %d\n", i) || cut != (i == 4) || evErr != nil):
			t.Errorf("run %d's output %q cut=%v found=%v event %v", i, out, cut, found, evErr)
		}
	}
	// Deleted and compacted: its outputs go with its other records.
	w.must(event.ScheduleDeleted{ScheduleID: "job", AppID: "k"})
	w.now += 10e9
	if n := w.must(event.EventsCompacted{Cutoff: w.now, Retention: "1s", ScheduleIDs: []string{"job"}}); n != 1 {
		t.Fatalf("compaction removed %d schedules", n)
	}
	if _, _, found, _ := w.q().RunOutput(event.CronRunID("job", 4)); found {
		t.Fatal("an output outlived its compacted schedule")
	}
	if _, err := eventlog.Get(w.db, outputSeq[event.CronRunID("job", 4)]); err == nil {
		t.Fatal("a RunOutput event outlived its compacted schedule")
	}
}
