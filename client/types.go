package client

import (
	"encoding/json"
	"time"
)

// The API's JSON, as structs. Field names, order and omitempty follow the
// server's own encoding (http/goscheduler, http/server, cluster), so a
// value decoded here and encoded again is the server's JSON: the CLI's
// `-o json` relies on it. Where the server encodes a map (its keys come out
// sorted), the struct lists the fields in that order. Unknown fields are
// ignored, so a newer server's additions do not break an older client.

// App is an app as the API shows it.
type App struct {
	AppID      string `json:"appId"`
	Partitions int    `json:"partitions"`
	Active     bool   `json:"active"`
}

// RegisterAppRequest is POST /goscheduler/apps.
type RegisterAppRequest struct {
	AppID string `json:"appId"`
	// Partitions 0 takes the server's --default-partitions.
	Partitions int `json:"partitions"`
	// Active nil means active.
	Active *bool `json:"active,omitempty"`
}

// AppList is GET /goscheduler/apps's data.
type AppList struct {
	Apps []App `json:"apps"`
}

// AppActivation is what activate and deactivate answer. "Active" is
// capitalised as GoScheduler's document shows it.
type AppActivation struct {
	AppID  string `json:"appId"`
	Active bool   `json:"Active"`
}

// CallbackDetails is where and how a run is delivered.
type CallbackDetails struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers,omitempty"`
	// FollowRedirects: at most 5 hops, each checked by the SSRF guard.
	FollowRedirects bool `json:"followRedirects,omitempty"`
	// SecretHeaders names headers shown as *** by every read (beside
	// Authorization, Proxy-Authorization, Cookie and X-Api-Key).
	SecretHeaders []string `json:"secretHeaders,omitempty"`
	// NumberParam names a query parameter that carries the schedule's
	// number on every call.
	NumberParam string `json:"numberParam,omitempty"`
	// The request's shape for receivers written for another scheduler
	// (karajo's): TimeParam carries the attempt's unix time, placed as
	// Params says (query, form or json); Signature adds a hex HMAC-SHA256
	// header of the parameters; SuccessStatus is the one status that
	// counts; InsecureTLS skips the certificate check.
	TimeParam     string         `json:"timeParam,omitempty"`
	Params        string         `json:"params,omitempty"`
	Signature     *HMACSignature `json:"signature,omitempty"`
	SuccessStatus int            `json:"successStatus,omitempty"`
	InsecureTLS   bool           `json:"insecureTls,omitempty"`
	// Command is what a command callback (a karajo job, defined by the
	// server's configuration) runs; shown, never sent.
	Command *Command `json:"command,omitempty"`
	// Tasks and Notifications are a workflow callback's (Type
	// "workflow"): its jobs run the tasks in phases.
	Tasks         []WorkflowTask         `json:"tasks,omitempty"`
	Notifications []WorkflowNotification `json:"notifications,omitempty"`
}

// WorkflowTask is one call of a workflow's jobs: to URL (or Component's
// Action, through the server's --keboola-component-url), POSTing Parameters.
// Consecutive tasks of one Phase run together; "" is a phase of its own.
type WorkflowTask struct {
	ID                int             `json:"id,omitempty"` // given by the server when 0
	URL               string          `json:"url,omitempty"`
	Component         string          `json:"component,omitempty"`
	Action            string          `json:"action,omitempty"`
	Parameters        json.RawMessage `json:"parameters,omitempty"`
	Phase             string          `json:"phase,omitempty"`
	Active            *bool           `json:"active,omitempty"` // nil: true
	ContinueOnFailure bool            `json:"continueOnFailure,omitempty"`
	TimeoutSeconds    int             `json:"timeoutSeconds,omitempty"`
}

// WorkflowNotification is who a workflow's jobs tell on Channel (error,
// warning, waiting, processing): by email, and by a signed webhook to URL.
type WorkflowNotification struct {
	Channel    string          `json:"channel"`
	Email      string          `json:"email,omitempty"`
	URL        string          `json:"url,omitempty"`
	Parameters json.RawMessage `json:"parameters,omitempty"` // waiting: timeout (minutes); processing: tolerance (%)
}

// Job is a workflow job: waiting, processing, then success, warning or
// error (or cancelled while it waited), with each task's outcome.
type Job struct {
	ID            uint64    `json:"id"`
	ScheduleID    string    `json:"scheduleId"`
	AppID         string    `json:"appId"`
	Status        string    `json:"status"`
	CreatedAt     string    `json:"createdAt"`
	StartedAt     string    `json:"startedAt,omitempty"`
	EndedAt       string    `json:"endedAt,omitempty"`
	InitializedBy string    `json:"initializedBy"`
	Initiator     string    `json:"initiator,omitempty"`
	Tasks         []JobTask `json:"tasks"`
}

// JobTask is a task of a job and what became of it.
type JobTask struct {
	WorkflowTask
	Status     string          `json:"status"`
	TaskRunID  string          `json:"taskRunId,omitempty"`
	Attempts   int             `json:"attempts,omitempty"`
	StartedAt  string          `json:"startedAt,omitempty"`
	FinishedAt string          `json:"finishedAt,omitempty"`
	Response   json.RawMessage `json:"response,omitempty"`
}

// JobList is a page of a workflow's jobs, newest first; Total counts them
// all.
type JobList struct {
	ScheduleID string `json:"scheduleId"`
	Jobs       []Job  `json:"jobs"`
	Total      int    `json:"-"`
}

// RunJobRequest asks for a job now; Tasks change, for it only, whether a
// task (by id) runs.
type RunJobRequest struct {
	Tasks        []TaskActive `json:"tasks,omitempty"`
	NotifyEmails []string     `json:"notifyEmails,omitempty"`
}

// TaskActive is a job's change of one task's active.
type TaskActive struct {
	ID     int  `json:"id"`
	Active bool `json:"active"`
}

// HMACSignature is a callback's own signature header and secret (the
// secret reads back as ***).
type HMACSignature struct {
	Header string `json:"header"`
	Secret string `json:"secret"`
}

// Command is a command callback's commands, run in Dir under the leader's
// data directory.
type Command struct {
	Lines      []string `json:"lines"`
	Dir        string   `json:"dir"`
	CounterEnv string   `json:"counterEnv,omitempty"`
}

// Callback is a schedule's callback; Type is "http" (or "command", for a
// job of the server's configuration).
type Callback struct {
	Type    string          `json:"type"`
	Details CallbackDetails `json:"details"`
}

// RetryPolicy overrides the server's retry policy for one schedule; zero
// fields keep the server's.
type RetryPolicy struct {
	MaxAttempts      int   `json:"maxAttempts,omitempty"`
	TimeoutMs        int64 `json:"timeoutMs,omitempty"`
	InitialBackoffMs int64 `json:"initialBackoffMs,omitempty"`
	MaxBackoffMs     int64 `json:"maxBackoffMs,omitempty"`
	RetryOn4xx       *bool `json:"retryOn4xx,omitempty"`
}

// Schedule is a schedule, a cron or a cron's run, as the API shows it.
type Schedule struct {
	ScheduleID string `json:"scheduleId"`
	// ParentScheduleID is the cron of a cron run.
	ParentScheduleID string `json:"parentScheduleId,omitempty"`
	Payload          string `json:"payload"`
	AppID            string `json:"appId"`
	// ScheduleTime is the due time in epoch seconds (one-time schedules
	// and runs); ScheduleTimeMs in milliseconds when it was given so.
	ScheduleTime   int64        `json:"scheduleTime,omitempty"`
	ScheduleTimeMs int64        `json:"scheduleTimeMs,omitempty"`
	PartitionID    int          `json:"partitionId"`
	ScheduleGroup  int64        `json:"scheduleGroup,omitempty"`
	Callback       Callback     `json:"callback"`
	CronExpression string       `json:"cronExpression,omitempty"`
	TimeZone       string       `json:"timeZone,omitempty"`
	NextRunTime    int64        `json:"nextRunTime,omitempty"` // a cron's next occurrence, epoch seconds
	Retry          *RetryPolicy `json:"retry,omitempty"`
	// Status is SCHEDULED, SUCCESS, FAILURE, MISS, DELETED, PAUSED,
	// EXPIRED or STOPPED.
	Status       string `json:"status"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	HTTPStatus   int    `json:"httpStatus,omitempty"`
	Attempts     int    `json:"attempts,omitempty"`
	// Number is a short id unique in the cluster (not for cron runs).
	Number         uint64            `json:"number,omitempty"`
	Name           string            `json:"name,omitempty"`
	EndTime        int64             `json:"endTime,omitempty"`
	StopOnCallback bool              `json:"stopOnCallback,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	UpdatedAt      int64             `json:"updatedAt,omitempty"` // epoch ms
	JobOptions
	// Runs is how many runs a counted schedule fired; Counter, a run's
	// number among them.
	Runs    int `json:"runs,omitempty"`
	Counter int `json:"counter,omitempty"`
}

// JobOptions are a schedule's job-like options: Counted numbers its runs;
// Overlap "buffer_one" runs one at a time; KeepOutputs is how many command
// outputs are kept; NotifyOnSuccess and NotifyOnFailure name the server's
// notification targets.
type JobOptions struct {
	Counted         bool     `json:"counted,omitempty"`
	Overlap         string   `json:"overlap,omitempty"`
	KeepOutputs     int      `json:"keepOutputs,omitempty"`
	NotifyOnSuccess []string `json:"notifyOnSuccess,omitempty"`
	NotifyOnFailure []string `json:"notifyOnFailure,omitempty"`
}

// IsCron reports whether s is a cron definition (not one of its runs).
func (s Schedule) IsCron() bool { return s.CronExpression != "" }

// DueTime is when s runs (or ran): a one-time schedule's or run's time, a
// cron's next occurrence; zero if it has none.
func (s Schedule) DueTime() time.Time {
	switch {
	case s.ScheduleTimeMs != 0:
		return time.UnixMilli(s.ScheduleTimeMs).UTC()
	case s.ScheduleTime != 0:
		return time.Unix(s.ScheduleTime, 0).UTC()
	case s.NextRunTime != 0:
		return time.Unix(s.NextRunTime, 0).UTC()
	}
	return time.Time{}
}

// CreateScheduleRequest is POST /goscheduler/schedules: a one-time
// schedule (ScheduleTime or ScheduleTimeMs) or a cron (CronExpression).
type CreateScheduleRequest struct {
	AppID          string            `json:"appId"`
	Payload        string            `json:"payload"`
	ScheduleTime   *int64            `json:"scheduleTime,omitempty"`   // epoch seconds, not in the past
	ScheduleTimeMs *int64            `json:"scheduleTimeMs,omitempty"` // epoch milliseconds
	CronExpression string            `json:"cronExpression,omitempty"`
	TimeZone       string            `json:"timeZone,omitempty"` // IANA zone of the expression (default UTC)
	Callback       *Callback         `json:"callback,omitempty"`
	Retry          *RetryPolicy      `json:"retry,omitempty"`
	Name           string            `json:"name,omitempty"`
	EndTime        *int64            `json:"endTime,omitempty"` // a cron's end, epoch seconds
	StopOnCallback bool              `json:"stopOnCallback,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Paused         bool              `json:"paused,omitempty"`
	JobOptions
}

// UpdateScheduleRequest is PATCH /goscheduler/schedules/{id}: the fields
// to change; nil keeps the schedule's value. A callback is replaced whole.
type UpdateScheduleRequest struct {
	Payload         *string            `json:"payload,omitempty"`
	ScheduleTime    *int64             `json:"scheduleTime,omitempty"`
	ScheduleTimeMs  *int64             `json:"scheduleTimeMs,omitempty"`
	CronExpression  *string            `json:"cronExpression,omitempty"`
	TimeZone        *string            `json:"timeZone,omitempty"`
	Callback        *Callback          `json:"callback,omitempty"`
	Retry           *RetryPolicy       `json:"retry,omitempty"`
	Name            *string            `json:"name,omitempty"`
	EndTime         *int64             `json:"endTime,omitempty"` // 0 removes the end time
	StopOnCallback  *bool              `json:"stopOnCallback,omitempty"`
	Labels          *map[string]string `json:"labels,omitempty"`
	Counted         *bool              `json:"counted,omitempty"`
	Overlap         *string            `json:"overlap,omitempty"`
	KeepOutputs     *int               `json:"keepOutputs,omitempty"`
	NotifyOnSuccess *[]string          `json:"notifyOnSuccess,omitempty"`
	NotifyOnFailure *[]string          `json:"notifyOnFailure,omitempty"`
}

// CancelResult is what a cancel answers: the runs cut short.
type CancelResult struct {
	ScheduleID string   `json:"scheduleId"`
	RunIDs     []string `json:"runIds"`
}

// RunOutput is what a command run wrote (Cut: only its start was kept).
type RunOutput struct {
	RunID  string `json:"runId"`
	Output string `json:"output"`
	Cut    bool   `json:"cut"`
}

// SchedulePage is a page of schedules: an app's schedules or a
// schedule's runs. ContinuationToken is empty on the last page;
// ContinuationStartTime (an app's schedules only) is the last item's time.
type SchedulePage struct {
	ContinuationStartTime int64      `json:"continuationStartTime,omitempty"`
	ContinuationToken     string     `json:"continuationToken"`
	Schedules             []Schedule `json:"schedules"`
}

// TriggerResult is what a trigger answers: the run it fired.
type TriggerResult struct {
	RunID      string `json:"runId"`
	ScheduleID string `json:"scheduleId"`
}

// Event is one event of the log, as the histories show it.
type Event struct {
	Seq           uint64          `json:"seq"`
	Type          string          `json:"type"`
	TypeCode      uint16          `json:"typeCode"`
	Time          string          `json:"time"` // RFC 3339, UTC, the proposer's clock
	Node          string          `json:"node"`
	Term          uint64          `json:"term"`
	Index         uint64          `json:"index"`
	SchemaVersion int             `json:"schemaVersion"`
	Actor         string          `json:"actor,omitempty"` // who caused it: a token id, admin, anonymous, system
	Data          json.RawMessage `json:"data"`
}

// EventPage is a page of a schedule's or an app's history, oldest first.
// Pass Next as After for the following page while More is true.
type EventPage struct {
	AppID      string  `json:"appId,omitempty"`
	Events     []Event `json:"events"`
	More       bool    `json:"more"`
	Next       uint64  `json:"next"`
	ScheduleID string  `json:"scheduleId,omitempty"`
}

// Build is a node's build.
type Build struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// Member is a member of the cluster, as one node sees it.
type Member struct {
	ID          string `json:"id"`
	RaftAddress string `json:"raftAddress"`
	HTTPAddress string `json:"httpAddress,omitempty"`
	Voter       bool   `json:"voter"`
	Leader      bool   `json:"leader"`
	// Reachable: the member's API answered this node's probe.
	Reachable   *bool      `json:"reachable,omitempty"`
	LastContact *time.Time `json:"lastContact,omitempty"`
	// EventSchema is the newest event schema the member reads (0: not
	// announced).
	EventSchema int `json:"eventSchema,omitempty"`
}

// ClusterStatus is GET /cluster: the answering node's view.
type ClusterStatus struct {
	NodeID        string   `json:"nodeId"`
	Build         Build    `json:"build"`
	LeaderID      string   `json:"leaderId"`
	LeaderAddress string   `json:"leaderAddress"`
	State         string   `json:"state"` // Leader, Follower, Candidate
	Term          uint64   `json:"term"`
	AppliedIndex  uint64   `json:"appliedIndex"`
	Members       []Member `json:"members"`
}

// AddMemberRequest is POST /cluster/members.
type AddMemberRequest struct {
	ID          string `json:"id"`
	RaftAddress string `json:"raftAddress"` // host:port
	// Voter nil means a voter.
	Voter *bool `json:"voter,omitempty"`
	// Force does what Raft would do even if it risks the quorum.
	Force bool `json:"force,omitempty"`
}

// CreateTokenRequest is POST /auth/tokens.
type CreateTokenRequest struct {
	Name string   `json:"name"`
	Role string   `json:"role"`           // admin, writer or reader
	Apps []string `json:"apps,omitempty"` // empty: every app
}

// IssuedToken is a new token: Token is its secret, shown this once.
type IssuedToken struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

// Token is an issued token as lists show it (never its secret).
type Token struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	Apps      []string `json:"apps,omitempty"`
	IssuedAt  string   `json:"issuedAt"` // RFC 3339
	IssuedBy  string   `json:"issuedBy,omitempty"`
	RevokedAt string   `json:"revokedAt,omitempty"`
	RevokedBy string   `json:"revokedBy,omitempty"`
}

// TokenList is GET /auth/tokens.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}
