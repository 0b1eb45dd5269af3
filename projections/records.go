// Package projections holds Chronicle's read models: the current state of
// apps, schedules, cron runs and pending runs, built only by applying
// events from the log. Apply is deterministic: it reads the event and the
// current projection, never a clock or a random source, so rebuilding from
// the log reproduces the live projections byte for byte.
//
// Apply also enforces the invariants that must hold whichever node
// proposed an event (an app must be active to take a schedule, a run fires
// only while pending, ...). A rejected event is returned as an error value
// and writes nothing; the caller then leaves it out of the log.
package projections

import "github.com/chronicle-sched/chronicle/eventlog/event"

// App is a registered client application.
type App struct {
	AppID      string `json:"appId"`
	Partitions int    `json:"partitions"`
	Active     bool   `json:"active"`
	CreatedAt  int64  `json:"createdAt"` // unix ms
	// SigningSecret signs the app's callbacks; PreviousSecret too, until
	// PreviousUntil (unix ms), after a rotation.
	SigningSecret  string `json:"signingSecret,omitempty"`
	PreviousSecret string `json:"previousSecret,omitempty"`
	PreviousUntil  int64  `json:"previousUntil,omitempty"`
}

// Token is an API token as the projection keeps it: never its secret,
// only the secret's hash.
type Token struct {
	TokenID   string   `json:"tokenId"`
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	Apps      []string `json:"apps,omitempty"`
	Hash      string   `json:"hash"`
	IssuedAt  int64    `json:"issuedAt"` // unix ms
	IssuedBy  string   `json:"issuedBy,omitempty"`
	RevokedAt int64    `json:"revokedAt,omitempty"`
	RevokedBy string   `json:"revokedBy,omitempty"`
}

// SigningSecrets are the secrets an app's callbacks are signed with at
// unix ms now: the current one, and the previous one in its grace period.
func (a App) SigningSecrets(nowMs int64) []string {
	var out []string
	if a.SigningSecret != "" {
		out = append(out, a.SigningSecret)
	}
	if a.PreviousSecret != "" && nowMs < a.PreviousUntil {
		out = append(out, a.PreviousSecret)
	}
	return out
}

// Schedule is a one-time or cron schedule. For a cron run looked up by its
// run id, ParentID names the cron and the run's fields are filled in.
type Schedule struct {
	ScheduleID     string             `json:"scheduleId"`
	ParentID       string             `json:"parentId,omitempty"`
	AppID          string             `json:"appId"`
	Partition      int                `json:"partition"`
	Payload        string             `json:"payload"`
	ScheduleTime   int64              `json:"scheduleTime,omitempty"`
	ScheduleTimeMs int64              `json:"scheduleTimeMs,omitempty"` // sub-second due time, if given
	CronExpression string             `json:"cronExpression,omitempty"`
	TimeZone       string             `json:"timeZone,omitempty"`
	NextRunTime    int64              `json:"nextRunTime,omitempty"`
	Callback       event.Callback     `json:"callback"`
	Retry          *event.RetryPolicy `json:"retry,omitempty"`
	Status         string             `json:"status"`
	ErrorMessage   string             `json:"errorMessage,omitempty"`
	HTTPStatus     int                `json:"httpStatus,omitempty"`
	Attempts       int                `json:"attempts,omitempty"`
	FiredAt        int64              `json:"firedAt,omitempty"`     // unix ms
	CompletedAt    int64              `json:"completedAt,omitempty"` // unix ms
	Reconciles     int                `json:"reconciles,omitempty"`
	CreatedAt      int64              `json:"createdAt"` // unix ms
	CreatedSeq     uint64             `json:"createdSeq"`
	// ClosedAt (unix ms) is set while the schedule is closed: a finished
	// one-time schedule or a deleted one, with no run pending. Retention
	// removes closed schedules whose ClosedAt is older than its cutoff.
	ClosedAt int64 `json:"closedAt,omitempty"`
	// Name, EndTime, StopOnCallback and Labels, as created or updated.
	event.Definition
	UpdatedAt int64 `json:"updatedAt,omitempty"` // unix ms of the last update, pause or resume
	Triggers  int   `json:"triggers,omitempty"`  // runs triggered so far (the next is TriggerRunID(id, Triggers+1))
	// Runs counts the runs fired so far, when the schedule is Counted: the
	// latest run's counter.
	Runs int `json:"runs,omitempty"`
	// Counter is a run's number (RunAsSchedule; 0 in a schedule's record).
	Counter int `json:"counter,omitempty"`
	// Jobs is a workflow schedule's queue of jobs (nil for the others).
	Queue *JobQueue `json:"queue,omitempty"`
}

// IsCommand reports whether s runs commands rather than calling a URL.
func (s Schedule) IsCommand() bool { return s.Callback.Type == event.CallbackCommand }

// Active reports whether s may still fire: scheduled or paused, not
// finished, closed or deleted.
func (s Schedule) Active() bool {
	return s.Status == event.StatusScheduled || s.Status == event.StatusPaused
}

// DueMs is when a one-time schedule falls due, in unix milliseconds.
func (s Schedule) DueMs() int64 {
	if s.ScheduleTimeMs != 0 {
		return s.ScheduleTimeMs
	}
	return s.ScheduleTime * 1000
}

// IsCron reports whether s is a cron schedule (not a run of one).
func (s Schedule) IsCron() bool { return s.CronExpression != "" && s.ParentID == "" }

// Run is one occurrence of a cron schedule that has fired or been missed.
type Run struct {
	RunID         string `json:"runId"`
	ScheduleID    string `json:"scheduleId"`
	AppID         string `json:"appId"`
	Partition     int    `json:"partition"`
	ScheduledTime int64  `json:"scheduledTime"`
	Status        string `json:"status"`
	ErrorMessage  string `json:"errorMessage,omitempty"`
	HTTPStatus    int    `json:"httpStatus,omitempty"`
	Attempts      int    `json:"attempts,omitempty"`
	FiredAt       int64  `json:"firedAt,omitempty"`
	CompletedAt   int64  `json:"completedAt,omitempty"`
	Reconciles    int    `json:"reconciles,omitempty"`
	// Triggered: a run asked for through RunTriggered, outside the cron's
	// occurrences (its record's key carries its run id too, since an
	// occurrence may share its second).
	Triggered bool `json:"triggered,omitempty"`
	// Counter numbers the run among its schedule's fired runs (1, 2, ...),
	// when the schedule is Counted; 0 for a run that never fired.
	Counter int `json:"counter,omitempty"`
}

// Run kinds of a PendingRun.
const (
	KindOnce      = "once"      // the single run of a one-time schedule
	KindCron      = "cron"      // an occurrence of a cron schedule
	KindReconcile = "reconcile" // a re-run requested by a bulk reconcile
	KindTrigger   = "trigger"   // a run of a cron triggered outside its occurrences
	// KindExpiry is not a run: a cron's end time waits in the due index as
	// one, so the leader's timer closes the cron at that second.
	KindExpiry = "expiry"
)

// PendingRun is a run that is due (not fired yet) or in flight (fired, no
// outcome recorded yet). Timer actors load these for their partition.
type PendingRun struct {
	RunID         string `json:"runId"`
	ScheduleID    string `json:"scheduleId"`
	AppID         string `json:"appId"`
	Partition     int    `json:"partition"`
	ScheduledTime int64  `json:"scheduledTime"` // unix s of the occurrence
	DueMs         int64  `json:"dueMs"`         // when to fire, unix ms
	Kind          string `json:"kind"`
	Fired         bool   `json:"fired,omitempty"`
	FiredAt       int64  `json:"firedAt,omitempty"` // unix ms of the latest RunFired
	// Taken from its schedule when it became pending, for the fire path:
	// Exclusive, it waits while another run of its schedule is in flight
	// (overlap buffer_one); NoRefire, if its leader stops while it runs it
	// is recorded FAILURE, never run again (a command: it may have done
	// half its work).
	Exclusive bool `json:"exclusive,omitempty"`
	NoRefire  bool `json:"noRefire,omitempty"`
}

// Node is a cluster member as it announced itself.
type Node struct {
	NodeID      string `json:"nodeId"`
	HTTPAddr    string `json:"httpAddr"`
	RaftAddr    string `json:"raftAddr"`
	AnnouncedAt int64  `json:"announcedAt"` // unix ms
	// Schema is the newest event schema version the node reads (0: an
	// older build's announcement, which reads version 1 only).
	Schema int `json:"schema,omitempty"`
	// Types is the newest event type the node reads (0: a build before
	// types were announced, which reads up to EventsCompacted).
	Types int `json:"types,omitempty"`
}
