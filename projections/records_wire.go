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

// wireRecord is a record's wire form (pointer receivers read).
type wireRecord[T any] interface {
	*T
	appendWire(w *event.Wire)
	readWire(f *event.Fields)
}

// encodeRecord returns v in the wire form, or as JSON when asJSON.
func encodeRecord[T any, P wireRecord[T]](v T, asJSON bool) ([]byte, error) {
	if asJSON {
		return json.Marshal(v)
	}
	w := event.NewWire(make([]byte, 0, 160))
	w.Raw(binaryRecord)
	P(&v).appendWire(w)
	return w.Bytes(), nil
}

// decodeRecord reads a record in either form.
func decodeRecord[T any, P wireRecord[T]](b []byte) (T, error) {
	var v T
	switch {
	case len(b) == 0:
		return v, errors.New("empty record")
	case b[0] == binaryRecord:
		f := event.NewFields(b[1:])
		P(&v).readWire(&f)
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

func (a *App) appendWire(w *event.Wire) {
	w.String(1, a.AppID)
	w.Int(2, int64(a.Partitions))
	w.Bool(3, a.Active)
	w.Int(4, a.CreatedAt)
}

func (a *App) readWire(f *event.Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			a.AppID = f.String()
		case 2:
			a.Partitions = f.Int()
		case 3:
			a.Active = f.Bool()
		case 4:
			a.CreatedAt = f.Int64()
		}
	}
}

func (s *Schedule) appendWire(w *event.Wire) {
	w.String(1, s.ScheduleID)
	w.String(2, s.ParentID)
	w.String(3, s.AppID)
	w.Int(4, int64(s.Partition))
	w.String(5, s.Payload)
	w.Int(6, s.ScheduleTime)
	w.Int(7, s.ScheduleTimeMs)
	w.String(8, s.CronExpression)
	w.String(9, s.TimeZone)
	w.Int(10, s.NextRunTime)
	w.Message(11, s.Callback.AppendWire)
	w.AppendRetry(12, s.Retry)
	w.String(13, s.Status)
	w.String(14, s.ErrorMessage)
	w.Int(15, int64(s.HTTPStatus))
	w.Int(16, int64(s.Attempts))
	w.Int(17, s.FiredAt)
	w.Int(18, s.CompletedAt)
	w.Int(19, int64(s.Reconciles))
	w.Int(20, s.CreatedAt)
	w.Uint(21, s.CreatedSeq)
	w.Int(22, s.ClosedAt)
}

func (s *Schedule) readWire(f *event.Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			s.ScheduleID = f.String()
		case 2:
			s.ParentID = f.String()
		case 3:
			s.AppID = f.String()
		case 4:
			s.Partition = f.Int()
		case 5:
			s.Payload = f.String()
		case 6:
			s.ScheduleTime = f.Int64()
		case 7:
			s.ScheduleTimeMs = f.Int64()
		case 8:
			s.CronExpression = f.String()
		case 9:
			s.TimeZone = f.String()
		case 10:
			s.NextRunTime = f.Int64()
		case 11:
			s.Callback = f.Callback()
		case 12:
			s.Retry = f.Retry()
		case 13:
			s.Status = f.String()
		case 14:
			s.ErrorMessage = f.String()
		case 15:
			s.HTTPStatus = f.Int()
		case 16:
			s.Attempts = f.Int()
		case 17:
			s.FiredAt = f.Int64()
		case 18:
			s.CompletedAt = f.Int64()
		case 19:
			s.Reconciles = f.Int()
		case 20:
			s.CreatedAt = f.Int64()
		case 21:
			s.CreatedSeq = f.Uint64()
		case 22:
			s.ClosedAt = f.Int64()
		}
	}
}

func (r *Run) appendWire(w *event.Wire) {
	w.String(1, r.RunID)
	w.String(2, r.ScheduleID)
	w.String(3, r.AppID)
	w.Int(4, int64(r.Partition))
	w.Int(5, r.ScheduledTime)
	w.String(6, r.Status)
	w.String(7, r.ErrorMessage)
	w.Int(8, int64(r.HTTPStatus))
	w.Int(9, int64(r.Attempts))
	w.Int(10, r.FiredAt)
	w.Int(11, r.CompletedAt)
	w.Int(12, int64(r.Reconciles))
}

func (r *Run) readWire(f *event.Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			r.RunID = f.String()
		case 2:
			r.ScheduleID = f.String()
		case 3:
			r.AppID = f.String()
		case 4:
			r.Partition = f.Int()
		case 5:
			r.ScheduledTime = f.Int64()
		case 6:
			r.Status = f.String()
		case 7:
			r.ErrorMessage = f.String()
		case 8:
			r.HTTPStatus = f.Int()
		case 9:
			r.Attempts = f.Int()
		case 10:
			r.FiredAt = f.Int64()
		case 11:
			r.CompletedAt = f.Int64()
		case 12:
			r.Reconciles = f.Int()
		}
	}
}

func (p *PendingRun) appendWire(w *event.Wire) {
	w.String(1, p.RunID)
	w.String(2, p.ScheduleID)
	w.String(3, p.AppID)
	w.Int(4, int64(p.Partition))
	w.Int(5, p.ScheduledTime)
	w.Int(6, p.DueMs)
	w.String(7, p.Kind)
	w.Bool(8, p.Fired)
	w.Int(9, p.FiredAt)
}

func (p *PendingRun) readWire(f *event.Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			p.RunID = f.String()
		case 2:
			p.ScheduleID = f.String()
		case 3:
			p.AppID = f.String()
		case 4:
			p.Partition = f.Int()
		case 5:
			p.ScheduledTime = f.Int64()
		case 6:
			p.DueMs = f.Int64()
		case 7:
			p.Kind = f.String()
		case 8:
			p.Fired = f.Bool()
		case 9:
			p.FiredAt = f.Int64()
		}
	}
}

func (n *Node) appendWire(w *event.Wire) {
	w.String(1, n.NodeID)
	w.String(2, n.HTTPAddr)
	w.String(3, n.RaftAddr)
	w.Int(4, n.AnnouncedAt)
	w.Int(5, int64(n.Schema))
}

func (n *Node) readWire(f *event.Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			n.NodeID = f.String()
		case 2:
			n.HTTPAddr = f.String()
		case 3:
			n.RaftAddr = f.String()
		case 4:
			n.AnnouncedAt = f.Int64()
		case 5:
			n.Schema = f.Int()
		}
	}
}
