package actors

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/chronicle-sched/chronicle/actors/command"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/projections"
)

// runCommand runs a fired run's commands (a command callback) on this
// leader, once one of MaxCommandRuns slots is free, and records its output
// and outcome in one entry. A run whose term ends first is not recorded:
// the next leader records it as interrupted (interrupted), never runs it
// twice. One canceled through CancelRun is recorded CANCELED.
func (e *Engine) runCommand(ctx context.Context, pr projections.PendingRun, f projections.FiredRun) {
	c := f.Schedule.Callback.Command
	spec := command.Spec{Lines: c.Lines, Dir: filepath.Join(e.cfg.DataDir, filepath.FromSlash(c.Dir)),
		MaxOutput: admit.MaxOutputBytes}
	if c.CounterEnv != "" {
		spec.Env = append(spec.Env, c.CounterEnv+"="+strconv.Itoa(f.Counter))
	}
	e.inBackground(func() {
		queued := e.clock.Now()
		select {
		case e.commandSlots <- struct{}{}:
		case <-ctx.Done():
			e.commandEnded(ctx, pr, f, command.Result{Canceled: true, Err: "canceled while it waited for a free command slot",
				StartedAt: queued, FinishedAt: e.clock.Now()})
			return
		}
		res := command.Run(ctx, spec)
		<-e.commandSlots
		e.commandEnded(ctx, pr, f, res)
	})
}

// commandEnded records a command run's output and outcome, unless its
// term ended (see runCommand).
func (e *Engine) commandEnded(ctx context.Context, pr projections.PendingRun, f projections.FiredRun, res command.Result) {
	e.cfg.Metrics.Delivered(pr.AppID, res.StartedAt.Sub(time.UnixMilli(pr.DueMs)), res.FinishedAt.Sub(res.StartedAt), 1, pr.Fired)
	status := event.StatusSuccess
	switch {
	case res.Canceled && !errors.Is(context.Cause(ctx), errCanceledByUser):
		e.cfg.Logger.Warn("command run cut short: this node stopped leading; the next leader records it as interrupted",
			"schedule", pr.ScheduleID, "run", pr.RunID)
		return
	case res.Canceled:
		status = event.StatusCanceled
	case !res.Success:
		status = event.StatusFailure
		if ok, omitted := e.failedLog.line(e.clock.Now()); ok {
			e.cfg.Logger.Warn("run failed", "app", pr.AppID, "schedule", pr.ScheduleID, "run", pr.RunID,
				"error", res.Err, "failedRunsNotLogged", omitted)
		}
	}
	e.out.add(e.notifyAfter(f.Schedule, f.Counter, res.Output),
		event.RunOutput{ScheduleID: pr.ScheduleID, RunID: pr.RunID, AppID: pr.AppID, Output: res.Output, Cut: res.Cut},
		event.RunCompleted{ScheduleID: pr.ScheduleID, RunID: pr.RunID, AppID: pr.AppID, Partition: pr.Partition,
			ScheduledTime: pr.ScheduledTime, Status: status, ErrorMessage: res.Err, Attempts: 1,
			StartedAt: res.StartedAt.UnixMilli(), FinishedAt: res.FinishedAt.UnixMilli()})
}

// interrupted is the outcome of a run in flight when its leader stopped,
// which must not run again (NoRefire: a command that may have done half
// its work): FAILURE, saying so.
func (e *Engine) interrupted(pr projections.PendingRun) event.RunCompleted {
	return event.RunCompleted{ScheduleID: pr.ScheduleID, RunID: pr.RunID, AppID: pr.AppID, Partition: pr.Partition,
		ScheduledTime: pr.ScheduledTime, Status: event.StatusFailure, Attempts: 1,
		ErrorMessage: fmt.Sprintf("interrupted: it was running (since %s) when its leader stopped leading; "+
			"a command is not run again, since it may have done part of its work",
			time.UnixMilli(pr.FiredAt).UTC().Format(time.RFC3339))}
}

// ErrNotRunning: CancelRun found no run of the schedule going on.
var ErrNotRunning = errkind.New(errkind.Conflict, "no run of the schedule is running")

// CancelRun cancels the runs of schedule id going on (a command's
// processes are killed, a call cut short) and waits, up to a few seconds,
// for their CANCELED outcomes to be applied. It answers on the leader
// (the APIs relay it there).
func (e *Engine) CancelRun(ctx context.Context, id string) (runIDs []string, err error) {
	defer func() { e.count(ctx, "cancel", err) }()
	if _, err := e.visibleSchedule(id); err != nil {
		return nil, err
	}
	if !e.Leading() {
		return nil, fmt.Errorf("%w: only the leader runs and cancels runs", ErrNotLeader)
	}
	runIDs = e.delivering.cancelSchedule(id)
	if len(runIDs) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotRunning, id)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, r := range runIDs {
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if _, pending, err := e.state.Pending(r); err != nil || !pending {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return runIDs, nil
}
