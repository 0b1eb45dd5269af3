package event

// Workflow jobs (issue 19, Keboola's orchestrations): a schedule whose
// callback is a workflow runs jobs, each an ordered list of tasks (HTTP
// calls) in phases (see actors/workflow for the rules). A job is its own
// record: created waiting, started by the leader when its schedule runs no
// other job, each task's start and end recorded, finished or cancelled.

// CallbackWorkflow is the type of a workflow callback.
const CallbackWorkflow = "workflow"

// Workflow is what a workflow callback runs: its tasks, in order.
type Workflow struct {
	Tasks   []Task   `json:"tasks"`
	Notices []Notice `json:"notifications,omitempty"`
}

// Notice is who is told of a workflow's jobs, on which Channel: error or
// warning when a job ends so; waiting when a job has waited longer than
// the parameter timeout (minutes); processing when a job runs longer than
// the usual (the average of its workflow's last successful jobs) by more
// than the parameter tolerance (percent). By email to Email and, when URL
// is set, by a signed webhook to URL. Parameters is a JSON object, as
// text.
type Notice struct {
	Channel    string `json:"channel"`
	Email      string `json:"email,omitempty"`
	URL        string `json:"url,omitempty"`
	Parameters string `json:"parameters,omitempty"`
}

// Channels of a notice.
const (
	NoticeError      = "error"
	NoticeWarning    = "warning"
	NoticeWaiting    = "waiting"
	NoticeProcessing = "processing"
)

// Task is one call of a workflow: to URL (http or https), or to Component
// and Action resolved to a URL by the server's configuration; Parameters
// (a JSON object, as text) is its body.
type Task struct {
	ID                int    `json:"id"`
	URL               string `json:"url,omitempty"`
	Component         string `json:"component,omitempty"`
	Action            string `json:"action,omitempty"`
	Parameters        string `json:"parameters,omitempty"`
	Phase             string `json:"phase,omitempty"` // "": a phase of its own
	Active            bool   `json:"active,omitempty"`
	ContinueOnFailure bool   `json:"continueOnFailure,omitempty"`
	TimeoutSeconds    int    `json:"timeoutSeconds,omitempty"` // 0: none
}

// Statuses of a job and of a job's task.
const (
	StatusJobWaiting    = "waiting"
	StatusJobProcessing = "processing"
	StatusJobSuccess    = "success"
	StatusJobWarning    = "warning"
	StatusJobError      = "error"
	StatusJobCancelled  = "cancelled"
)

// JobOutcome reports whether status is one a job or task ends with:
// success, warning or error.
func JobOutcome(status string) bool {
	return status == StatusJobSuccess || status == StatusJobWarning || status == StatusJobError
}

// JobCreated: a job of workflow schedule ScheduleID was created, waiting,
// with a copy of the tasks it runs (the workflow's, as they were, with any
// per-run change of Active). Its id is the event's seq.
type JobCreated struct {
	ScheduleID    string   `json:"scheduleId"`
	AppID         string   `json:"appId"`
	Tasks         []Task   `json:"tasks"`
	InitializedBy string   `json:"initializedBy"` // manually, scheduler or trigger
	Initiator     string   `json:"initiator,omitempty"`
	UserAgent     string   `json:"userAgent,omitempty"`
	NotifyEmails  []string `json:"notifyEmails,omitempty"`
	Notices       []Notice `json:"notifications,omitempty"` // the workflow's, as they were
	// RunID is the cron run that created it (InitializedBy scheduler):
	// a run fired again after a failover creates no second job.
	RunID string `json:"runId,omitempty"`
}

// JobStarted: the leader began job JobID (its schedule runs no other).
type JobStarted struct {
	JobID      uint64 `json:"jobId"`
	ScheduleID string `json:"scheduleId"`
	AppID      string `json:"appId"`
}

// TaskStarted: the job's task Task (its index) is being called, under
// TaskRunID (the same on a call repeated after a failover).
type TaskStarted struct {
	JobID      uint64 `json:"jobId"`
	ScheduleID string `json:"scheduleId"`
	AppID      string `json:"appId"`
	Task       int    `json:"task"`
	TaskRunID  string `json:"taskRunId"`
}

// TaskFinished: the job's task ended with Status (success, warning,
// error), Response its receiver's last answer (JSON text, capped).
type TaskFinished struct {
	JobID      uint64 `json:"jobId"`
	ScheduleID string `json:"scheduleId"`
	AppID      string `json:"appId"`
	Task       int    `json:"task"`
	Status     string `json:"status"`
	Response   string `json:"response,omitempty"`
	StartedAt  int64  `json:"startedAt,omitempty"`  // unix ms
	FinishedAt int64  `json:"finishedAt,omitempty"` // unix ms
}

// JobFinished: job JobID ended with Status (success, warning or error).
type JobFinished struct {
	JobID      uint64 `json:"jobId"`
	ScheduleID string `json:"scheduleId"`
	AppID      string `json:"appId"`
	Status     string `json:"status"`
}

// JobCancelled: job JobID was cancelled while it waited.
type JobCancelled struct {
	JobID      uint64 `json:"jobId"`
	ScheduleID string `json:"scheduleId"`
	AppID      string `json:"appId"`
}

func (JobCreated) EventType() Type   { return TypeJobCreated }
func (JobStarted) EventType() Type   { return TypeJobStarted }
func (TaskStarted) EventType() Type  { return TypeTaskStarted }
func (TaskFinished) EventType() Type { return TypeTaskFinished }
func (JobFinished) EventType() Type  { return TypeJobFinished }
func (JobCancelled) EventType() Type { return TypeJobCancelled }

// TaskCodec is the wire form of a task (records embed it too).
var TaskCodec = NewCodec(
	IntField(1, func(t *Task) *int { return &t.ID }),
	StringField(2, func(t *Task) *string { return &t.URL }),
	StringField(3, func(t *Task) *string { return &t.Component }),
	StringField(4, func(t *Task) *string { return &t.Action }),
	StringField(5, func(t *Task) *string { return &t.Parameters }),
	StringField(6, func(t *Task) *string { return &t.Phase }),
	BoolField(7, func(t *Task) *bool { return &t.Active }),
	BoolField(8, func(t *Task) *bool { return &t.ContinueOnFailure }),
	IntField(9, func(t *Task) *int { return &t.TimeoutSeconds }),
)

// NoticeCodec is the wire form of a notice.
var NoticeCodec = NewCodec(
	StringField(1, func(n *Notice) *string { return &n.Channel }),
	StringField(2, func(n *Notice) *string { return &n.Email }),
	StringField(3, func(n *Notice) *string { return &n.URL }),
	StringField(4, func(n *Notice) *string { return &n.Parameters }),
)

var workflowCodec = NewCodec(
	RepeatedMessageField(1, func(w *Workflow) *[]Task { return &w.Tasks }, TaskCodec),
	RepeatedMessageField(2, func(w *Workflow) *[]Notice { return &w.Notices }, NoticeCodec),
)

var jobCreatedCodec = NewCodec(
	StringField(1, func(p *JobCreated) *string { return &p.ScheduleID }),
	StringField(2, func(p *JobCreated) *string { return &p.AppID }),
	RepeatedMessageField(3, func(p *JobCreated) *[]Task { return &p.Tasks }, TaskCodec),
	StringField(4, func(p *JobCreated) *string { return &p.InitializedBy }),
	StringField(5, func(p *JobCreated) *string { return &p.Initiator }),
	StringField(6, func(p *JobCreated) *string { return &p.UserAgent }),
	StringsField(7, func(p *JobCreated) *[]string { return &p.NotifyEmails }),
	RepeatedMessageField(8, func(p *JobCreated) *[]Notice { return &p.Notices }, NoticeCodec),
	StringField(9, func(p *JobCreated) *string { return &p.RunID }),
)

var jobStartedCodec = NewCodec(
	Uint64Field(1, func(p *JobStarted) *uint64 { return &p.JobID }),
	StringField(2, func(p *JobStarted) *string { return &p.ScheduleID }),
	StringField(3, func(p *JobStarted) *string { return &p.AppID }),
)

var taskStartedCodec = NewCodec(
	Uint64Field(1, func(p *TaskStarted) *uint64 { return &p.JobID }),
	StringField(2, func(p *TaskStarted) *string { return &p.ScheduleID }),
	StringField(3, func(p *TaskStarted) *string { return &p.AppID }),
	IntField(4, func(p *TaskStarted) *int { return &p.Task }),
	StringField(5, func(p *TaskStarted) *string { return &p.TaskRunID }),
)

var taskFinishedCodec = NewCodec(
	Uint64Field(1, func(p *TaskFinished) *uint64 { return &p.JobID }),
	StringField(2, func(p *TaskFinished) *string { return &p.ScheduleID }),
	StringField(3, func(p *TaskFinished) *string { return &p.AppID }),
	IntField(4, func(p *TaskFinished) *int { return &p.Task }),
	StringField(5, func(p *TaskFinished) *string { return &p.Status }),
	StringField(6, func(p *TaskFinished) *string { return &p.Response }),
	Int64Field(7, func(p *TaskFinished) *int64 { return &p.StartedAt }),
	Int64Field(8, func(p *TaskFinished) *int64 { return &p.FinishedAt }),
)

var jobFinishedCodec = NewCodec(
	Uint64Field(1, func(p *JobFinished) *uint64 { return &p.JobID }),
	StringField(2, func(p *JobFinished) *string { return &p.ScheduleID }),
	StringField(3, func(p *JobFinished) *string { return &p.AppID }),
	StringField(4, func(p *JobFinished) *string { return &p.Status }),
)

var jobCancelledCodec = NewCodec(
	Uint64Field(1, func(p *JobCancelled) *uint64 { return &p.JobID }),
	StringField(2, func(p *JobCancelled) *string { return &p.ScheduleID }),
	StringField(3, func(p *JobCancelled) *string { return &p.AppID }),
)
