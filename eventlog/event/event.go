// Package event is the vocabulary of Chronicle's append-only log: the event
// type enum, the envelope every event is stored in, and the payload of each
// type. It imports nothing of ours, so every other package can depend on it
// and a log written today can be decoded by any later build.
//
// Rules that keep old logs replayable:
//   - Type numbers are append-only. Never renumber, never reuse a retired
//     number; add new types at the end of the list with the next number.
//   - Payload fields may be added (old events decode with the zero value);
//     a field is never renamed, retyped or given a new meaning. A change
//     that cannot follow this bumps SchemaVersion and teaches Decode the old
//     form.
//   - Everything apply needs is inside the event: ids, times and the next
//     cron occurrence are stamped by the proposer, never computed in apply.
package event

import (
	"encoding/json"
	"fmt"
	"time"
)

// SchemaVersion is written into every envelope. Version 1 is the first
// format; testdata/ holds a golden log of it that must replay forever.
const SchemaVersion = 1

// Type identifies an event's payload. Stored as a number: see the package
// rules before touching this list.
type Type uint16

const (
	TypeAppRegistered   Type = 1
	TypeAppActivated    Type = 2
	TypeAppDeactivated  Type = 3
	TypeScheduleCreated Type = 4
	TypeScheduleDeleted Type = 5
	TypeRunFired        Type = 6
	TypeRunCompleted    Type = 7
	TypeBulkAction      Type = 8
	TypeNodeAnnounced   Type = 9
	TypeEventsCompacted Type = 10
	// Add new types here with the next unused number.
)

var typeNames = map[Type]string{
	TypeAppRegistered:   "AppRegistered",
	TypeAppActivated:    "AppActivated",
	TypeAppDeactivated:  "AppDeactivated",
	TypeScheduleCreated: "ScheduleCreated",
	TypeScheduleDeleted: "ScheduleDeleted",
	TypeRunFired:        "RunFired",
	TypeRunCompleted:    "RunCompleted",
	TypeBulkAction:      "BulkAction",
	TypeNodeAnnounced:   "NodeAnnounced",
	TypeEventsCompacted: "EventsCompacted",
}

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("Type(%d)", uint16(t))
}

// ParseType returns the type with the given name ("RunFired").
func ParseType(name string) (Type, bool) {
	for t, n := range typeNames {
		if n == name {
			return t, true
		}
	}
	return 0, false
}

// Known reports whether this build can decode events of type t.
func (t Type) Known() bool { _, ok := typeNames[t]; return ok }

// Payload is implemented by every event payload struct.
type Payload interface{ EventType() Type }

// Event is the envelope stored in the log. Seq, Term and Index are assigned
// when the event is applied (seq is the global, gap-free position in the
// log); Time and Node are stamped by the proposer before replication.
type Event struct {
	V     int             `json:"v"`
	Seq   uint64          `json:"seq"`
	Type  Type            `json:"type"`
	Time  int64           `json:"time"` // unix nanoseconds, stamped by the proposer
	Node  string          `json:"node"` // node that proposed the event
	Term  uint64          `json:"term"` // Raft term of the entry that carried it
	Index uint64          `json:"index"`
	Data  json.RawMessage `json:"data"`
}

// New wraps a payload in an envelope stamped with the proposer's time and node.
func New(p Payload, timeNanos int64, node string) (Event, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s payload: %w", p.EventType(), err)
	}
	return Event{V: SchemaVersion, Type: p.EventType(), Time: timeNanos, Node: node, Data: data}, nil
}

// Encode returns the stored form of an envelope.
func Encode(e Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event seq %d: %w", e.Seq, err)
	}
	return b, nil
}

// Decode parses a stored envelope. It rejects versions and types this build
// does not know, rather than guessing.
func Decode(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("decode event envelope: %w", err)
	}
	if e.V < 1 || e.V > SchemaVersion {
		return Event{}, fmt.Errorf("decode event seq %d: unsupported schema version %d", e.Seq, e.V)
	}
	if !e.Type.Known() {
		return Event{}, fmt.Errorf("decode event seq %d: unknown type %d", e.Seq, e.Type)
	}
	return e, nil
}

// Payload decodes the event's data into its typed payload.
func (e Event) Payload() (Payload, error) {
	var p Payload
	switch e.Type {
	case TypeAppRegistered:
		p = &AppRegistered{}
	case TypeAppActivated:
		p = &AppActivated{}
	case TypeAppDeactivated:
		p = &AppDeactivated{}
	case TypeScheduleCreated:
		p = &ScheduleCreated{}
	case TypeScheduleDeleted:
		p = &ScheduleDeleted{}
	case TypeRunFired:
		p = &RunFired{}
	case TypeRunCompleted:
		p = &RunCompleted{}
	case TypeBulkAction:
		p = &BulkAction{}
	case TypeNodeAnnounced:
		p = &NodeAnnounced{}
	case TypeEventsCompacted:
		p = &EventsCompacted{}
	default:
		return nil, fmt.Errorf("decode payload of event seq %d: unknown type %d", e.Seq, e.Type)
	}
	if err := json.Unmarshal(e.Data, p); err != nil {
		return nil, fmt.Errorf("decode %s payload of event seq %d: %w", e.Type, e.Seq, err)
	}
	return p, nil
}

// View is how the APIs show an event: its type by name as well as by
// number, its time in RFC 3339 (UTC, nanoseconds), and the payload as JSON.
type View struct {
	Seq      uint64          `json:"seq"`
	Type     string          `json:"type"`
	TypeCode uint16          `json:"typeCode"`
	Time     string          `json:"time"`
	Node     string          `json:"node"`
	Term     uint64          `json:"term"`
	Index    uint64          `json:"index"`
	Version  int             `json:"schemaVersion"`
	Data     json.RawMessage `json:"data"`
}

// View returns the event as the APIs show it.
func (e Event) View() View {
	return View{Seq: e.Seq, Type: e.Type.String(), TypeCode: uint16(e.Type),
		Time: time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano), Node: e.Node, Term: e.Term,
		Index: e.Index, Version: e.V, Data: e.Data}
}
