package event

// The binary (schema version 2) form of each payload. Field numbers follow
// the struct's field order; they are stored in every log, so they never
// change, and a new field takes the next unused number.

var appRegisteredCodec = NewCodec(
	StringField(1, func(p *AppRegistered) *string { return &p.AppID }),
	IntField(2, func(p *AppRegistered) *int { return &p.Partitions }),
	BoolField(3, func(p *AppRegistered) *bool { return &p.Active }),
	StringField(4, func(p *AppRegistered) *string { return &p.SigningSecret }),
)

var secretRotatedCodec = NewCodec(
	StringField(1, func(p *SecretRotated) *string { return &p.AppID }),
	StringField(2, func(p *SecretRotated) *string { return &p.Secret }),
	Int64Field(3, func(p *SecretRotated) *int64 { return &p.PreviousUntil }),
)

var appActivatedCodec = NewCodec(StringField(1, func(p *AppActivated) *string { return &p.AppID }))

var appDeactivatedCodec = NewCodec(StringField(1, func(p *AppDeactivated) *string { return &p.AppID }))

// CallbackCodec is the wire form of a callback (records embed it too).
var CallbackCodec = NewCodec(
	StringField(1, func(c *Callback) *string { return &c.Type }),
	StringField(2, func(c *Callback) *string { return &c.URL }),
	StringField(3, func(c *Callback) *string { return &c.Method }),
	StringMapField(4, func(c *Callback) *map[string]string { return &c.Headers }),
	BoolField(5, func(c *Callback) *bool { return &c.FollowRedirects }),
	StringsField(6, func(c *Callback) *[]string { return &c.SecretHeaders }),
	StringField(7, func(c *Callback) *string { return &c.NumberParam }),
	OptionalMessageField(8, func(c *Callback) **RequestShape { return &c.Shape }, requestShapeCodec),
	OptionalMessageField(9, func(c *Callback) **Command { return &c.Command }, commandCodec),
	OptionalMessageField(10, func(c *Callback) **Workflow { return &c.Workflow }, workflowCodec),
)

var requestShapeCodec = NewCodec(
	StringField(1, func(s *RequestShape) *string { return &s.TimeParam }),
	StringField(2, func(s *RequestShape) *string { return &s.Params }),
	OptionalMessageField(3, func(s *RequestShape) **HMACSignature { return &s.Signature }, hmacSignatureCodec),
	IntField(4, func(s *RequestShape) *int { return &s.SuccessStatus }),
	BoolField(5, func(s *RequestShape) *bool { return &s.InsecureTLS }),
)

var commandCodec = NewCodec(
	StringsField(1, func(c *Command) *[]string { return &c.Lines }),
	StringField(2, func(c *Command) *string { return &c.Dir }),
	StringField(3, func(c *Command) *string { return &c.CounterEnv }),
)

var notificationSentCodec = NewCodec(
	StringField(1, func(p *NotificationSent) *string { return &p.ScheduleID }),
	StringField(2, func(p *NotificationSent) *string { return &p.RunID }),
	StringField(3, func(p *NotificationSent) *string { return &p.AppID }),
	StringField(4, func(p *NotificationSent) *string { return &p.Target }),
	StringField(5, func(p *NotificationSent) *string { return &p.Channel }),
	StringField(6, func(p *NotificationSent) *string { return &p.Status }),
	IntField(7, func(p *NotificationSent) *int { return &p.Attempts }),
	IntField(8, func(p *NotificationSent) *int { return &p.Code }),
	StringField(9, func(p *NotificationSent) *string { return &p.Error }),
	Uint64Field(10, func(p *NotificationSent) *uint64 { return &p.JobID }),
	StringField(11, func(p *NotificationSent) *string { return &p.Notice }),
)

var runOutputCodec = NewCodec(
	StringField(1, func(p *RunOutput) *string { return &p.ScheduleID }),
	StringField(2, func(p *RunOutput) *string { return &p.RunID }),
	StringField(3, func(p *RunOutput) *string { return &p.AppID }),
	BytesField(4, func(p *RunOutput) *[]byte { return &p.Output }),
	BoolField(5, func(p *RunOutput) *bool { return &p.Cut }),
)

var hmacSignatureCodec = NewCodec(
	StringField(1, func(s *HMACSignature) *string { return &s.Header }),
	StringField(2, func(s *HMACSignature) *string { return &s.Secret }),
)

var signatureSpentCodec = NewCodec(
	StringField(1, func(p *SignatureSpent) *string { return &p.Digest }),
	Int64Field(2, func(p *SignatureSpent) *int64 { return &p.Until }),
)

// RetryCodec is the wire form of a retry policy (records embed it too).
var RetryCodec = NewCodec(
	IntField(1, func(r *RetryPolicy) *int { return &r.MaxAttempts }),
	Int64Field(2, func(r *RetryPolicy) *int64 { return &r.TimeoutMs }),
	Int64Field(3, func(r *RetryPolicy) *int64 { return &r.InitialBackoffMs }),
	Int64Field(4, func(r *RetryPolicy) *int64 { return &r.MaxBackoffMs }),
	OptionalBoolField(5, func(r *RetryPolicy) **bool { return &r.RetryOn4xx }),
)

var scheduleCreatedCodec = NewCodec(
	StringField(1, func(p *ScheduleCreated) *string { return &p.ScheduleID }),
	StringField(2, func(p *ScheduleCreated) *string { return &p.AppID }),
	IntField(3, func(p *ScheduleCreated) *int { return &p.Partition }),
	StringField(4, func(p *ScheduleCreated) *string { return &p.Payload }),
	Int64Field(5, func(p *ScheduleCreated) *int64 { return &p.ScheduleTime }),
	Int64Field(6, func(p *ScheduleCreated) *int64 { return &p.ScheduleTimeMs }),
	StringField(7, func(p *ScheduleCreated) *string { return &p.CronExpression }),
	StringField(8, func(p *ScheduleCreated) *string { return &p.TimeZone }),
	Int64Field(9, func(p *ScheduleCreated) *int64 { return &p.NextRunTime }),
	MessageField(10, func(p *ScheduleCreated) *Callback { return &p.Callback }, CallbackCodec),
	OptionalMessageField(11, func(p *ScheduleCreated) **RetryPolicy { return &p.Retry }, RetryCodec),
	StringField(12, func(p *ScheduleCreated) *string { return &p.Name }),
	Int64Field(13, func(p *ScheduleCreated) *int64 { return &p.EndTime }),
	BoolField(14, func(p *ScheduleCreated) *bool { return &p.StopOnCallback }),
	StringMapField(15, func(p *ScheduleCreated) *map[string]string { return &p.Labels }),
	BoolField(16, func(p *ScheduleCreated) *bool { return &p.Paused }),
	OptionalMessageField(17, func(p *ScheduleCreated) **JobOptions { return &p.Job }, JobOptionsCodec),
)

// JobOptionsCodec is the wire form of a schedule's job options (records
// embed it too).
var JobOptionsCodec = NewCodec(
	BoolField(1, func(o *JobOptions) *bool { return &o.Counted }),
	StringField(2, func(o *JobOptions) *string { return &o.Overlap }),
	IntField(3, func(o *JobOptions) *int { return &o.KeepOutputs }),
	StringsField(4, func(o *JobOptions) *[]string { return &o.NotifyOnSuccess }),
	StringsField(5, func(o *JobOptions) *[]string { return &o.NotifyOnFailure }),
)

var scheduleUpdatedCodec = NewCodec(
	StringField(1, func(p *ScheduleUpdated) *string { return &p.ScheduleID }),
	StringField(2, func(p *ScheduleUpdated) *string { return &p.AppID }),
	StringField(3, func(p *ScheduleUpdated) *string { return &p.Payload }),
	Int64Field(4, func(p *ScheduleUpdated) *int64 { return &p.ScheduleTime }),
	Int64Field(5, func(p *ScheduleUpdated) *int64 { return &p.ScheduleTimeMs }),
	StringField(6, func(p *ScheduleUpdated) *string { return &p.CronExpression }),
	StringField(7, func(p *ScheduleUpdated) *string { return &p.TimeZone }),
	Int64Field(8, func(p *ScheduleUpdated) *int64 { return &p.NextRunTime }),
	MessageField(9, func(p *ScheduleUpdated) *Callback { return &p.Callback }, CallbackCodec),
	OptionalMessageField(10, func(p *ScheduleUpdated) **RetryPolicy { return &p.Retry }, RetryCodec),
	StringField(11, func(p *ScheduleUpdated) *string { return &p.Name }),
	Int64Field(12, func(p *ScheduleUpdated) *int64 { return &p.EndTime }),
	BoolField(13, func(p *ScheduleUpdated) *bool { return &p.StopOnCallback }),
	StringMapField(14, func(p *ScheduleUpdated) *map[string]string { return &p.Labels }),
	StringsField(15, func(p *ScheduleUpdated) *[]string { return &p.Changed }),
	OptionalMessageField(16, func(p *ScheduleUpdated) **JobOptions { return &p.Job }, JobOptionsCodec),
)

var schedulePausedCodec = NewCodec(
	StringField(1, func(p *SchedulePaused) *string { return &p.ScheduleID }),
	StringField(2, func(p *SchedulePaused) *string { return &p.AppID }),
)

var scheduleResumedCodec = NewCodec(
	StringField(1, func(p *ScheduleResumed) *string { return &p.ScheduleID }),
	StringField(2, func(p *ScheduleResumed) *string { return &p.AppID }),
	Int64Field(3, func(p *ScheduleResumed) *int64 { return &p.NextRunTime }),
)

var runTriggeredCodec = NewCodec(
	StringField(1, func(p *RunTriggered) *string { return &p.ScheduleID }),
	StringField(2, func(p *RunTriggered) *string { return &p.AppID }),
	StringField(3, func(p *RunTriggered) *string { return &p.RunID }),
	IntField(4, func(p *RunTriggered) *int { return &p.Partition }),
)

var scheduleStoppedCodec = NewCodec(
	StringField(1, func(p *ScheduleStoppedByCallback) *string { return &p.ScheduleID }),
	StringField(2, func(p *ScheduleStoppedByCallback) *string { return &p.AppID }),
	StringField(3, func(p *ScheduleStoppedByCallback) *string { return &p.RunID }),
	IntField(4, func(p *ScheduleStoppedByCallback) *int { return &p.HTTPStatus }),
	StringField(5, func(p *ScheduleStoppedByCallback) *string { return &p.Response }),
)

var scheduleDeletedCodec = NewCodec(
	StringField(1, func(p *ScheduleDeleted) *string { return &p.ScheduleID }),
	StringField(2, func(p *ScheduleDeleted) *string { return &p.AppID }),
)

var runFiredCodec = NewCodec(
	StringField(1, func(p *RunFired) *string { return &p.ScheduleID }),
	StringField(2, func(p *RunFired) *string { return &p.RunID }),
	StringField(3, func(p *RunFired) *string { return &p.AppID }),
	IntField(4, func(p *RunFired) *int { return &p.Partition }),
	Int64Field(5, func(p *RunFired) *int64 { return &p.ScheduledTime }),
	Int64Field(6, func(p *RunFired) *int64 { return &p.NextRunTime }),
	BoolField(7, func(p *RunFired) *bool { return &p.Refire }),
	IntField(8, func(p *RunFired) *int { return &p.Skipped }),
)

var runCompletedCodec = NewCodec(
	StringField(1, func(p *RunCompleted) *string { return &p.ScheduleID }),
	StringField(2, func(p *RunCompleted) *string { return &p.RunID }),
	StringField(3, func(p *RunCompleted) *string { return &p.AppID }),
	IntField(4, func(p *RunCompleted) *int { return &p.Partition }),
	Int64Field(5, func(p *RunCompleted) *int64 { return &p.ScheduledTime }),
	StringField(6, func(p *RunCompleted) *string { return &p.Status }),
	StringField(7, func(p *RunCompleted) *string { return &p.ErrorMessage }),
	IntField(8, func(p *RunCompleted) *int { return &p.HTTPStatus }),
	IntField(9, func(p *RunCompleted) *int { return &p.Attempts }),
	Int64Field(10, func(p *RunCompleted) *int64 { return &p.StartedAt }),
	Int64Field(11, func(p *RunCompleted) *int64 { return &p.FinishedAt }),
	Int64Field(12, func(p *RunCompleted) *int64 { return &p.NextRunTime }),
	IntField(13, func(p *RunCompleted) *int { return &p.Skipped }),
)

var bulkActionCodec = NewCodec(
	StringField(1, func(p *BulkAction) *string { return &p.AppID }),
	StringField(2, func(p *BulkAction) *string { return &p.Action }),
	StringField(3, func(p *BulkAction) *string { return &p.Status }),
	Int64Field(4, func(p *BulkAction) *int64 { return &p.StartTime }),
	Int64Field(5, func(p *BulkAction) *int64 { return &p.EndTime }),
)

var nodeAnnouncedCodec = NewCodec(
	StringField(1, func(p *NodeAnnounced) *string { return &p.NodeID }),
	StringField(2, func(p *NodeAnnounced) *string { return &p.HTTPAddr }),
	StringField(3, func(p *NodeAnnounced) *string { return &p.RaftAddr }),
	IntField(4, func(p *NodeAnnounced) *int { return &p.Schema }),
	IntField(5, func(p *NodeAnnounced) *int { return &p.Types }),
)

var eventsCompactedCodec = NewCodec(
	Int64Field(1, func(p *EventsCompacted) *int64 { return &p.Cutoff }),
	StringField(2, func(p *EventsCompacted) *string { return &p.Retention }),
	StringsField(3, func(p *EventsCompacted) *[]string { return &p.ScheduleIDs }),
)

var scheduleClosedCodec = NewCodec(
	StringField(1, func(p *ScheduleClosed) *string { return &p.ScheduleID }),
	StringField(2, func(p *ScheduleClosed) *string { return &p.AppID }),
	StringField(3, func(p *ScheduleClosed) *string { return &p.Reason }),
	StringField(4, func(p *ScheduleClosed) *string { return &p.Message }),
)

var tokenIssuedCodec = NewCodec(
	StringField(1, func(p *TokenIssued) *string { return &p.TokenID }),
	StringField(2, func(p *TokenIssued) *string { return &p.Name }),
	StringField(3, func(p *TokenIssued) *string { return &p.Role }),
	StringsField(4, func(p *TokenIssued) *[]string { return &p.Apps }),
	StringField(5, func(p *TokenIssued) *string { return &p.Hash }),
)

var tokenRevokedCodec = NewCodec(StringField(1, func(p *TokenRevoked) *string { return &p.TokenID }))

// payloadKind is what the envelope code needs of a payload type: an empty
// value to decode into, and its wire form either way round.
type payloadKind interface {
	new() Payload
	append(w *Wire, p Payload) bool // false: p is not of this type
	read(f *Fields) Payload
}

type kind[T any, P interface {
	*T
	Payload
}] struct{ codec *Codec[T] }

func (k kind[T, P]) new() Payload { return P(new(T)) }

func (k kind[T, P]) append(w *Wire, p Payload) bool {
	switch v := p.(type) {
	case T:
		k.codec.Append(w, &v)
	case P:
		k.codec.Append(w, v)
	default:
		return false
	}
	return true
}

func (k kind[T, P]) read(f *Fields) Payload {
	v := new(T)
	k.codec.Read(f, v)
	return P(v)
}

// payloadKinds has the wire form of every type in typeNames (the round-trip
// test goes through all of them).
var payloadKinds = map[Type]payloadKind{
	TypeAppRegistered:             kind[AppRegistered, *AppRegistered]{appRegisteredCodec},
	TypeAppActivated:              kind[AppActivated, *AppActivated]{appActivatedCodec},
	TypeAppDeactivated:            kind[AppDeactivated, *AppDeactivated]{appDeactivatedCodec},
	TypeScheduleCreated:           kind[ScheduleCreated, *ScheduleCreated]{scheduleCreatedCodec},
	TypeScheduleDeleted:           kind[ScheduleDeleted, *ScheduleDeleted]{scheduleDeletedCodec},
	TypeRunFired:                  kind[RunFired, *RunFired]{runFiredCodec},
	TypeRunCompleted:              kind[RunCompleted, *RunCompleted]{runCompletedCodec},
	TypeBulkAction:                kind[BulkAction, *BulkAction]{bulkActionCodec},
	TypeNodeAnnounced:             kind[NodeAnnounced, *NodeAnnounced]{nodeAnnouncedCodec},
	TypeEventsCompacted:           kind[EventsCompacted, *EventsCompacted]{eventsCompactedCodec},
	TypeScheduleClosed:            kind[ScheduleClosed, *ScheduleClosed]{scheduleClosedCodec},
	TypeSecretRotated:             kind[SecretRotated, *SecretRotated]{secretRotatedCodec},
	TypeTokenIssued:               kind[TokenIssued, *TokenIssued]{tokenIssuedCodec},
	TypeTokenRevoked:              kind[TokenRevoked, *TokenRevoked]{tokenRevokedCodec},
	TypeScheduleUpdated:           kind[ScheduleUpdated, *ScheduleUpdated]{scheduleUpdatedCodec},
	TypeSchedulePaused:            kind[SchedulePaused, *SchedulePaused]{schedulePausedCodec},
	TypeScheduleResumed:           kind[ScheduleResumed, *ScheduleResumed]{scheduleResumedCodec},
	TypeRunTriggered:              kind[RunTriggered, *RunTriggered]{runTriggeredCodec},
	TypeScheduleStoppedByCallback: kind[ScheduleStoppedByCallback, *ScheduleStoppedByCallback]{scheduleStoppedCodec},
	TypeSignatureSpent:            kind[SignatureSpent, *SignatureSpent]{signatureSpentCodec},
	TypeRunOutput:                 kind[RunOutput, *RunOutput]{runOutputCodec},
	TypeNotificationSent:          kind[NotificationSent, *NotificationSent]{notificationSentCodec},
	TypeJobCreated:                kind[JobCreated, *JobCreated]{jobCreatedCodec},
	TypeJobStarted:                kind[JobStarted, *JobStarted]{jobStartedCodec},
	TypeTaskStarted:               kind[TaskStarted, *TaskStarted]{taskStartedCodec},
	TypeTaskFinished:              kind[TaskFinished, *TaskFinished]{taskFinishedCodec},
	TypeJobFinished:               kind[JobFinished, *JobFinished]{jobFinishedCodec},
	TypeJobCancelled:              kind[JobCancelled, *JobCancelled]{jobCancelledCodec},
}
