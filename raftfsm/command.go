package raftfsm

import (
	"encoding/json"
	"fmt"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

// commandFormat is the first byte of every Raft command this package
// writes. A new format gets a new byte; old ones stay decodable.
const commandFormat byte = 1

// command is one Raft log entry: events stamped by one proposer, applied
// in order in the same batch. Seq, Term and Index are assigned by apply.
type command struct {
	Events []event.Event `json:"events"`
}

func encodeCommand(evs []event.Event) ([]byte, error) {
	b, err := json.Marshal(command{Events: evs})
	if err != nil {
		return nil, fmt.Errorf("encode command of %d events: %w", len(evs), err)
	}
	return append([]byte{commandFormat}, b...), nil
}

func decodeCommand(b []byte) (command, error) {
	if len(b) == 0 || b[0] != commandFormat {
		return command{}, fmt.Errorf("decode command: unknown format byte (len %d)", len(b))
	}
	var c command
	if err := json.Unmarshal(b[1:], &c); err != nil {
		return command{}, fmt.Errorf("decode command: %w", err)
	}
	return c, nil
}
