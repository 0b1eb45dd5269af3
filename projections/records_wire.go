package projections

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

// Records are stored in the form of the event that last wrote them: JSON
// for a schema version 1 event, the wire form (a marker byte, then the
// fields as event.Wire writes them) for version 2. Tying the form to the
// event keeps apply deterministic (a rebuild writes every record in the
// form the live store holds, byte for byte) and keeps binary records away
// from older builds: the leader writes version 2 events only once every
// member reads them, so a snapshot an older build installs never holds a
// binary record. Readers take either form.

// binaryRecord starts every record in the wire form; a JSON record starts
// with '{'.
const binaryRecord byte = 2

// recordCodecs are the wire forms of the records. Field numbers follow the
// struct's field order and never change; a new field takes the next one.
var (
	appCodec = event.NewCodec(
		event.StringField(1, func(a *App) *string { return &a.AppID }),
		event.IntField(2, func(a *App) *int { return &a.Partitions }),
		event.BoolField(3, func(a *App) *bool { return &a.Active }),
		event.Int64Field(4, func(a *App) *int64 { return &a.CreatedAt }),
		event.StringField(5, func(a *App) *string { return &a.SigningSecret }),
		event.StringField(6, func(a *App) *string { return &a.PreviousSecret }),
		event.Int64Field(7, func(a *App) *int64 { return &a.PreviousUntil }),
	)
	scheduleCodec = event.NewCodec(
		event.StringField(1, func(s *Schedule) *string { return &s.ScheduleID }),
		event.StringField(2, func(s *Schedule) *string { return &s.ParentID }),
		event.StringField(3, func(s *Schedule) *string { return &s.AppID }),
		event.IntField(4, func(s *Schedule) *int { return &s.Partition }),
		event.StringField(5, func(s *Schedule) *string { return &s.Payload }),
		event.Int64Field(6, func(s *Schedule) *int64 { return &s.ScheduleTime }),
		event.Int64Field(7, func(s *Schedule) *int64 { return &s.ScheduleTimeMs }),
		event.StringField(8, func(s *Schedule) *string { return &s.CronExpression }),
		event.StringField(9, func(s *Schedule) *string { return &s.TimeZone }),
		event.Int64Field(10, func(s *Schedule) *int64 { return &s.NextRunTime }),
		event.MessageField(11, func(s *Schedule) *event.Callback { return &s.Callback }, event.CallbackCodec),
		event.OptionalMessageField(12, func(s *Schedule) **event.RetryPolicy { return &s.Retry }, event.RetryCodec),
		event.StringField(13, func(s *Schedule) *string { return &s.Status }),
		event.StringField(14, func(s *Schedule) *string { return &s.ErrorMessage }),
		event.IntField(15, func(s *Schedule) *int { return &s.HTTPStatus }),
		event.IntField(16, func(s *Schedule) *int { return &s.Attempts }),
		event.Int64Field(17, func(s *Schedule) *int64 { return &s.FiredAt }),
		event.Int64Field(18, func(s *Schedule) *int64 { return &s.CompletedAt }),
		event.IntField(19, func(s *Schedule) *int { return &s.Reconciles }),
		event.Int64Field(20, func(s *Schedule) *int64 { return &s.CreatedAt }),
		event.Uint64Field(21, func(s *Schedule) *uint64 { return &s.CreatedSeq }),
		event.Int64Field(22, func(s *Schedule) *int64 { return &s.ClosedAt }),
		event.StringField(23, func(s *Schedule) *string { return &s.Name }),
		event.Int64Field(24, func(s *Schedule) *int64 { return &s.EndTime }),
		event.BoolField(25, func(s *Schedule) *bool { return &s.StopOnCallback }),
		event.StringMapField(26, func(s *Schedule) *map[string]string { return &s.Labels }),
		event.Int64Field(27, func(s *Schedule) *int64 { return &s.UpdatedAt }),
		event.IntField(28, func(s *Schedule) *int { return &s.Triggers }),
		event.OptionalMessageField(29, func(s *Schedule) **event.JobOptions { return &s.Job }, event.JobOptionsCodec),
		event.IntField(30, func(s *Schedule) *int { return &s.Runs }),
		event.IntField(31, func(s *Schedule) *int { return &s.Counter }),
		event.OptionalMessageField(32, func(s *Schedule) **JobQueue { return &s.Queue }, jobQueueCodec),
	)
	runCodec = event.NewCodec(
		event.StringField(1, func(r *Run) *string { return &r.RunID }),
		event.StringField(2, func(r *Run) *string { return &r.ScheduleID }),
		event.StringField(3, func(r *Run) *string { return &r.AppID }),
		event.IntField(4, func(r *Run) *int { return &r.Partition }),
		event.Int64Field(5, func(r *Run) *int64 { return &r.ScheduledTime }),
		event.StringField(6, func(r *Run) *string { return &r.Status }),
		event.StringField(7, func(r *Run) *string { return &r.ErrorMessage }),
		event.IntField(8, func(r *Run) *int { return &r.HTTPStatus }),
		event.IntField(9, func(r *Run) *int { return &r.Attempts }),
		event.Int64Field(10, func(r *Run) *int64 { return &r.FiredAt }),
		event.Int64Field(11, func(r *Run) *int64 { return &r.CompletedAt }),
		event.IntField(12, func(r *Run) *int { return &r.Reconciles }),
		event.BoolField(13, func(r *Run) *bool { return &r.Triggered }),
		event.IntField(14, func(r *Run) *int { return &r.Counter }),
	)
	pendingRunCodec = event.NewCodec(
		event.StringField(1, func(p *PendingRun) *string { return &p.RunID }),
		event.StringField(2, func(p *PendingRun) *string { return &p.ScheduleID }),
		event.StringField(3, func(p *PendingRun) *string { return &p.AppID }),
		event.IntField(4, func(p *PendingRun) *int { return &p.Partition }),
		event.Int64Field(5, func(p *PendingRun) *int64 { return &p.ScheduledTime }),
		event.Int64Field(6, func(p *PendingRun) *int64 { return &p.DueMs }),
		event.StringField(7, func(p *PendingRun) *string { return &p.Kind }),
		event.BoolField(8, func(p *PendingRun) *bool { return &p.Fired }),
		event.Int64Field(9, func(p *PendingRun) *int64 { return &p.FiredAt }),
		event.BoolField(10, func(p *PendingRun) *bool { return &p.Exclusive }),
		event.BoolField(11, func(p *PendingRun) *bool { return &p.NoRefire }),
	)
	nodeCodec = event.NewCodec(
		event.StringField(1, func(n *Node) *string { return &n.NodeID }),
		event.StringField(2, func(n *Node) *string { return &n.HTTPAddr }),
		event.StringField(3, func(n *Node) *string { return &n.RaftAddr }),
		event.Int64Field(4, func(n *Node) *int64 { return &n.AnnouncedAt }),
		event.IntField(5, func(n *Node) *int { return &n.Schema }),
		event.IntField(6, func(n *Node) *int { return &n.Types }),
	)
	tokenCodec = event.NewCodec(
		event.StringField(1, func(t *Token) *string { return &t.TokenID }),
		event.StringField(2, func(t *Token) *string { return &t.Name }),
		event.StringField(3, func(t *Token) *string { return &t.Role }),
		event.StringsField(4, func(t *Token) *[]string { return &t.Apps }),
		event.StringField(5, func(t *Token) *string { return &t.Hash }),
		event.Int64Field(6, func(t *Token) *int64 { return &t.IssuedAt }),
		event.StringField(7, func(t *Token) *string { return &t.IssuedBy }),
		event.Int64Field(8, func(t *Token) *int64 { return &t.RevokedAt }),
		event.StringField(9, func(t *Token) *string { return &t.RevokedBy }),
	)
)

var (
	jobQueueCodec = event.NewCodec(
		event.Uint64Field(1, func(q *JobQueue) *uint64 { return &q.Waiting }),
		event.Uint64Field(2, func(q *JobQueue) *uint64 { return &q.Processing }),
		event.IntField(3, func(q *JobQueue) *int { return &q.Count }),
		event.StringField(4, func(q *JobQueue) *string { return &q.LastRun }),
		event.Int64Field(5, func(q *JobQueue) *int64 { return &q.ScheduledAt }),
	)
	taskResultCodec = event.NewCodec(
		event.StringField(1, func(r *TaskResult) *string { return &r.Status }),
		event.StringField(2, func(r *TaskResult) *string { return &r.TaskRunID }),
		event.IntField(3, func(r *TaskResult) *int { return &r.Attempts }),
		event.Int64Field(4, func(r *TaskResult) *int64 { return &r.StartedAt }),
		event.Int64Field(5, func(r *TaskResult) *int64 { return &r.FinishedAt }),
		event.StringField(6, func(r *TaskResult) *string { return &r.Response }),
	)
	jobCodec = event.NewCodec(
		event.Uint64Field(1, func(j *Job) *uint64 { return &j.ID }),
		event.StringField(2, func(j *Job) *string { return &j.ScheduleID }),
		event.StringField(3, func(j *Job) *string { return &j.AppID }),
		event.StringField(4, func(j *Job) *string { return &j.Status }),
		event.Int64Field(5, func(j *Job) *int64 { return &j.CreatedAt }),
		event.Int64Field(6, func(j *Job) *int64 { return &j.StartedAt }),
		event.Int64Field(7, func(j *Job) *int64 { return &j.EndedAt }),
		event.StringField(8, func(j *Job) *string { return &j.InitializedBy }),
		event.StringField(9, func(j *Job) *string { return &j.Initiator }),
		event.StringField(10, func(j *Job) *string { return &j.UserAgent }),
		event.StringsField(11, func(j *Job) *[]string { return &j.NotifyEmails }),
		event.RepeatedMessageField(12, func(j *Job) *[]event.Task { return &j.Tasks }, event.TaskCodec),
		event.RepeatedMessageField(13, func(j *Job) *[]TaskResult { return &j.Results }, taskResultCodec),
		event.RepeatedMessageField(14, func(j *Job) *[]event.Notice { return &j.Notices }, event.NoticeCodec),
		event.StringsField(15, func(j *Job) *[]string { return &j.Notified }),
	)
)

// record is a read-model record type.
type record interface {
	App | Schedule | Run | PendingRun | Node | Token | Job
}

// codecOf returns the wire form of record type T.
func codecOf[T record]() *event.Codec[T] {
	var c any
	switch any((*T)(nil)).(type) { // a nil pointer: no value is boxed
	case *App:
		c = appCodec
	case *Schedule:
		c = scheduleCodec
	case *Run:
		c = runCodec
	case *PendingRun:
		c = pendingRunCodec
	case *Node:
		c = nodeCodec
	case *Token:
		c = tokenCodec
	case *Job:
		c = jobCodec
	}
	return c.(*event.Codec[T])
}

// encodeRecord returns v in the wire form, or as JSON when asJSON.
func encodeRecord[T record](v T, asJSON bool) ([]byte, error) {
	if asJSON {
		return json.Marshal(v)
	}
	w := event.NewWire(make([]byte, 0, 160))
	w.Raw(binaryRecord)
	codecOf[T]().Append(w, &v)
	return w.Bytes(), nil
}

// decodeRecord reads a record in either form.
func decodeRecord[T record](b []byte) (T, error) {
	var v T
	switch {
	case len(b) == 0:
		return v, errors.New("empty record")
	case b[0] == binaryRecord:
		f := event.NewFields(b[1:])
		codecOf[T]().Read(&f, &v)
		if err := f.Err(); err != nil {
			return v, fmt.Errorf("decode %T: %w", v, err)
		}
	default:
		if err := json.Unmarshal(b, &v); err != nil {
			return v, fmt.Errorf("decode %T: %w", v, err)
		}
	}
	return v, nil
}
