package projections

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/cockroachdb/pebble/v2"
)

// Workflow jobs (issue 19): p/job/<id:8> is a job's record, its id the seq
// of its JobCreated; p/sjob/<schedule>\0<id:8> lists a schedule's jobs;
// p/ljob/<id:8> lists the jobs not ended (waiting or processing), which a
// new leader takes over; a schedule's record holds its queue (the job waiting, the one processing,
// how many it had). The queue rule is here, in apply, so that whichever
// node proposes, an orchestration never has two jobs processing nor more
// than one waiting.

// Rejections of the job events.
var (
	ErrJobWaiting    = errkind.New(errkind.Conflict, "the schedule already has a job waiting")
	ErrJobNotFound   = errkind.New(errkind.NotFound, "no such job")
	ErrJobNotWaiting = errkind.New(errkind.Conflict, "the job is not waiting")
	ErrJobBusy       = errkind.New(errkind.Conflict, "the schedule already runs a job")
	// ErrJobOfRun: the cron run already created its job (it was fired
	// again after a failover).
	ErrJobOfRun = errkind.New(errkind.Conflict, "the run already created its job")
)

// Job is a workflow job: the tasks it runs (a copy made when it was
// created) and what became of each.
type Job struct {
	ID            uint64         `json:"id"`
	ScheduleID    string         `json:"scheduleId"`
	AppID         string         `json:"appId"`
	Status        string         `json:"status"`
	CreatedAt     int64          `json:"createdAt"` // unix ms
	StartedAt     int64          `json:"startedAt,omitempty"`
	EndedAt       int64          `json:"endedAt,omitempty"`
	InitializedBy string         `json:"initializedBy"`
	Initiator     string         `json:"initiator,omitempty"`
	UserAgent     string         `json:"userAgent,omitempty"`
	NotifyEmails  []string       `json:"notifyEmails,omitempty"`
	Tasks         []event.Task   `json:"tasks,omitempty"`
	Notices       []event.Notice `json:"notifications,omitempty"`
	// Notified are who the job was told, on which channel ("<channel>
	// <recipient>"), each once.
	Notified []string `json:"notified,omitempty"`
	// Results has one entry per task, by index, once the job started.
	Results []TaskResult `json:"results,omitempty"`
}

// TaskResult is what became of one task of a job.
type TaskResult struct {
	Status     string `json:"status"` // waiting, processing, success, warning, error, cancelled
	TaskRunID  string `json:"taskRunId,omitempty"`
	Attempts   int    `json:"attempts,omitempty"` // calls begun (a new leader repeats one with no outcome)
	StartedAt  int64  `json:"startedAt,omitempty"`
	FinishedAt int64  `json:"finishedAt,omitempty"`
	Response   string `json:"response,omitempty"`
}

// JobQueue is a schedule's jobs as its record keeps them.
type JobQueue struct {
	Waiting    uint64 `json:"waiting,omitempty"`
	Processing uint64 `json:"processing,omitempty"`
	Count      int    `json:"count,omitempty"`
	LastRun    string `json:"lastRun,omitempty"` // the last cron run that created a job
	// ScheduledAt is when a cron run last created a job (unix ms).
	ScheduledAt int64 `json:"scheduledAt,omitempty"`
}

func jobKey(id uint64) []byte                   { return join([]byte(pJob), u64(id)) }
func liveJobKey(id uint64) []byte               { return join([]byte(pLjob), u64(id)) }
func sjobPrefix(schedule string) []byte         { return join([]byte(pSjob), []byte(schedule), nul) }
func sjobKey(schedule string, id uint64) []byte { return join(sjobPrefix(schedule), u64(id)) }

func (a *applier) job(id uint64, scheduleID, appID string) (Job, error) {
	j, ok, err := getRecord[Job](a.b, jobKey(id))
	switch {
	case err != nil:
		return j, err
	case !ok || j.ScheduleID != scheduleID || j.AppID != appID:
		return j, fmt.Errorf("%w: %d", ErrJobNotFound, id)
	}
	return j, nil
}

// queue is s's job queue, for a change: a copy, so that the record read
// (which a cache or an effect may share) is not changed in place.
func (s *Schedule) queue() *JobQueue {
	q := JobQueue{}
	if s.Queue != nil {
		q = *s.Queue
	}
	s.Queue = &q
	return s.Queue
}

// jobIn is job id of schedule (of app), which must be want (else notIn),
// and that schedule.
func (a *applier) jobIn(id uint64, schedule, app, want string, notIn error) (Job, Schedule, error) {
	j, err := a.job(id, schedule, app)
	if err != nil {
		return j, Schedule{}, err
	}
	if j.Status != want {
		return j, Schedule{}, fmt.Errorf("%w: job %d is %s", notIn, j.ID, j.Status)
	}
	s, err := a.schedule(schedule)
	return j, s, err
}

func (a *applier) jobCreated(p *event.JobCreated) error {
	s, err := a.schedule(p.ScheduleID)
	if err != nil {
		return err
	}
	if s.AppID != p.AppID || s.Callback.Workflow == nil || s.Status == event.StatusDeleted {
		return fmt.Errorf("%w: %s runs no jobs", ErrInvalidEvent, p.ScheduleID)
	}
	q := s.queue()
	switch {
	case p.RunID != "" && p.RunID == q.LastRun:
		return fmt.Errorf("%w: %s", ErrJobOfRun, p.RunID)
	case q.Waiting != 0:
		return fmt.Errorf("%w: job %d", ErrJobWaiting, q.Waiting)
	}
	if p.RunID != "" {
		q.LastRun, q.ScheduledAt = p.RunID, a.nowMs()
	}
	j := Job{ID: a.ev.Seq, ScheduleID: s.ScheduleID, AppID: s.AppID, Status: event.StatusJobWaiting, CreatedAt: a.nowMs(),
		InitializedBy: p.InitializedBy, Initiator: p.Initiator, UserAgent: p.UserAgent, NotifyEmails: p.NotifyEmails, Tasks: p.Tasks,
		Notices: p.Notices}
	q.Waiting, q.Count = j.ID, q.Count+1
	if err := putRecord(a, scheduleKey(s.ScheduleID), s); err != nil {
		return err
	}
	if err := a.b.Set(sjobKey(s.ScheduleID, j.ID), nil, nil); err != nil {
		return err
	}
	if err := a.b.Set(liveJobKey(j.ID), nil, nil); err != nil {
		return err
	}
	return a.putJob(j)
}

// putJob writes job j and tells the leader's runner of it.
func (a *applier) putJob(j Job) error {
	if err := putRecord(a, jobKey(j.ID), j); err != nil {
		return err
	}
	a.fx.Jobs = append(a.fx.Jobs, j)
	return nil
}

// endJob writes job j, which ended, and its schedule s.
func (a *applier) endJob(j Job, s Schedule) error {
	if err := putRecord(a, scheduleKey(s.ScheduleID), s); err != nil {
		return err
	}
	if err := a.b.Delete(liveJobKey(j.ID), nil); err != nil {
		return err
	}
	return a.putJob(j)
}

func (a *applier) jobStarted(p *event.JobStarted) error {
	j, s, err := a.jobIn(p.JobID, p.ScheduleID, p.AppID, event.StatusJobWaiting, ErrJobNotWaiting)
	if err != nil {
		return err
	}
	q := s.queue()
	switch {
	case s.Status == event.StatusDeleted:
		return fmt.Errorf("%w: %s is deleted: its waiting job is cancelled, never started", ErrInvalidEvent, s.ScheduleID)
	case q.Processing != 0:
		return fmt.Errorf("%w: job %d", ErrJobBusy, q.Processing)
	}
	q.Waiting, q.Processing = 0, j.ID
	j.Status, j.StartedAt = event.StatusJobProcessing, a.nowMs()
	j.Results = make([]TaskResult, len(j.Tasks))
	for i := range j.Results {
		j.Results[i].Status = event.StatusJobWaiting
	}
	if err := putRecord(a, scheduleKey(s.ScheduleID), s); err != nil {
		return err
	}
	return a.putJob(j)
}

// processing is job id of schedule, which must be processing, with task
// index task.
func (a *applier) processing(id uint64, schedule, app string, task int) (Job, error) {
	j, err := a.job(id, schedule, app)
	switch {
	case err != nil:
		return j, err
	case j.Status != event.StatusJobProcessing:
		return j, fmt.Errorf("%w: job %d is %s", ErrInvalidEvent, id, j.Status)
	case task < 0 || task >= len(j.Results):
		return j, fmt.Errorf("%w: job %d has no task %d", ErrInvalidEvent, id, task)
	}
	return j, nil
}

func (a *applier) taskStarted(p *event.TaskStarted) error {
	j, err := a.processing(p.JobID, p.ScheduleID, p.AppID, p.Task)
	if err != nil {
		return err
	}
	r := &j.Results[p.Task]
	if r.FinishedAt != 0 || event.JobOutcome(r.Status) {
		return fmt.Errorf("%w: job %d's task %d has finished", ErrInvalidEvent, j.ID, p.Task)
	}
	r.Status, r.TaskRunID, r.Attempts = event.StatusJobProcessing, p.TaskRunID, r.Attempts+1
	if r.StartedAt == 0 {
		r.StartedAt = a.nowMs()
	}
	return putRecord(a, jobKey(j.ID), j)
}

func (a *applier) taskFinished(p *event.TaskFinished) error {
	j, err := a.processing(p.JobID, p.ScheduleID, p.AppID, p.Task)
	if err != nil {
		return err
	}
	r := &j.Results[p.Task]
	if r.Status != event.StatusJobProcessing {
		return fmt.Errorf("%w: job %d's task %d is %s", ErrInvalidEvent, j.ID, p.Task, r.Status)
	}
	r.Status, r.Response, r.FinishedAt = p.Status, p.Response, a.nowMs()
	if p.StartedAt != 0 {
		r.StartedAt = p.StartedAt
	}
	if p.FinishedAt != 0 {
		r.FinishedAt = p.FinishedAt
	}
	return putRecord(a, jobKey(j.ID), j)
}

func (a *applier) jobFinished(p *event.JobFinished) error {
	j, s, err := a.jobIn(p.JobID, p.ScheduleID, p.AppID, event.StatusJobProcessing, ErrInvalidEvent)
	if err != nil {
		return err
	}
	j.Status, j.EndedAt = p.Status, a.nowMs()
	for i := range j.Results {
		if r := &j.Results[i]; r.Status == event.StatusJobWaiting || r.Status == event.StatusJobProcessing {
			r.Status = event.StatusJobCancelled // never ran (a later phase), or cut short
		}
	}
	if q := s.queue(); q.Processing == j.ID {
		q.Processing = 0
	}
	return a.endJob(j, s)
}

func (a *applier) jobCancelled(p *event.JobCancelled) error {
	j, s, err := a.jobIn(p.JobID, p.ScheduleID, p.AppID, event.StatusJobWaiting, ErrJobNotWaiting)
	if err != nil {
		return err
	}
	j.Status, j.EndedAt = event.StatusJobCancelled, a.nowMs()
	if q := s.queue(); q.Waiting == j.ID {
		q.Waiting = 0
	}
	return a.endJob(j, s)
}

// jobNotified marks job p.JobID told on channel p.Notice.
func (a *applier) jobNotified(p *event.NotificationSent) error {
	if p.JobID == 0 {
		return nil
	}
	j, err := a.job(p.JobID, p.ScheduleID, p.AppID)
	if err != nil {
		return err
	}
	told := p.Notice + " " + p.Target
	if slices.Contains(j.Notified, told) {
		return nil
	}
	j.Notified = append(j.Notified, told)
	return putRecord(a, jobKey(j.ID), j)
}

// Job returns job id.
func (q Reader) Job(id uint64) (Job, bool, error) { return getRecord[Job](q.R, jobKey(id)) }

// LiveJobs returns the jobs waiting or processing, oldest first.
func (q Reader) LiveJobs() ([]Job, error) {
	var out []Job
	err := scanPrefix(q.R, []byte(pLjob), nil, func(k, _ []byte) (bool, error) {
		j, found, err := q.Job(binary.BigEndian.Uint64(k[len(k)-8:]))
		if found {
			out = append(out, j)
		}
		return err == nil, err
	})
	return out, err
}

// JobsOf returns up to limit of schedule id's jobs after skipping offset,
// newest first.
func (q Reader) JobsOf(id string, offset, limit int) ([]Job, error) {
	it, err := q.R.NewIter(&pebble.IterOptions{LowerBound: sjobPrefix(id), UpperBound: prefixEnd(sjobPrefix(id))})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Job
	skipped := 0
	for ok := it.Last(); ok && len(out) < limit; ok = it.Prev() {
		if skipped < offset {
			skipped++
			continue
		}
		k := it.Key()
		j, found, err := q.Job(binary.BigEndian.Uint64(k[len(k)-8:]))
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, j)
		}
	}
	return out, it.Error()
}
