package projections

import (
	"errors"
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

var workflowCallback = event.Callback{Type: event.CallbackWorkflow, Workflow: &event.Workflow{Tasks: []event.Task{
	{ID: 1, URL: "http://127.0.0.1:1/a", Phase: "1", Active: true},
	{ID: 2, URL: "http://127.0.0.1:1/b", Phase: "1", Active: true},
	{ID: 3, URL: "http://127.0.0.1:1/c", Active: true},
}}}

// A workflow schedule's jobs: one waiting at most, one processing at
// most, each task's start and end recorded, the ones never run cancelled
// at the end, a waiting job cancelled; listed newest first; gone with
// their schedule's retention.
func TestWorkflowJobsQueueAndRecordTheirTasks(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "k", Partitions: 1, Active: true})
	w.must(event.ScheduleCreated{ScheduleID: "orch", AppID: "k", CronExpression: "@manual", Callback: workflowCallback})
	created := func() uint64 {
		w.must(event.JobCreated{ScheduleID: "orch", AppID: "k", Tasks: workflowCallback.Workflow.Tasks, InitializedBy: "manually"})
		return w.seq
	}
	first := created()
	if _, err := w.apply(event.JobCreated{ScheduleID: "orch", AppID: "k", InitializedBy: "manually"}); !errors.Is(err, ErrJobWaiting) {
		t.Fatalf("a second waiting job: %v", err)
	}
	w.must(event.JobStarted{JobID: first, ScheduleID: "orch", AppID: "k"})
	second := created() // it may wait while the first processes
	if _, err := w.apply(event.JobStarted{JobID: second, ScheduleID: "orch", AppID: "k"}); !errors.Is(err, ErrJobBusy) {
		t.Fatalf("a second job processing: %v", err)
	}
	w.must(event.TaskStarted{JobID: first, ScheduleID: "orch", AppID: "k", Task: 0, TaskRunID: "r0"})
	w.must(event.TaskStarted{JobID: first, ScheduleID: "orch", AppID: "k", Task: 0, TaskRunID: "r0"}) // again, after a failover
	w.must(event.TaskFinished{JobID: first, ScheduleID: "orch", AppID: "k", Task: 0, Status: event.StatusJobError, Response: `{"m":1}`})
	if _, err := w.apply(event.TaskStarted{JobID: first, ScheduleID: "orch", AppID: "k", Task: 0, TaskRunID: "r0"}); err == nil {
		t.Fatal("a finished task started again")
	}
	w.must(event.JobFinished{JobID: first, ScheduleID: "orch", AppID: "k", Status: event.StatusJobError})
	j, _, _ := w.q().Job(first)
	if j.Status != event.StatusJobError || j.Results[0].Attempts != 2 || j.Results[0].Response != `{"m":1}` ||
		j.Results[1].Status != event.StatusJobCancelled || j.Results[2].Status != event.StatusJobCancelled || j.EndedAt == 0 {
		t.Fatalf("finished job %+v", j)
	}
	w.must(event.JobStarted{JobID: second, ScheduleID: "orch", AppID: "k"})
	third := created()
	w.must(event.JobCancelled{JobID: third, ScheduleID: "orch", AppID: "k"})
	if _, err := w.apply(event.JobCancelled{JobID: second, ScheduleID: "orch", AppID: "k"}); !errors.Is(err, ErrJobNotWaiting) {
		t.Fatalf("cancel of a processing job: %v", err)
	}
	jobs, err := w.q().JobsOf("orch", 0, 10)
	if err != nil || len(jobs) != 3 || jobs[0].ID != third || jobs[0].Status != event.StatusJobCancelled || jobs[2].ID != first {
		t.Fatalf("jobs newest first: %+v, %v", jobs, err)
	}
	if page, _ := w.q().JobsOf("orch", 1, 1); len(page) != 1 || page[0].ID != second {
		t.Fatalf("offset 1 limit 1: %+v", page)
	}
	if s := w.schedule("orch"); s.Queue == nil || s.Queue.Count != 3 || s.Queue.Processing != second || s.Queue.Waiting != 0 {
		t.Fatalf("queue %+v", s.Queue)
	}
	// A new leader takes over the jobs not ended: only the second.
	if live, err := w.q().LiveJobs(); err != nil || len(live) != 1 || live[0].ID != second {
		t.Fatalf("live jobs %+v, %v", live, err)
	}
	if _, err := w.apply(event.JobCreated{ScheduleID: "once", AppID: "k", InitializedBy: "manually"}); err == nil {
		t.Fatal("a job of a schedule that does not exist")
	}
	// Deleted and past retention: its jobs go with it.
	w.must(event.JobFinished{JobID: second, ScheduleID: "orch", AppID: "k", Status: event.StatusJobSuccess})
	w.must(event.ScheduleDeleted{ScheduleID: "orch", AppID: "k"})
	w.now += 10e9
	if n := w.must(event.EventsCompacted{Cutoff: w.now, Retention: "1s", ScheduleIDs: []string{"orch"}}); n != 1 {
		t.Fatalf("compaction removed %d", n)
	}
	if _, found, _ := w.q().Job(first); found {
		t.Fatal("a job outlived its compacted schedule")
	}
}
