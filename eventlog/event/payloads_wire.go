package event

import "google.golang.org/protobuf/encoding/protowire"

// Binary (schema version 2) form of each payload. Field numbers follow the
// struct's field order; they are stored in every log, so they never change
// and a new field takes the next unused number.

// wirePayload is implemented by every payload's pointer.
type wirePayload interface {
	Payload
	appendWire(w *Wire)
	readWire(f *Fields)
}

func (p AppRegistered) appendWire(w *Wire) {
	w.String(1, p.AppID)
	w.Int(2, int64(p.Partitions))
	w.Bool(3, p.Active)
}

func (p *AppRegistered) readWire(f *Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			p.AppID = f.String()
		case 2:
			p.Partitions = f.Int()
		case 3:
			p.Active = f.Bool()
		}
	}
}

func (p AppActivated) appendWire(w *Wire) { w.String(1, p.AppID) }

func (p *AppActivated) readWire(f *Fields) {
	for f.Next() {
		if f.Num() == 1 {
			p.AppID = f.String()
		}
	}
}

func (p AppDeactivated) appendWire(w *Wire) { w.String(1, p.AppID) }

func (p *AppDeactivated) readWire(f *Fields) {
	for f.Next() {
		if f.Num() == 1 {
			p.AppID = f.String()
		}
	}
}

// AppendWire writes the callback's fields (records embed it too).
func (c Callback) AppendWire(w *Wire) {
	w.String(1, c.Type)
	w.String(2, c.URL)
	w.String(3, c.Method)
	w.StringMap(4, c.Headers)
}

// ReadWire reads what AppendWire wrote.
func (c *Callback) ReadWire(f *Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			c.Type = f.String()
		case 2:
			c.URL = f.String()
		case 3:
			c.Method = f.String()
		case 4:
			f.StringMapEntry(&c.Headers)
		}
	}
}

// AppendWire writes the policy's fields (records embed it too).
func (r RetryPolicy) AppendWire(w *Wire) {
	w.Int(1, int64(r.MaxAttempts))
	w.Int(2, r.TimeoutMs)
	w.Int(3, r.InitialBackoffMs)
	w.Int(4, r.MaxBackoffMs)
	if r.RetryOn4xx != nil {
		// Present-and-false differs from absent: write it either way.
		w.Message(5, func(b *Wire) { b.Bool(1, *r.RetryOn4xx) })
	}
}

// ReadWire reads what AppendWire wrote.
func (r *RetryPolicy) ReadWire(f *Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			r.MaxAttempts = f.Int()
		case 2:
			r.TimeoutMs = f.Int64()
		case 3:
			r.InitialBackoffMs = f.Int64()
		case 4:
			r.MaxBackoffMs = f.Int64()
		case 5:
			var v bool
			f.Message(func(b *Fields) {
				for b.Next() {
					if b.Num() == 1 {
						v = b.Bool()
					}
				}
			})
			r.RetryOn4xx = &v
		}
	}
}

// AppendRetry writes an optional policy as message n (absent when nil).
func (w *Wire) AppendRetry(n protowire.Number, r *RetryPolicy) {
	if r != nil {
		w.Message(n, r.AppendWire)
	}
}

// Retry reads an optional policy written by AppendRetry.
func (f *Fields) Retry() *RetryPolicy {
	r := &RetryPolicy{}
	f.Message(r.ReadWire)
	return r
}

// Callback reads a callback message.
func (f *Fields) Callback() Callback {
	var c Callback
	f.Message(c.ReadWire)
	return c
}

func (p ScheduleCreated) appendWire(w *Wire) {
	w.String(1, p.ScheduleID)
	w.String(2, p.AppID)
	w.Int(3, int64(p.Partition))
	w.String(4, p.Payload)
	w.Int(5, p.ScheduleTime)
	w.Int(6, p.ScheduleTimeMs)
	w.String(7, p.CronExpression)
	w.String(8, p.TimeZone)
	w.Int(9, p.NextRunTime)
	w.Message(10, p.Callback.AppendWire)
	w.AppendRetry(11, p.Retry)
}

func (p *ScheduleCreated) readWire(f *Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			p.ScheduleID = f.String()
		case 2:
			p.AppID = f.String()
		case 3:
			p.Partition = f.Int()
		case 4:
			p.Payload = f.String()
		case 5:
			p.ScheduleTime = f.Int64()
		case 6:
			p.ScheduleTimeMs = f.Int64()
		case 7:
			p.CronExpression = f.String()
		case 8:
			p.TimeZone = f.String()
		case 9:
			p.NextRunTime = f.Int64()
		case 10:
			p.Callback = f.Callback()
		case 11:
			p.Retry = f.Retry()
		}
	}
}

func (p ScheduleDeleted) appendWire(w *Wire) {
	w.String(1, p.ScheduleID)
	w.String(2, p.AppID)
}

func (p *ScheduleDeleted) readWire(f *Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			p.ScheduleID = f.String()
		case 2:
			p.AppID = f.String()
		}
	}
}

func (p RunFired) appendWire(w *Wire) {
	w.String(1, p.ScheduleID)
	w.String(2, p.RunID)
	w.String(3, p.AppID)
	w.Int(4, int64(p.Partition))
	w.Int(5, p.ScheduledTime)
	w.Int(6, p.NextRunTime)
	w.Bool(7, p.Refire)
}

func (p *RunFired) readWire(f *Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			p.ScheduleID = f.String()
		case 2:
			p.RunID = f.String()
		case 3:
			p.AppID = f.String()
		case 4:
			p.Partition = f.Int()
		case 5:
			p.ScheduledTime = f.Int64()
		case 6:
			p.NextRunTime = f.Int64()
		case 7:
			p.Refire = f.Bool()
		}
	}
}

func (p RunCompleted) appendWire(w *Wire) {
	w.String(1, p.ScheduleID)
	w.String(2, p.RunID)
	w.String(3, p.AppID)
	w.Int(4, int64(p.Partition))
	w.Int(5, p.ScheduledTime)
	w.String(6, p.Status)
	w.String(7, p.ErrorMessage)
	w.Int(8, int64(p.HTTPStatus))
	w.Int(9, int64(p.Attempts))
	w.Int(10, p.StartedAt)
	w.Int(11, p.FinishedAt)
	w.Int(12, p.NextRunTime)
	w.Int(13, int64(p.Skipped))
}

func (p *RunCompleted) readWire(f *Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			p.ScheduleID = f.String()
		case 2:
			p.RunID = f.String()
		case 3:
			p.AppID = f.String()
		case 4:
			p.Partition = f.Int()
		case 5:
			p.ScheduledTime = f.Int64()
		case 6:
			p.Status = f.String()
		case 7:
			p.ErrorMessage = f.String()
		case 8:
			p.HTTPStatus = f.Int()
		case 9:
			p.Attempts = f.Int()
		case 10:
			p.StartedAt = f.Int64()
		case 11:
			p.FinishedAt = f.Int64()
		case 12:
			p.NextRunTime = f.Int64()
		case 13:
			p.Skipped = f.Int()
		}
	}
}

func (p BulkAction) appendWire(w *Wire) {
	w.String(1, p.AppID)
	w.String(2, p.Action)
	w.String(3, p.Status)
	w.Int(4, p.StartTime)
	w.Int(5, p.EndTime)
}

func (p *BulkAction) readWire(f *Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			p.AppID = f.String()
		case 2:
			p.Action = f.String()
		case 3:
			p.Status = f.String()
		case 4:
			p.StartTime = f.Int64()
		case 5:
			p.EndTime = f.Int64()
		}
	}
}

func (p NodeAnnounced) appendWire(w *Wire) {
	w.String(1, p.NodeID)
	w.String(2, p.HTTPAddr)
	w.String(3, p.RaftAddr)
	w.Int(4, int64(p.Schema))
}

func (p *NodeAnnounced) readWire(f *Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			p.NodeID = f.String()
		case 2:
			p.HTTPAddr = f.String()
		case 3:
			p.RaftAddr = f.String()
		case 4:
			p.Schema = f.Int()
		}
	}
}

func (p EventsCompacted) appendWire(w *Wire) {
	w.Int(1, p.Cutoff)
	w.String(2, p.Retention)
	w.Strings(3, p.ScheduleIDs)
}

func (p *EventsCompacted) readWire(f *Fields) {
	for f.Next() {
		switch f.Num() {
		case 1:
			p.Cutoff = f.Int64()
		case 2:
			p.Retention = f.String()
		case 3:
			p.ScheduleIDs = append(p.ScheduleIDs, f.String())
		}
	}
}
