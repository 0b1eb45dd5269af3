package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/actors/workflow"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// Workflow jobs on the leader. A job waits until its schedule runs no
// other; the leader then proposes JobStarted, and an actor per processing
// job drives it: phase after phase, TaskStarted for the phase's tasks (one
// entry), their calls in parallel, TaskFinished for each, and JobFinished
// when a phase stops the job or none is left. Everything the actor knows
// it reads from the job's record, so a new leader resumes a job where the
// log says it stands: a task started with no outcome recorded is called
// again under the same task-run id; a finished one is not.

// jobDrivers are the actors driving this leader's processing jobs.
type jobDrivers struct {
	sync.Mutex
	pids map[uint64]*actor.PID
}

// jobStep tells a job's actor to look at its job again.
type jobStep struct{}

// jobDriver is the actor of one processing job, for one term.
type jobDriver struct {
	e       *Engine
	ctx     context.Context // the term's
	id      uint64
	calling map[int]bool // tasks whose call this actor is making
}

// retryAfterFailure is how long a job's actor waits before it proposes
// again what did not commit (while it still leads).
const retryAfterFailure = time.Second

func (d *jobDriver) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		d.calling = map[int]bool{}
		d.step(c)
	case jobStep:
		d.step(c)
	case taskDone:
		if m.canceled {
			delete(d.calling, m.task)
			return // the term ended: the next leader calls it again
		}
		if !d.finished(c, m) {
			d.later(c, m) // still calling, as far as step knows
			return
		}
		delete(d.calling, m.task)
		d.step(c)
	case *actor.Stopped:
		d.e.jobs.forget(d.id, c.Self())
	}
}

// later sends m to the actor again after a while.
func (d *jobDriver) later(c actor.Context, m any) {
	self, root := c.Self(), d.e.system.Root
	time.AfterFunc(retryAfterFailure, func() { root.Send(self, m) })
}

// step starts what the job's record says is next: the calls of its
// current phase, or its end.
func (d *jobDriver) step(c actor.Context) {
	if d.ctx.Err() != nil {
		c.Stop(c.Self())
		return
	}
	j, ok, err := d.e.state.Job(d.id)
	if err != nil {
		d.e.cfg.Logger.Error("read a job to drive it", "job", d.id, "err", err)
		d.later(c, jobStep{})
		return
	}
	if !ok || j.Status != event.StatusJobProcessing {
		c.Stop(c.Self())
		return
	}
	steps := workflow.StepsOf(j.Tasks)
	outcomes := map[int]string{}
	for _, phase := range workflow.Phases(steps) {
		var start []int
		running, stop := false, false
		for _, i := range phase {
			switch st := j.Results[i].Status; st {
			case event.StatusJobSuccess, event.StatusJobWarning, event.StatusJobError:
				outcomes[i] = st
				stop = stop || workflow.Stops(steps[i], st)
			default: // waiting, or processing with no outcome (an earlier term's call)
				if d.calling[i] {
					running = true
				} else {
					start = append(start, i)
				}
			}
		}
		switch {
		case len(start) > 0:
			d.begin(c, j, start)
			return
		case running:
			return // the phase's calls are going on
		case stop:
			d.finish(c, j, workflow.JobStatus(steps, outcomes))
			return
		}
	}
	d.finish(c, j, workflow.JobStatus(steps, outcomes))
}

// begin records the start of tasks of job j and calls them, in parallel.
func (d *jobDriver) begin(c actor.Context, j projections.Job, tasks []int) {
	payloads := make([]event.Payload, len(tasks))
	for k, i := range tasks {
		payloads[k] = event.TaskStarted{JobID: j.ID, ScheduleID: j.ScheduleID, AppID: j.AppID, Task: i, TaskRunID: TaskRunID(j.ID, i)}
	}
	results, err := d.e.propose(payloads...)
	if err != nil {
		if d.ctx.Err() == nil {
			d.e.cfg.Logger.Warn("job's tasks not started; trying again", "job", j.ID, "err", err)
			d.later(c, jobStep{})
		}
		return
	}
	self, root := c.Self(), d.e.system.Root
	for k, i := range tasks {
		if results[k].Err != nil {
			d.e.cfg.Logger.Error("a job's task start refused", "job", j.ID, "task", i, "err", results[k].Err)
			continue
		}
		d.calling[i] = true
		d.e.inBackground(func() { root.Send(self, d.e.callTask(d.ctx, j, i)) })
	}
	if len(d.calling) == 0 {
		d.later(c, jobStep{})
	}
}

// finished records a task's outcome, and reports whether it committed
// (or never will: the job is no longer processing, or the term ended).
// An outcome the log refuses (it cannot happen for one callTask made; a
// guard against calling the task again and again) is recorded as the
// task's error.
func (d *jobDriver) finished(c actor.Context, m taskDone) bool {
	j, ok, err := d.e.state.Job(d.id)
	if err == nil && (!ok || j.Status != event.StatusJobProcessing) {
		return true
	}
	tf := event.TaskFinished{JobID: d.id, ScheduleID: j.ScheduleID, AppID: j.AppID, Task: m.task,
		Status: m.status, Response: m.response, StartedAt: m.started.UnixMilli(), FinishedAt: m.finished.UnixMilli()}
	res, err := d.e.propose(tf)
	if err == nil && res[0].Err != nil {
		d.e.cfg.Logger.Error("a job's task outcome refused; recorded as its error", "job", d.id, "task", m.task, "err", res[0].Err)
		tf.Status, tf.Response = event.StatusJobError, message("the task's outcome could not be recorded: "+res[0].Err.Error())
		res, err = d.e.propose(tf)
		if err == nil && res[0].Err != nil {
			d.e.cfg.Logger.Error("a job's task error refused too", "job", d.id, "task", m.task, "err", res[0].Err)
		}
	}
	if err != nil && d.ctx.Err() == nil {
		d.e.cfg.Logger.Warn("a job's task outcome not recorded; trying again", "job", d.id, "task", m.task, "err", err)
		return false
	}
	return true
}

// finish records the end of job j with status.
func (d *jobDriver) finish(c actor.Context, j projections.Job, status string) {
	res, err := d.e.propose(event.JobFinished{JobID: j.ID, ScheduleID: j.ScheduleID, AppID: j.AppID, Status: status})
	if err != nil && d.ctx.Err() == nil {
		d.e.cfg.Logger.Warn("a job's end not recorded; trying again", "job", j.ID, "err", err)
		d.later(c, jobStep{})
		return
	}
	if err == nil && res[0].Err != nil {
		d.e.cfg.Logger.Error("a job's end refused", "job", j.ID, "err", res[0].Err)
	}
	c.Stop(c.Self())
}

// drive starts the actor of processing job id, unless one drives it. The
// caller holds lead, leading in the term of ctx.
func (e *Engine) drive(ctx context.Context, id uint64) {
	e.jobs.Lock()
	defer e.jobs.Unlock()
	if e.jobs.pids == nil {
		e.jobs.pids = map[uint64]*actor.PID{}
	}
	if _, ok := e.jobs.pids[id]; ok {
		return
	}
	e.jobs.pids[id] = e.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &jobDriver{e: e, ctx: ctx, id: id}
	}))
}

// forget drops the actor of job id, if pid is still it.
func (d *jobDrivers) forget(id uint64, pid *actor.PID) {
	d.Lock()
	defer d.Unlock()
	if cur, ok := d.pids[id]; ok && cur.Equal(pid) {
		delete(d.pids, id)
	}
}

// stopJobs stops every job's actor: the term ended.
func (e *Engine) stopJobs() {
	e.jobs.Lock()
	defer e.jobs.Unlock()
	for id, pid := range e.jobs.pids {
		e.system.Root.Stop(pid)
		delete(e.jobs.pids, id)
	}
}

// jobsChanged acts on jobs applied: a processing one is driven; a waiting
// one, or one that ended, may let its schedule's waiting job start. The
// caller holds lead, leading.
func (e *Engine) jobsChanged(jobs []projections.Job) {
	ctx := e.lead.ctx
	for _, j := range jobs {
		e.jobNotices(ctx, j)
		switch j.Status {
		case event.StatusJobProcessing:
			e.drive(ctx, j.ID)
		default:
			schedule := j.ScheduleID
			e.inBackground(func() { e.startNext(ctx, schedule) })
		}
	}
}

// resumeJobs takes over the jobs not ended, once this node leads.
func (e *Engine) resumeJobs(ctx context.Context) {
	live, err := e.state.LiveJobs()
	if err != nil {
		e.cfg.Logger.Error("load the jobs to resume", "err", err)
		return
	}
	e.lead.Lock()
	defer e.lead.Unlock()
	if e.lead.ctx != ctx || ctx.Err() != nil {
		return
	}
	e.jobsChanged(live)
}

// startNext starts schedule id's waiting job if it runs none (a deleted
// schedule's is cancelled instead), trying again while this node leads
// and the proposal does not commit. Apply has the last word: of two
// leaders' (or two calls') JobStarted, one is refused.
func (e *Engine) startNext(ctx context.Context, id string) {
	for wait := retryAfterFailure; ctx.Err() == nil; wait = min(2*wait, 30*time.Second) {
		s, ok, err := e.state.Schedule(id)
		if err != nil || !ok || s.Queue == nil || s.Queue.Waiting == 0 || s.Queue.Processing != 0 {
			return
		}
		var p event.Payload = event.JobStarted{JobID: s.Queue.Waiting, ScheduleID: id, AppID: s.AppID}
		if s.Status == event.StatusDeleted {
			p = event.JobCancelled{JobID: s.Queue.Waiting, ScheduleID: id, AppID: s.AppID}
		}
		res, err := e.proposeOne(event.ActorSystem, p)
		if err == nil || res.Err != nil || ctx.Err() != nil {
			return // applied, or refused: the state moved on
		}
		e.cfg.Logger.Warn("a waiting job not started; trying again", "schedule", id, "job", s.Queue.Waiting, "err", err)
		if !delivery.Sleep(ctx, wait) {
			return
		}
	}
}

// NewJob is a job asked for through an API (manually or by a trigger).
type NewJob struct {
	InitializedBy string       // manually or trigger
	Active        map[int]bool // by task id: this job's change of a task's active
	Initiator     string       // who asked (a token's description)
	UserAgent     string
	NotifyEmails  []string
}

// ErrNotWorkflow: a job asked of a schedule whose callback is not a
// workflow.
var ErrNotWorkflow = errkind.New(errkind.Invalid, "the schedule's callback is not a workflow: it runs no jobs")

// CreateJob creates a job of workflow schedule id, waiting, with a copy of
// its tasks and notifications; it is refused (projections.ErrJobWaiting)
// when the schedule has one waiting already. It answers on the leader.
func (e *Engine) CreateJob(ctx context.Context, id string, c NewJob) (j projections.Job, err error) {
	defer func() { e.count(ctx, "job", err) }()
	if err := e.readable(event.WorkflowsSince); err != nil {
		return j, err
	}
	return confirmRefusal(e, func() (projections.Job, error) {
		s, err := e.workflowSchedule(id)
		if err != nil {
			return projections.Job{}, err
		}
		r, err := e.ask(ctx, s.AppID, func(ch chan<- reply) interface{} {
			return builtCommand{build: func() (event.Payload, error) {
				s, err := e.workflowSchedule(id)
				if err != nil {
					return nil, err
				}
				jc := jobOf(s, c.InitializedBy)
				for i, t := range jc.Tasks {
					if active, ok := c.Active[t.ID]; ok {
						jc.Tasks[i].Active = active
					}
				}
				jc.Initiator, jc.UserAgent, jc.NotifyEmails = c.Initiator, clipText(c.UserAgent, admit.MaxUserAgent), c.NotifyEmails
				return jc, nil
			}, actor: actorOf(ctx), reply: ch}
		})
		if err != nil {
			return projections.Job{}, err
		}
		// As it was created: the leader may have started it already.
		jc := r.proposed.(event.JobCreated)
		return projections.Job{ID: r.seq, ScheduleID: jc.ScheduleID, AppID: jc.AppID, Status: event.StatusJobWaiting,
			CreatedAt: r.at / 1e6, InitializedBy: jc.InitializedBy, Initiator: jc.Initiator, UserAgent: jc.UserAgent,
			NotifyEmails: jc.NotifyEmails, Tasks: jc.Tasks, Notices: jc.Notices}, nil
	})
}

// CancelJob cancels job id, which must be waiting (projections.
// ErrJobNotWaiting otherwise). It answers on the leader.
func (e *Engine) CancelJob(ctx context.Context, id uint64) (err error) {
	defer func() { e.count(ctx, "cancelJob", err) }()
	_, err = confirmRefusal(e, func() (struct{}, error) {
		j, ok, err := e.state.Job(id)
		switch {
		case err != nil:
			return struct{}{}, err
		case !ok:
			return struct{}{}, fmt.Errorf("%w: %d", projections.ErrJobNotFound, id)
		}
		_, err = e.ask(ctx, j.AppID, func(ch chan<- reply) interface{} {
			return builtCommand{build: func() (event.Payload, error) {
				return event.JobCancelled{JobID: id, ScheduleID: j.ScheduleID, AppID: j.AppID}, nil
			}, actor: actorOf(ctx), reply: ch}
		})
		return struct{}{}, err
	})
	return err
}

// workflowSchedule reads schedule id for a job: it must exist, not be
// deleted, and run a workflow.
func (e *Engine) workflowSchedule(id string) (projections.Schedule, error) {
	s, err := e.visibleSchedule(id)
	if err == nil && s.Callback.Workflow == nil {
		err = fmt.Errorf("%w: %s", ErrNotWorkflow, id)
	}
	return s, err
}

// jobOf is a new job of workflow schedule s: a copy of its tasks and
// notifications as they are now.
func jobOf(s projections.Schedule, initializedBy string) event.JobCreated {
	w := s.Callback.Workflow
	return event.JobCreated{ScheduleID: s.ScheduleID, AppID: s.AppID, InitializedBy: initializedBy,
		Tasks: append([]event.Task(nil), w.Tasks...), Notices: append([]event.Notice(nil), w.Notices...)}
}

// fireJob is the call of a fired run of a workflow schedule: it creates
// the schedule's job (initialized by the scheduler) and records the run
// SUCCESS, or MISS if a job was waiting already. A run fired again after
// a failover finds its job created (apply refuses a second).
func (e *Engine) fireJob(ctx context.Context, pr projections.PendingRun, f projections.FiredRun) {
	e.inBackground(func() {
		started := e.clock.Now()
		jc := jobOf(f.Schedule, "scheduler")
		jc.RunID = pr.RunID
		var res []raftfsm.Result
		var err error
		for wait := retryAfterFailure; ; wait = min(2*wait, 30*time.Second) {
			if res, err = e.propose(jc); err == nil {
				break
			}
			e.cfg.Logger.Warn("a cron's job not created; trying again", "run", pr.RunID, "err", err)
			if !delivery.Sleep(ctx, wait) {
				return // the term ended: the next leader fires the run again
			}
		}
		rc := event.RunCompleted{ScheduleID: pr.ScheduleID, RunID: pr.RunID, AppID: pr.AppID, Partition: pr.Partition,
			ScheduledTime: pr.ScheduledTime, Status: event.StatusSuccess, Attempts: 1,
			StartedAt: started.UnixMilli(), FinishedAt: e.clock.Now().UnixMilli()}
		switch err := res[0].Err; {
		case err == nil, errors.Is(err, projections.ErrJobOfRun):
		case errors.Is(err, projections.ErrJobWaiting):
			rc.Status, rc.ErrorMessage = event.StatusMiss, "skipped: the schedule already has a job waiting"
		default:
			rc.Status, rc.ErrorMessage = event.StatusFailure, "job not created: "+err.Error()
		}
		e.out.add(nil, rc)
	})
}
