package raftfsm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/binread"
)

// The first byte of every Raft command names its format. A new format gets
// a new byte; old ones stay decodable, because a node replays the entries
// an older build wrote.
const (
	// formatJSON (1): {"events":[envelope...]} as JSON.
	formatJSON byte = 1
	// formatBinary (2): uvarint event count, then per event: uvarint
	// schema version, uvarint type, varint time, and the node and payload
	// data as uvarint-length-prefixed bytes. The payload bytes are in the
	// form the event's schema version names (JSON for 1, the wire form for
	// 2); the envelope around them is always binary: JSON envelopes cost a
	// node much of its CPU to encode on propose, and to validate and decode
	// on apply (bench/RESULTS.md, "Measurements behind the code").
	formatBinary byte = 2
	// formatActors (3): format 2 with each event's actor after its data,
	// as uvarint-length-prefixed bytes. Written once every member reads it
	// (builds whose newest event type is at least event.ActorsSince);
	// until then the actors are left out.
	formatActors byte = 3
)

// command is one Raft log entry: events stamped by one proposer, applied
// in order in the same batch. Seq, Term and Index are assigned by apply.
type command struct {
	Events []event.Event `json:"events"`
}

// EncodeCommand returns events in the Raft command form, with their
// actors if actors (every member reads format 3). Followers forward creates
// to the leader in this form too (the cluster package).
func EncodeCommand(evs []event.Event, actors bool) ([]byte, error) { return encodeCommand(evs, actors) }

// DecodeCommand reads events in the Raft command form (either format).
func DecodeCommand(b []byte) ([]event.Event, error) {
	c, err := decodeCommand(b)
	return c.Events, err
}

func encodeCommand(evs []event.Event, actors bool) ([]byte, error) {
	size := 1 + binary.MaxVarintLen64
	for _, ev := range evs {
		size += 5*binary.MaxVarintLen64 + len(ev.Node) + len(ev.Data) + len(ev.Actor)
	}
	b := make([]byte, 0, size)
	format := formatBinary
	if actors {
		format = formatActors
	}
	b = append(b, format)
	b = binary.AppendUvarint(b, uint64(len(evs)))
	for _, ev := range evs {
		if ev.V < 0 {
			return nil, fmt.Errorf("encode command: event %s has schema version %d", ev.Type, ev.V)
		}
		b = binary.AppendUvarint(b, uint64(ev.V))
		b = binary.AppendUvarint(b, uint64(ev.Type))
		b = binary.AppendVarint(b, ev.Time)
		b = appendBytes(b, []byte(ev.Node))
		b = appendBytes(b, ev.Data)
		if actors {
			b = appendBytes(b, []byte(ev.Actor))
		}
	}
	return b, nil
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func decodeCommand(b []byte) (command, error) {
	if len(b) == 0 {
		return command{}, errors.New("decode command: empty entry")
	}
	switch b[0] {
	case formatJSON:
		var c command
		if err := json.Unmarshal(b[1:], &c); err != nil {
			return command{}, fmt.Errorf("decode command: %w", err)
		}
		return c, nil
	case formatBinary, formatActors:
		c, err := decodeBinary(b[1:], b[0] == formatActors)
		if err != nil {
			return command{}, fmt.Errorf("decode command (%d bytes): %w", len(b), err)
		}
		return c, nil
	}
	return command{}, fmt.Errorf("decode command: unknown format byte %d (len %d)", b[0], len(b))
}

func decodeBinary(b []byte, actors bool) (command, error) {
	r := binread.Reader{B: b}
	n := r.Uvarint()
	if r.Err == nil && n > uint64(len(b)) { // every event takes at least one byte
		return command{}, fmt.Errorf("%d events in %d bytes", n, len(b))
	}
	c := command{Events: make([]event.Event, 0, n)}
	for i := uint64(0); i < n && r.Err == nil; i++ {
		v, typ, t := r.Uvarint(), r.Uvarint(), r.Varint()
		// Copies: the entry's buffer belongs to raft.
		node, data := string(r.Bytes()), bytes.Clone(r.Bytes())
		var actor string
		if actors {
			actor = string(r.Bytes())
		}
		if typ > 0xffff || v > 0xffff {
			return command{}, fmt.Errorf("event %d: type %d or version %d out of range", i, typ, v)
		}
		c.Events = append(c.Events, event.Event{V: int(v), Type: event.Type(typ), Time: t, Node: node,
			Data: json.RawMessage(data), Actor: actor})
	}
	if r.Err != nil {
		return command{}, r.Err
	}
	if len(r.B) != 0 {
		return command{}, fmt.Errorf("%d bytes after the last event", len(r.B))
	}
	return c, nil
}
