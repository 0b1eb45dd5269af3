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
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// SchemaVersion is written into every envelope, and is the version New
// stamps. Version 1 is JSON (envelope and payload); version 2 is the
// binary wire form (see wire.go), which a build since 2026-11-30 writes.
// Decode reads both: testdata/ holds a golden log of each that must replay
// forever.
const SchemaVersion = 2

// SchemaJSON is version 1, the JSON form: the only one builds before
// 2026-11-30 read.
const SchemaJSON = 1

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
	TypeScheduleClosed  Type = 11
	TypeSecretRotated   Type = 12
	TypeTokenIssued     Type = 13
	TypeTokenRevoked    Type = 14
	TypeScheduleUpdated Type = 15
	TypeSchedulePaused  Type = 16
	TypeScheduleResumed Type = 17
	TypeRunTriggered    Type = 18
	// TypeScheduleStoppedByCallback: see ScheduleStoppedByCallback.
	TypeScheduleStoppedByCallback Type = 19
	// TypeSignatureSpent: see SignatureSpent.
	TypeSignatureSpent Type = 20
	// TypeRunOutput: see RunOutput.
	TypeRunOutput Type = 21
	// TypeNotificationSent: see NotificationSent.
	TypeNotificationSent Type = 22
	// Workflow jobs: see workflow.go.
	TypeJobCreated   Type = 23
	TypeJobStarted   Type = 24
	TypeTaskStarted  Type = 25
	TypeTaskFinished Type = 26
	TypeJobFinished  Type = 27
	TypeJobCancelled Type = 28
	// Add new types here with the next unused number, and move NewestType.
)

// NewestType is the newest event type this build reads. Nodes announce
// it, and a leader proposes a type only once every member reads it (a
// node that meets an event it cannot read stops).
const NewestType = TypeJobCancelled

// LifecycleSince is the oldest "newest type" of builds that know a
// schedule's lifecycle (ScheduleUpdated to ScheduleStoppedByCallback, the
// Definition fields, ScheduleClosed's reason expired): a leader proposes
// anything of it once every member reads this type.
const LifecycleSince = TypeScheduleStoppedByCallback

// JobsSince is the oldest "newest type" of builds that read what a job
// imported from another scheduler needs (karajo's): a callback's request
// shape (Callback.Shaped: its own signature, parameters, success status,
// unverified TLS, a path on this cluster), command callbacks and their
// outputs (RunOutput), the run counter, overlap and output retention of a
// Definition, CANCELED outcomes, spent signatures, notifications, and cron expressions
// made of several parts (`;`). An older build would drop the fields,
// refuse the status or could not evaluate the expression, so a leader
// proposes them once every member reads this type.
const JobsSince = TypeNotificationSent

// WorkflowsSince is the oldest "newest type" of builds that read workflow
// jobs (workflow callbacks and the job events): a leader proposes them once
// every member reads this type.
const WorkflowsSince = TypeJobCancelled

// ActorsSince is the oldest "newest type" of builds that read Raft
// commands carrying each event's actor (format 3): a leader writes them
// once every member reads this type.
const ActorsSince = TypeTokenIssued

// OldestNewestType is what a member that never announced its newest type
// reads: the types of builds before types were announced.
const OldestNewestType = TypeEventsCompacted

var typeNames = map[Type]string{
	TypeAppRegistered:             "AppRegistered",
	TypeAppActivated:              "AppActivated",
	TypeAppDeactivated:            "AppDeactivated",
	TypeScheduleCreated:           "ScheduleCreated",
	TypeScheduleDeleted:           "ScheduleDeleted",
	TypeRunFired:                  "RunFired",
	TypeRunCompleted:              "RunCompleted",
	TypeBulkAction:                "BulkAction",
	TypeNodeAnnounced:             "NodeAnnounced",
	TypeEventsCompacted:           "EventsCompacted",
	TypeScheduleClosed:            "ScheduleClosed",
	TypeSecretRotated:             "SecretRotated",
	TypeTokenIssued:               "TokenIssued",
	TypeTokenRevoked:              "TokenRevoked",
	TypeScheduleUpdated:           "ScheduleUpdated",
	TypeSchedulePaused:            "SchedulePaused",
	TypeScheduleResumed:           "ScheduleResumed",
	TypeRunTriggered:              "RunTriggered",
	TypeScheduleStoppedByCallback: "ScheduleStoppedByCallback",
	TypeSignatureSpent:            "SignatureSpent",
	TypeRunOutput:                 "RunOutput",
	TypeNotificationSent:          "NotificationSent",
	TypeJobCreated:                "JobCreated",
	TypeJobStarted:                "JobStarted",
	TypeTaskStarted:               "TaskStarted",
	TypeTaskFinished:              "TaskFinished",
	TypeJobFinished:               "JobFinished",
	TypeJobCancelled:              "JobCancelled",
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
	V     int    `json:"v"`
	Seq   uint64 `json:"seq"`
	Type  Type   `json:"type"`
	Time  int64  `json:"time"` // unix nanoseconds, stamped by the proposer
	Node  string `json:"node"` // node that proposed the event
	Term  uint64 `json:"term"` // Raft term of the entry that carried it
	Index uint64 `json:"index"`
	// Data is the payload in the form V names: JSON for version 1, the
	// wire form for version 2. Read it with Payload, JSON or View.
	Data []byte `json:"data"`
	// Actor is who caused the event: the id of the API token of the
	// request, "admin" for the admin token, "anonymous" with auth off,
	// "system" for the engine's own events ("" in logs of builds before
	// actors were recorded).
	Actor string `json:"actor,omitempty"`
}

// Actors that are not token ids.
const (
	ActorAdmin     = "admin"
	ActorAnonymous = "anonymous"
	ActorSystem    = "system"
	// ActorSigned: a request authorized by its own signature rather than a
	// token (karajo's API, signed with karajo's secrets).
	ActorSigned = "signed"
)

// jsonEnvelope is the stored form of schema version 1.
type jsonEnvelope struct {
	V     int             `json:"v"`
	Seq   uint64          `json:"seq"`
	Type  Type            `json:"type"`
	Time  int64           `json:"time"`
	Node  string          `json:"node"`
	Term  uint64          `json:"term"`
	Index uint64          `json:"index"`
	Data  json.RawMessage `json:"data"`
	Actor string          `json:"actor,omitempty"`
}

// MarshalJSON writes the version 1 envelope; a version 2 event has no
// JSON envelope (its payload is binary): use View for a JSON rendering.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.V != SchemaJSON {
		return nil, fmt.Errorf("event seq %d: schema version %d has no JSON envelope", e.Seq, e.V)
	}
	return json.Marshal(e.jsonEnvelope())
}

func (e Event) jsonEnvelope() jsonEnvelope {
	return jsonEnvelope{V: e.V, Seq: e.Seq, Type: e.Type, Time: e.Time, Node: e.Node, Term: e.Term, Index: e.Index,
		Data: e.Data, Actor: e.Actor}
}

// UnmarshalJSON reads a version 1 envelope (Raft commands of format 1
// carry events in it).
func (e *Event) UnmarshalJSON(b []byte) error {
	var j jsonEnvelope
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = Event{V: j.V, Seq: j.Seq, Type: j.Type, Time: j.Time, Node: j.Node, Term: j.Term, Index: j.Index,
		Data: j.Data, Actor: j.Actor}
	return nil
}

// New wraps a payload in an envelope stamped with the proposer's time and
// node, in the current schema version.
func New(p Payload, timeNanos int64, node string) (Event, error) {
	k, ok := payloadKinds[p.EventType()]
	w := NewWire(make([]byte, 0, 128))
	if !ok || !k.append(w, p) {
		return Event{}, fmt.Errorf("encode %s payload: %T has no wire form", p.EventType(), p)
	}
	return Event{V: SchemaVersion, Type: p.EventType(), Time: timeNanos, Node: node, Data: w.Bytes()}, nil
}

// Envelope fields of the binary form (after its leading version byte).
const (
	envSeq   = 1
	envType  = 2
	envTime  = 3
	envNode  = 4
	envTerm  = 5
	envIndex = 6
	envData  = 7
	envActor = 8
)

// Encode returns the stored form of an envelope: JSON for version 1 (so a
// version 1 event re-encodes to the bytes it was read from), otherwise the
// version byte followed by the envelope's fields in the wire form.
func Encode(e Event) ([]byte, error) {
	switch e.V {
	case SchemaJSON:
		b, err := json.Marshal(e.jsonEnvelope())
		if err != nil {
			return nil, fmt.Errorf("encode event seq %d: %w", e.Seq, err)
		}
		return b, nil
	case SchemaVersion:
		w := NewWire(make([]byte, 0, 40+len(e.Node)+len(e.Data)))
		w.Raw(byte(SchemaVersion))
		w.Uint(envSeq, e.Seq)
		w.Uint(envType, uint64(e.Type))
		w.Int(envTime, e.Time)
		w.String(envNode, e.Node)
		w.Uint(envTerm, e.Term)
		w.Uint(envIndex, e.Index)
		if len(e.Data) > 0 {
			w.b = protowire.AppendTag(w.b, envData, protowire.BytesType)
			w.b = protowire.AppendBytes(w.b, e.Data)
		}
		w.String(envActor, e.Actor)
		return w.Bytes(), nil
	}
	return nil, fmt.Errorf("encode event seq %d: unsupported schema version %d", e.Seq, e.V)
}

// Decode parses a stored envelope of either form. It rejects versions and
// types this build does not know, rather than guessing. The result shares
// no memory with b.
func Decode(b []byte) (Event, error) {
	if len(b) == 0 {
		return Event{}, errors.New("decode event envelope: empty")
	}
	var e Event
	if b[0] == '{' {
		if err := json.Unmarshal(b, &e); err != nil {
			return Event{}, fmt.Errorf("decode event envelope: %w", err)
		}
		if e.V != SchemaJSON {
			return Event{}, fmt.Errorf("decode event seq %d: unsupported schema version %d", e.Seq, e.V)
		}
	} else {
		if b[0] != SchemaVersion {
			return Event{}, fmt.Errorf("decode event envelope: unsupported schema version %d", b[0])
		}
		e.V = SchemaVersion
		f := NewFields(b[1:])
		for f.Next() {
			switch f.Num() {
			case envSeq:
				e.Seq = f.Uint64()
			case envType:
				t := f.Uint64()
				if t > 0xffff {
					return Event{}, fmt.Errorf("decode event seq %d: unknown type %d", e.Seq, t)
				}
				e.Type = Type(t)
			case envTime:
				e.Time = f.Int64()
			case envNode:
				e.Node = f.String()
			case envTerm:
				e.Term = f.Uint64()
			case envIndex:
				e.Index = f.Uint64()
			case envData:
				e.Data = f.Bytes()
			case envActor:
				e.Actor = f.String()
			}
		}
		if err := f.Err(); err != nil {
			return Event{}, fmt.Errorf("decode event envelope: %w", err)
		}
	}
	if !e.Type.Known() {
		return Event{}, fmt.Errorf("decode event seq %d: unknown type %d", e.Seq, e.Type)
	}
	return e, nil
}

// Payload decodes the event's data into its typed payload (a pointer).
func (e Event) Payload() (Payload, error) {
	k, ok := payloadKinds[e.Type]
	if !ok {
		return nil, fmt.Errorf("decode payload of event seq %d: unknown type %d", e.Seq, e.Type)
	}
	var p Payload
	switch e.V {
	case SchemaJSON:
		p = k.new()
		if err := json.Unmarshal(e.Data, p); err != nil {
			return nil, fmt.Errorf("decode %s payload of event seq %d: %w", e.Type, e.Seq, err)
		}
	case SchemaVersion:
		f := NewFields(e.Data)
		p = k.read(&f)
		if err := f.Err(); err != nil {
			return nil, fmt.Errorf("decode %s payload of event seq %d: %w", e.Type, e.Seq, err)
		}
	default:
		return nil, fmt.Errorf("decode payload of event seq %d: unsupported schema version %d", e.Seq, e.V)
	}
	return p, nil
}

// JSON is the payload as JSON, the form the APIs show (for version 1 the
// stored bytes themselves).
func (e Event) JSON() (json.RawMessage, error) {
	if e.V == SchemaJSON {
		return e.Data, nil
	}
	p, err := e.Payload()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("payload of event seq %d as JSON: %w", e.Seq, err)
	}
	return b, nil
}

// ShownJSON is the payload as JSON as it may be shown: JSON, with the
// secret headers of a callback masked.
func (e Event) ShownJSON() (json.RawMessage, error) {
	switch e.Type {
	case TypeScheduleCreated, TypeScheduleUpdated, TypeAppRegistered, TypeSecretRotated:
	default:
		return e.JSON()
	}
	p, err := e.Payload()
	if err != nil {
		return nil, err
	}
	switch p := p.(type) {
	case *ScheduleCreated:
		p.Callback = p.Callback.Shown()
	case *ScheduleUpdated:
		p.Callback = p.Callback.Shown()
	case *AppRegistered:
		p.SigningSecret = maskSecret(p.SigningSecret)
	case *SecretRotated:
		p.Secret = maskSecret(p.Secret)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("payload of event seq %d as JSON: %w", e.Seq, err)
	}
	return b, nil
}

// InJSON returns e in schema version 1, its payload re-encoded as JSON
// (e itself if it is already): what a leader proposes while a member of
// an older build cannot read version 2.
func (e Event) InJSON() (Event, error) {
	if e.V == SchemaJSON {
		return e, nil
	}
	data, err := e.JSON()
	if err != nil {
		return Event{}, err
	}
	e.V, e.Data = SchemaJSON, data
	return e, nil
}

// RunID is the run a RunFired, RunCompleted, RunTriggered or
// ScheduleStoppedByCallback event is about ("" for
// other events, or if the payload cannot be read).
func (e Event) RunID() string {
	switch e.Type {
	case TypeRunFired, TypeRunCompleted, TypeRunTriggered, TypeScheduleStoppedByCallback:
	default:
		return ""
	}
	p, err := e.Payload()
	if err != nil {
		return ""
	}
	switch p := p.(type) {
	case *RunFired:
		return p.RunID
	case *RunCompleted:
		return p.RunID
	case *RunTriggered:
		return p.RunID
	case *ScheduleStoppedByCallback:
		return p.RunID
	}
	return ""
}

// App is the app an event is about ("" for cluster and token events, or
// if the payload cannot be read).
func (e Event) App() string {
	p, err := e.Payload()
	if err != nil {
		return ""
	}
	switch p := p.(type) {
	case *AppRegistered:
		return p.AppID
	case *AppActivated:
		return p.AppID
	case *AppDeactivated:
		return p.AppID
	case *SecretRotated:
		return p.AppID
	case *ScheduleCreated:
		return p.AppID
	case *ScheduleDeleted:
		return p.AppID
	case *ScheduleClosed:
		return p.AppID
	case *RunFired:
		return p.AppID
	case *RunCompleted:
		return p.AppID
	case *BulkAction:
		return p.AppID
	case *ScheduleUpdated:
		return p.AppID
	case *SchedulePaused:
		return p.AppID
	case *ScheduleResumed:
		return p.AppID
	case *RunTriggered:
		return p.AppID
	case *ScheduleStoppedByCallback:
		return p.AppID
	}
	return ""
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
	Actor    string          `json:"actor,omitempty"`
	Data     json.RawMessage `json:"data"`
}

// View returns the event as the APIs show it, secret callback headers
// masked (Callback.Shown).
func (e Event) View() (View, error) {
	data, err := e.ShownJSON()
	if err != nil {
		return View{}, err
	}
	return View{Seq: e.Seq, Type: e.Type.String(), TypeCode: uint16(e.Type),
		Time: time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano), Node: e.Node, Term: e.Term,
		Index: e.Index, Version: e.V, Actor: e.Actor, Data: data}, nil
}
