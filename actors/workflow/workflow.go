// Package workflow holds the rules of a workflow job (issue 19, Keboola's
// orchestrations): how an ordered list of tasks falls into phases that run
// one after another, the tasks of a phase side by side, and what status a
// job ends with from its tasks' outcomes. It is pure: the engine that
// drives a job (and replays its events) asks it what comes next.
//
// The rules (Keboola's, as its clients rely on them):
//   - Consecutive tasks with the same non-null phase form one phase; every
//     task without a phase is a phase of its own; a phase name seen again
//     after another one starts a new phase ("11 2 2 11" is three phases).
//   - Phases are formed over all the tasks, then inactive tasks are left
//     out and phases left empty are dropped.
//   - A task that ends anything but success has failed (a warning too). A
//     failed task without continueOnFailure fails the job: the tasks of its
//     phase still running finish, no later phase starts, and the job ends
//     error. A failed task with continueOnFailure lets the job go on and
//     end warning. A job with no active task succeeds.
package workflow

import "github.com/chronicle-sched/chronicle/eventlog/event"

// Step is what the rules need of a task.
type Step struct {
	// Phase names the task's phase; nil: a phase of its own.
	Phase             *string
	Active            bool
	ContinueOnFailure bool
}

// StepsOf are the rules' view of a job's tasks.
func StepsOf(tasks []event.Task) []Step {
	steps := make([]Step, len(tasks))
	for i, t := range tasks {
		steps[i] = Step{Active: t.Active, ContinueOnFailure: t.ContinueOnFailure}
		if t.Phase != "" {
			phase := t.Phase
			steps[i].Phase = &phase
		}
	}
	return steps
}

// Phases returns the phases of steps, in the order they run, each the
// indices (into steps) of its active tasks, in definition order.
func Phases(steps []Step) [][]int {
	var out [][]int
	var cur []int
	curName := ""
	open := false // cur may take the next step (same non-null phase)
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, open = nil, false
	}
	for i, s := range steps {
		switch {
		case s.Phase == nil:
			flush()
		case !open || *s.Phase != curName:
			flush()
			curName, open = *s.Phase, true
		}
		if s.Active {
			cur = append(cur, i)
		}
		if s.Phase == nil {
			flush()
		}
	}
	flush()
	return out
}

// Statuses of a task's outcome and of a finished job (the log's).
const (
	Success = event.StatusJobSuccess
	Warning = event.StatusJobWarning
	Error   = event.StatusJobError
)

// Failed reports whether a task that ended with status failed (anything
// but success: a warning too).
func Failed(status string) bool { return status != Success }

// Stops reports whether step s, which ended with status, stops the job:
// no later phase starts.
func Stops(s Step, status string) bool { return Failed(status) && !s.ContinueOnFailure }

// JobStatus is the status a job ends with, from the outcomes of the tasks
// that ran (status by step index; a step that did not run is absent).
func JobStatus(steps []Step, outcomes map[int]string) string {
	status := Success
	for i, st := range outcomes {
		switch {
		case !Failed(st):
		case Stops(steps[i], st):
			return Error
		default:
			status = Warning
		}
	}
	return status
}
