package event

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"strings"
)

// Statuses of schedules and runs, as the GoScheduler API spells them.
const (
	StatusScheduled = "SCHEDULED"
	StatusSuccess   = "SUCCESS"
	StatusFailure   = "FAILURE"
	StatusMiss      = "MISS"
	StatusDeleted   = "DELETED"
	// StatusExpired: a cron schedule whose expression has no occurrence
	// after its last one, or whose end time came (ScheduleClosed, reason
	// exhausted or expired).
	StatusExpired = "EXPIRED"
	// StatusPaused: a schedule paused by SchedulePaused: nothing of it
	// fires until it is resumed.
	StatusPaused = "PAUSED"
	// StatusStopped: a cron schedule its receiver stopped through the
	// response contract (ScheduleStoppedByCallback).
	StatusStopped = "STOPPED"
	// StatusCanceled: a run canceled while it ran (its command killed,
	// its call cut short): an outcome, like SUCCESS and FAILURE.
	StatusCanceled = "CANCELED"
)

// Callback types.
const (
	CallbackHTTP    = "http"
	CallbackCommand = "command"
)

// Overlap policies of a schedule (Definition.Overlap).
const (
	// OverlapAllow (the default, ""): each run fires when due, whatever
	// the previous one is doing.
	OverlapAllow = ""
	// OverlapBufferOne: one run of the schedule at a time. A run that
	// comes due while another is in flight waits until it ends; one more
	// coming due meanwhile is skipped (MISS), and a trigger is refused:
	// karajo's jobs (one running, one queued).
	OverlapBufferOne = "buffer_one"
)

// Reasons a schedule is closed (ScheduleClosed.Reason).
const (
	// ReasonExhausted: the cron expression has no occurrence after the
	// last one that fired or was missed (shown EXPIRED).
	ReasonExhausted = "exhausted"
	// ReasonUnevaluable: this build cannot evaluate the stored cron
	// expression (shown FAILURE, with the message).
	ReasonUnevaluable = "unevaluable"
	// ReasonExpired: the cron's end time came (shown EXPIRED). Proposed at
	// the end time itself, by the leader's timer.
	ReasonExpired = "expired"
)

// Bulk actions.
const (
	ActionReconcile = "reconcile"
	ActionDelete    = "delete"
)

// AppRegistered: a client application was registered. SigningSecret
// (whsec_ and base64, made by the proposer) signs its callbacks; it is
// masked wherever the event is shown.
type AppRegistered struct {
	AppID         string `json:"appId"`
	Partitions    int    `json:"partitions"`
	Active        bool   `json:"active"`
	SigningSecret string `json:"signingSecret,omitempty"`
}

// SecretRotated: an app's callbacks are signed with a new secret from now
// on, and also with the one before until PreviousUntil (unix ms), so that
// receivers can switch over; Secret is masked wherever the event is shown.
type SecretRotated struct {
	AppID         string `json:"appId"`
	Secret        string `json:"secret"`
	PreviousUntil int64  `json:"previousUntil,omitempty"`
}

// Roles of API tokens.
const (
	RoleAdmin  = "admin"  // everything, tokens and membership included
	RoleWriter = "writer" // reads and changes schedules and apps
	RoleReader = "reader" // reads only
)

// TokenIssued: an admin issued an API token. Only the SHA-256 of its
// secret is recorded; Apps, if any, are the only apps it may see and
// change.
type TokenIssued struct {
	TokenID string   `json:"tokenId"`
	Name    string   `json:"name"`
	Role    string   `json:"role"`
	Apps    []string `json:"apps,omitempty"`
	Hash    string   `json:"hash"` // hex SHA-256 of the secret
}

// TokenRevoked: a token no longer opens anything, on every node.
type TokenRevoked struct {
	TokenID string `json:"tokenId"`
}

// maskSecret stands in for a signing secret wherever an event is shown.
func maskSecret(s string) string {
	if s == "" {
		return ""
	}
	return Masked
}

// AppActivated: firing and creates resume for the app.
type AppActivated struct {
	AppID string `json:"appId"`
}

// AppDeactivated: the app takes no creates and nothing of it fires.
type AppDeactivated struct {
	AppID string `json:"appId"`
}

// Callback is what to call when a run is due: an HTTP request (Type
// "http"), or commands run on the leader (Type "command", only from the
// server's own configuration: the APIs refuse to define one).
type Callback struct {
	Type    string            `json:"type"`
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers,omitempty"`
	// FollowRedirects lets the call follow redirects (each hop checked
	// like the first); without it a 3xx answer is the outcome.
	FollowRedirects bool `json:"followRedirects,omitempty"`
	// SecretHeaders names headers whose values are masked wherever the
	// callback is shown, beside SensitiveHeaders.
	SecretHeaders []string `json:"secretHeaders,omitempty"`
	// NumberParam, if set, names a query parameter added to the URL at
	// fire time, after the URL's own, carrying the schedule's number (the
	// seq of its ScheduleCreated): how a receiver of several schedules on
	// one URL tells them apart (CronHubot's __cronId).
	NumberParam string `json:"numberParam,omitempty"`

	// The request's shape, for receivers written for another scheduler
	// (karajo's HTTP jobs); a leader proposes any of these once every
	// member reads JobsSince (see Shaped).

	// Shape is the request's shape (nil: a plain call). A pointer, so that
	// the many callbacks without one keep schedules' records small.
	Shape *RequestShape `json:"shape,omitempty"`

	// Command is what a "command" callback runs.
	Command *Command `json:"command,omitempty"`
	// Workflow is what a "workflow" callback runs (see workflow.go).
	Workflow *Workflow `json:"workflow,omitempty"`
}

// RequestShape is how a call is made for a receiver written for another
// scheduler (karajo's HTTP jobs).
type RequestShape struct {
	// TimeParam, if set, names a parameter carrying the call's time (unix
	// seconds, when the attempt is sent), placed as Params says: karajo's
	// _karajo_epoch, which its receivers check for freshness.
	TimeParam string `json:"timeParam,omitempty"`
	// Params is where the call's parameters (TimeParam) go: "query"
	// (default: added to the URL's query), "form" (the body, form-encoded)
	// or "json" (the body, a JSON object). A form or json call has no
	// payload: its parameters are its body.
	Params string `json:"params,omitempty"`
	// Signature, if set, signs each call with a hex HMAC-SHA256 of the
	// exact bytes of its parameters (the body, or the query it adds),
	// keyed by the schedule's own secret: karajo's X-Karajo-Sign. It is
	// beside the app's Standard Webhooks signature, not instead of it.
	Signature *HMACSignature `json:"signature,omitempty"`
	// SuccessStatus, if set, is the one status that counts as success
	// (karajo's 200); otherwise any 2xx does.
	SuccessStatus int `json:"successStatus,omitempty"`
	// InsecureTLS: an https callback's certificate is not verified
	// (karajo's http_insecure). Every address it connects to is still
	// checked by the guard.
	InsecureTLS bool `json:"insecureTls,omitempty"`
}

// Shaping returns c's request shape (zero for a plain call).
func (c Callback) Shaping() RequestShape {
	if c.Shape == nil {
		return RequestShape{}
	}
	return *c.Shape
}

// Ref is s as a Callback holds it: nil when it sets nothing.
func (s RequestShape) Ref() *RequestShape {
	if s == (RequestShape{}) {
		return nil
	}
	return &s
}

// Command is a run's commands (karajo's command jobs): each line is run in
// turn with /bin/sh -c, in Dir under the leader's data directory, with
// only a fixed PATH and CounterEnv (the run's counter) in the
// environment; the first that exits non-zero fails the run.
type Command struct {
	Lines      []string `json:"lines"`
	Dir        string   `json:"dir"`                  // relative to the data directory
	CounterEnv string   `json:"counterEnv,omitempty"` // e.g. KARAJO_JOB_COUNTER
}

// Local reports whether the callback calls this cluster's own API: its URL
// is a path ("/karajo/api/..."), called on the firing node's listener (a
// karajo http_url starting with "/"). A leader proposes one once every
// member reads JobsSince.
func (c Callback) Local() bool { return strings.HasPrefix(c.URL, "/") }

// Places of a callback's parameters (Callback.Params).
const (
	ParamsQuery = "query"
	ParamsForm  = "form"
	ParamsJSON  = "json"
)

// HMACSignature signs a callback: Header carries the hex HMAC-SHA256 of
// what the call sends, keyed by Secret (masked wherever it is shown).
type HMACSignature struct {
	Header string `json:"header"`
	Secret string `json:"secret"`
}

// Shaped reports whether the callback uses a request-shape field (see
// JobsSince).
func (c Callback) Shaped() bool {
	return c.Command != nil || c.Type == CallbackCommand || c.Local() || c.Shape != nil
}

// SensitiveHeaders are masked wherever a callback is shown (read APIs,
// the event stream, audit): they carry credentials. The values stay in the
// replicated state, so delivery and replay work.
var SensitiveHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key"}

// Masked stands in for a secret header's value.
const Masked = "***"

// Shown returns the callback as it may be shown: the values of sensitive
// headers and of those it names secret masked (names compared without
// regard to case).
func (c Callback) Shown() Callback {
	if c.Shape != nil && c.Shape.Signature != nil {
		shape := *c.Shape
		shape.Signature = &HMACSignature{Header: shape.Signature.Header, Secret: maskSecret(shape.Signature.Secret)}
		c.Shape = &shape
	}
	if len(c.Headers) == 0 {
		return c
	}
	secret := func(name string) bool {
		for _, list := range [][]string{SensitiveHeaders, c.SecretHeaders} {
			for _, s := range list {
				if strings.EqualFold(s, name) {
					return true
				}
			}
		}
		return false
	}
	shown := make(map[string]string, len(c.Headers))
	for k, v := range c.Headers {
		if secret(k) {
			v = Masked
		}
		shown[k] = v
	}
	c.Headers = shown
	return c
}

// RetryPolicy holds a schedule's overrides of the server's delivery policy;
// a zero field means "use the server default".
type RetryPolicy struct {
	MaxAttempts      int   `json:"maxAttempts,omitempty"`
	TimeoutMs        int64 `json:"timeoutMs,omitempty"`
	InitialBackoffMs int64 `json:"initialBackoffMs,omitempty"`
	MaxBackoffMs     int64 `json:"maxBackoffMs,omitempty"`
	RetryOn4xx       *bool `json:"retryOn4xx,omitempty"`
}

// ScheduleCreated: a one-time schedule (ScheduleTime set) or a cron schedule
// (CronExpression set) was created. For a cron, NextRunTime is its first
// occurrence, computed by the proposer; apply never evaluates cron itself.
type ScheduleCreated struct {
	ScheduleID   string `json:"scheduleId"`
	AppID        string `json:"appId"`
	Partition    int    `json:"partition"`
	Payload      string `json:"payload"`
	ScheduleTime int64  `json:"scheduleTime,omitempty"`
	// ScheduleTimeMs, if set, is a one-time schedule's due time in unix
	// milliseconds; ScheduleTime is then its second (rounded down).
	ScheduleTimeMs int64        `json:"scheduleTimeMs,omitempty"`
	CronExpression string       `json:"cronExpression,omitempty"`
	TimeZone       string       `json:"timeZone,omitempty"`
	NextRunTime    int64        `json:"nextRunTime,omitempty"`
	Callback       Callback     `json:"callback"`
	Retry          *RetryPolicy `json:"retry,omitempty"`
	Definition
	// Paused: the schedule is created paused (it fires once resumed; a
	// paused cron has no next run until then). Proposed only once every
	// member reads the lifecycle's events, as the Definition.
	Paused bool `json:"paused,omitempty"`
}

// Definition holds the parts of a schedule's definition added with its
// lifecycle (update, pause, expiry, stop-by-callback); ScheduleCreated
// and ScheduleUpdated carry them. A leader proposes an event holding any
// of them only once every member reads ScheduleUpdated's type, since an
// older build would skip them and build other read models.
type Definition struct {
	// Name, if set, is unique among the app's schedules not deleted.
	Name string `json:"name,omitempty"`
	// EndTime (unix s), for a cron: it fires no occurrence after it and
	// is closed (EXPIRED) at that second.
	EndTime int64 `json:"endTime,omitempty"`
	// StopOnCallback, for a cron: an answer whose JSON body has "code":
	// 400 stops it for good (ScheduleStoppedByCallback).
	StopOnCallback bool `json:"stopOnCallback,omitempty"`
	// Labels are the user's key-value notes on the schedule.
	Labels map[string]string `json:"labels,omitempty"`
	// Job holds the options of a job-like schedule (nil: none of them).
	// It is a pointer so that the many schedules without them stay small
	// (a schedule's record is decoded, cached and copied on every fire).
	Job *JobOptions `json:"job,omitempty"`
}

// JobOptions are a schedule's job-like options (karajo's jobs have them);
// a leader proposes them once every member reads JobsSince.
type JobOptions struct {
	// Counted: the schedule's runs are numbered 1, 2, ... as they fire
	// (karajo's job counter).
	Counted bool `json:"counted,omitempty"`
	// Overlap is its overlap policy (Overlap*).
	Overlap string `json:"overlap,omitempty"`
	// KeepOutputs is how many of its newest runs keep their output
	// (RunOutput; karajo's log_retention; 0: 5).
	KeepOutputs int `json:"keepOutputs,omitempty"`
	// NotifyOnSuccess and NotifyOnFailure name the server's notification
	// targets (karajo's [notif]) told of a run that succeeded, or failed
	// (FAILURE, CANCELED).
	NotifyOnSuccess []string `json:"notifyOnSuccess,omitempty"`
	NotifyOnFailure []string `json:"notifyOnFailure,omitempty"`
}

// Zero reports whether o sets nothing.
func (o JobOptions) Zero() bool {
	return !o.Counted && o.Overlap == "" && o.KeepOutputs == 0 && len(o.NotifyOnSuccess) == 0 && len(o.NotifyOnFailure) == 0
}

// Ref is o as a Definition holds it: nil when it sets nothing.
func (o JobOptions) Ref() *JobOptions {
	if o.Zero() {
		return nil
	}
	return &o
}

// Jobs returns d's job options (zero when it has none).
func (d Definition) Jobs() JobOptions {
	if d.Job == nil {
		return JobOptions{}
	}
	return *d.Job
}

// Set reports whether any field of d is set.
func (d Definition) Set() bool {
	return d.Name != "" || d.EndTime != 0 || d.StopOnCallback || len(d.Labels) > 0 || d.HasJob()
}

// HasJob reports whether d uses a field of JobsSince.
func (d Definition) HasJob() bool { return d.Job != nil && !d.Job.Zero() }

// IsCron reports whether the created schedule is a cron schedule.
func (s ScheduleCreated) IsCron() bool { return s.CronExpression != "" }

// ScheduleDeleted: a schedule was deleted; a cron's future runs go with it.
type ScheduleDeleted struct {
	ScheduleID string `json:"scheduleId"`
	AppID      string `json:"appId"`
}

// RunFired: the leader is about to call a run's callback. It is committed
// before the call, so only a node that can still commit (the real leader)
// ever calls out. For a cron occurrence NextRunTime is the following
// occurrence (0: the cron never fires again). Refire marks a re-delivery,
// under the same run id, of a run whose outcome was never recorded.
type RunFired struct {
	ScheduleID    string `json:"scheduleId"`
	RunID         string `json:"runId"`
	AppID         string `json:"appId"`
	Partition     int    `json:"partition"`
	ScheduledTime int64  `json:"scheduledTime"`
	NextRunTime   int64  `json:"nextRunTime,omitempty"`
	Refire        bool   `json:"refire,omitempty"`
	// Skipped counts the cron's occurrences that came due while this run
	// waited for its turn (overlap buffer_one) and were passed over:
	// NextRunTime is the first after it fired.
	Skipped int `json:"skipped,omitempty"`
}

// RunCompleted: a run's final outcome: SUCCESS, FAILURE, or MISS (the run
// was not fired because it was overdue beyond the misfire threshold). A
// MISS of a cron occurrence carries NextRunTime like RunFired does, and
// Skipped counts further occurrences that were passed over with it.
type RunCompleted struct {
	ScheduleID    string `json:"scheduleId"`
	RunID         string `json:"runId"`
	AppID         string `json:"appId"`
	Partition     int    `json:"partition"`
	ScheduledTime int64  `json:"scheduledTime"`
	Status        string `json:"status"`
	ErrorMessage  string `json:"errorMessage,omitempty"`
	HTTPStatus    int    `json:"httpStatus,omitempty"`
	Attempts      int    `json:"attempts,omitempty"`
	StartedAt     int64  `json:"startedAt,omitempty"`  // unix ms of the first attempt
	FinishedAt    int64  `json:"finishedAt,omitempty"` // unix ms
	NextRunTime   int64  `json:"nextRunTime,omitempty"`
	Skipped       int    `json:"skipped,omitempty"`
}

// ScheduleUpdated: a schedule's definition was changed in place. It holds
// the whole definition after the change (fields the request left out keep
// their values), so apply replaces rather than merges; Changed names the
// fields the request changed, for the history. For a cron NextRunTime is
// the next occurrence under the new definition, computed by the proposer
// (0 while it is paused, or if none comes before its end time); it
// replaces the occurrence that was pending. A one-time schedule's new
// ScheduleTime moves its run, if it has not fired. Runs already fired keep
// their records.
type ScheduleUpdated struct {
	ScheduleID     string       `json:"scheduleId"`
	AppID          string       `json:"appId"`
	Payload        string       `json:"payload"`
	ScheduleTime   int64        `json:"scheduleTime,omitempty"`
	ScheduleTimeMs int64        `json:"scheduleTimeMs,omitempty"`
	CronExpression string       `json:"cronExpression,omitempty"`
	TimeZone       string       `json:"timeZone,omitempty"`
	NextRunTime    int64        `json:"nextRunTime,omitempty"`
	Callback       Callback     `json:"callback"`
	Retry          *RetryPolicy `json:"retry,omitempty"`
	Definition
	Changed []string `json:"changed,omitempty"`
}

// IsCron reports whether the updated schedule is a cron schedule.
func (s ScheduleUpdated) IsCron() bool { return s.CronExpression != "" }

// SchedulePaused: nothing of the schedule fires until it is resumed; its
// runs not yet fired are dropped (one in flight keeps its outcome).
type SchedulePaused struct {
	ScheduleID string `json:"scheduleId"`
	AppID      string `json:"appId"`
}

// ScheduleResumed: a paused schedule fires again. A cron resumes at
// NextRunTime, its first occurrence after the resume (computed by the
// proposer; 0 if none comes before its end time): the occurrences it
// missed while paused do not fire. A one-time schedule's run is pending
// again at its own time (overdue: it fires at once, or is missed beyond
// the misfire threshold).
type ScheduleResumed struct {
	ScheduleID  string `json:"scheduleId"`
	AppID       string `json:"appId"`
	NextRunTime int64  `json:"nextRunTime,omitempty"`
}

// ScheduleStoppedByCallback: the receiver of a cron that opted in
// (StopOnCallback) answered {"code":400}: the cron is closed for good
// (STOPPED). RunID is the run whose answer it was; Response is the start
// of that answer's body, for the record.
type ScheduleStoppedByCallback struct {
	ScheduleID string `json:"scheduleId"`
	AppID      string `json:"appId"`
	RunID      string `json:"runId"`
	HTTPStatus int    `json:"httpStatus,omitempty"`
	Response   string `json:"response,omitempty"`
}

// RunTriggered: a run of a cron was asked for now, outside its sequence
// of occurrences, under its own id (TriggerRunID): it becomes pending,
// due at the event's time, and fires like any run.
type RunTriggered struct {
	ScheduleID string `json:"scheduleId"`
	AppID      string `json:"appId"`
	RunID      string `json:"runId"`
	Partition  int    `json:"partition"`
}

// BulkAction: delete or reconcile (re-run) every schedule and cron run of an
// app whose scheduled time is in [StartTime, EndTime] and whose status
// matches Status ("" matches every status but DELETED). Apply resolves the
// matches from the projection, which is itself a function of the log, so
// replay reaches the same set.
type BulkAction struct {
	AppID     string `json:"appId"`
	Action    string `json:"action"`
	Status    string `json:"status,omitempty"`
	StartTime int64  `json:"startTime"` // unix seconds, inclusive
	EndTime   int64  `json:"endTime"`   // unix seconds, inclusive
}

// NodeAnnounced: a cluster member published the address of its HTTP API,
// so that followers can forward writes to the leader and /cluster can list
// every member's API.
type NodeAnnounced struct {
	NodeID   string `json:"nodeId"`
	HTTPAddr string `json:"httpAddr"`
	RaftAddr string `json:"raftAddr"`
	// Schema is the newest event schema version the node's build reads
	// (absent in announcements of builds that read only version 1).
	Schema int `json:"schema,omitempty"`
	// Types is the newest event type the node's build reads (absent in
	// announcements of builds before types were announced: they read up to
	// EventsCompacted).
	Types int `json:"types,omitempty"`
}

// EventsCompacted: the retention policy removed the histories of closed
// schedules (finished one-time schedules and deleted schedules, with no run
// pending) whose last change is older than Cutoff. The leader picks
// ScheduleIDs; apply re-checks each against the state and skips any that
// is not closed before Cutoff, so the outcome depends only on the log. The
// removed events and read-model records are gone; this event stays as the
// record that they existed and why they were dropped.
type EventsCompacted struct {
	Cutoff      int64    `json:"cutoff"`    // unix ns: closed before this
	Retention   string   `json:"retention"` // the policy, e.g. "720h0m0s"
	ScheduleIDs []string `json:"scheduleIds"`
}

// ScheduleClosed: a cron schedule fires no more, for Reason. Its runs not
// yet fired are dropped; one in flight still gets its outcome. The cron
// actor proposes it when the occurrence after the last one does not exist
// (exhausted), or when this build cannot evaluate the expression at all
// (unevaluable, Message says why); a passing failure to compute is
// retried instead, never recorded as the end of a schedule.
type ScheduleClosed struct {
	ScheduleID string `json:"scheduleId"`
	AppID      string `json:"appId"`
	Reason     string `json:"reason"`
	Message    string `json:"message,omitempty"`
}

// SignatureSpent: a signed request was accepted (a karajo API call); the
// same signature is refused until Until (unix ms), by every node, so a
// captured request cannot be sent again. Digest is the hex SHA-256 of the
// signature with what it signed, never the signature itself.
type SignatureSpent struct {
	Digest string `json:"digest"`
	Until  int64  `json:"until"`
}

func (AppRegistered) EventType() Type   { return TypeAppRegistered }
func (AppActivated) EventType() Type    { return TypeAppActivated }
func (AppDeactivated) EventType() Type  { return TypeAppDeactivated }
func (ScheduleCreated) EventType() Type { return TypeScheduleCreated }
func (ScheduleDeleted) EventType() Type { return TypeScheduleDeleted }
func (RunFired) EventType() Type        { return TypeRunFired }
func (RunCompleted) EventType() Type    { return TypeRunCompleted }
func (BulkAction) EventType() Type      { return TypeBulkAction }
func (NodeAnnounced) EventType() Type   { return TypeNodeAnnounced }
func (EventsCompacted) EventType() Type { return TypeEventsCompacted }
func (ScheduleClosed) EventType() Type  { return TypeScheduleClosed }
func (SecretRotated) EventType() Type   { return TypeSecretRotated }
func (TokenIssued) EventType() Type     { return TypeTokenIssued }
func (TokenRevoked) EventType() Type    { return TypeTokenRevoked }
func (ScheduleUpdated) EventType() Type { return TypeScheduleUpdated }
func (SchedulePaused) EventType() Type  { return TypeSchedulePaused }
func (ScheduleResumed) EventType() Type { return TypeScheduleResumed }
func (RunTriggered) EventType() Type    { return TypeRunTriggered }
func (ScheduleStoppedByCallback) EventType() Type {
	return TypeScheduleStoppedByCallback
}
func (SignatureSpent) EventType() Type { return TypeSignatureSpent }
func (RunOutput) EventType() Type      { return TypeRunOutput }
func (NotificationSent) EventType() Type {
	return TypeNotificationSent
}

// Outcomes of a notification (NotificationSent.Status).
const (
	NotificationDelivered = "sent"
	NotificationFailed    = "failed"
)

// NotificationSent: the leader told Target (a notification target of the
// server's configuration, by Channel, email or webhook) of run RunID's
// outcome, or gave up after Attempts (Error says why; Code is the last
// SMTP reply or HTTP status). A notification still being sent when its
// leader stops is not sent again: notifications are at most once.
type NotificationSent struct {
	ScheduleID string `json:"scheduleId"`
	RunID      string `json:"runId"`
	AppID      string `json:"appId"`
	Target     string `json:"target"`
	Channel    string `json:"channel"`
	Status     string `json:"status"`
	Attempts   int    `json:"attempts,omitempty"`
	Code       int    `json:"code,omitempty"`
	Error      string `json:"error,omitempty"`
	// JobID and Notice: a workflow job's notification, on its channel
	// (error, warning, waiting, processing); apply marks the job as told
	// on it, so a new leader does not tell it again.
	JobID  uint64 `json:"jobId,omitempty"`
	Notice string `json:"notice,omitempty"`
}

// RunOutput: what a run's commands wrote (stdout and stderr, as they
// came), proposed with its RunCompleted, before it. Cut: the output was
// longer than the leader keeps (admit.MaxOutputBytes) and this is its
// start. Only the schedule's KeepOutputs newest outputs are kept: apply
// drops an older one, RunOutput event included, when a newer one comes,
// so a job's logs take bounded room however long it runs. Its outcome
// (RunCompleted) stays.
type RunOutput struct {
	ScheduleID string `json:"scheduleId"`
	RunID      string `json:"runId"`
	AppID      string `json:"appId"`
	Output     []byte `json:"output"`
	Cut        bool   `json:"cut,omitempty"`
}

// TypeNeeded is the newest type a member must read to read p in full:
// p's own type, or a later one whose builds know a field p uses (an older
// build would skip the field, or misread it, and build other read models).
// A leader proposes p only once every member reads it.
func TypeNeeded(p Payload) Type {
	t := p.EventType()
	need := func(since Type, uses bool) {
		if uses && since > t {
			t = since
		}
	}
	// A schedule's definition, as ScheduleCreated and ScheduleUpdated carry it.
	definition := func(c Callback, d Definition, cron string) {
		need(JobsSince, c.Shaped() || d.HasJob() || newCron(cron))
		need(WorkflowsSince, c.Workflow != nil || c.Type == CallbackWorkflow)
	}
	switch p := p.(type) {
	case *ScheduleCreated:
		need(LifecycleSince, p.Definition.Set() || p.Callback.NumberParam != "" || p.Paused)
		definition(p.Callback, p.Definition, p.CronExpression)
	case *ScheduleUpdated:
		definition(p.Callback, p.Definition, p.CronExpression)
	case *RunCompleted:
		need(JobsSince, p.Status == StatusCanceled)
	case *RunFired:
		need(JobsSince, p.Skipped != 0)
	}
	return t
}

// newCron reports whether a cron expression uses syntax of JobsSince: a
// union (`;`) or `@manual`.
func newCron(expr string) bool {
	return strings.Contains(expr, ";") || strings.Contains(strings.ToLower(expr), "@manual")
}

// CronRunID derives the run id of a cron occurrence from the cron's id and
// the occurrence time. It is a name-based (version 5 style) UUID, so every
// node, every retry and every re-fire after a failover computes the same id
// and receivers can de-duplicate on it.
func CronRunID(cronID string, scheduledUnix int64) string {
	h := sha1.New()
	h.Write([]byte("chronicle-cron-run\x00"))
	h.Write([]byte(cronID))
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(scheduledUnix))
	h.Write(ts[:])
	sum := h.Sum(nil)
	sum[6] = (sum[6] & 0x0f) | 0x50 // version 5
	sum[8] = (sum[8] & 0x3f) | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

// ReconcileRunID is the run id of the n-th reconcile (n ≥ 1) of a run. A
// reconcile is a deliberate re-run, so it gets its own id; retries and
// failover re-fires of it keep that id.
func ReconcileRunID(baseRunID string, n int) string {
	return fmt.Sprintf("%s.r%d", baseRunID, n)
}

// TriggerRunID is the run id of the n-th triggered run (n ≥ 1) of a cron.
func TriggerRunID(cronID string, n int) string {
	return fmt.Sprintf("%s.t%d", cronID, n)
}

// ExpiryRunID is the id under which a cron's end time waits in the due
// index, like a run, for the leader's timer to close the cron then.
func ExpiryRunID(cronID string) string { return cronID + ".end" }
