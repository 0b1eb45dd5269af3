package raftfsm

import (
	"fmt"
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/hashicorp/raft"
)

// During a rolling upgrade a cluster holds builds that read only schema
// version 1 (JSON) events. An entry they cannot decode stops them (apply
// panics rather than diverge), so the leader proposes version 2 only once
// every member of the Raft configuration has announced, through a
// NodeAnnounced event, that its build reads it; until then it converts its
// events to version 1. This node counts as current without announcing: its
// own build is known (a single node never converts).

// schemaRecheck bounds how stale the leader's view of the members' builds
// may be: a member that announces is written for at version 2 this long
// after, at the latest.
const schemaRecheck = time.Second

type schemaGate struct {
	mu      sync.Mutex
	until   time.Time // when version must be recomputed
	version int
}

// proposalSchema is the event schema version to propose in now.
func (n *Node) proposalSchema() (int, error) {
	n.schema.mu.Lock()
	defer n.schema.mu.Unlock()
	now := time.Now()
	if now.Before(n.schema.until) {
		return n.schema.version, nil
	}
	v, err := n.clusterSchema()
	if err != nil {
		return 0, err
	}
	n.schema.version, n.schema.until = v, now.Add(schemaRecheck)
	return v, nil
}

// clusterSchema is the newest schema version every member reads.
func (n *Node) clusterSchema() (int, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return 0, fmt.Errorf("raft configuration: %w", err)
	}
	var announced map[string]projections.Node
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(n.cfg.NodeID) {
			continue
		}
		if announced == nil {
			var err error
			if announced, err = (projections.Reader{R: n.stateDB}).Nodes(); err != nil {
				return 0, err
			}
		}
		if announced[string(s.ID)].Schema < event.SchemaVersion {
			return event.SchemaJSON, nil
		}
	}
	return event.SchemaVersion, nil
}

// inSchema returns evs in schema version v (the payloads re-encoded as
// JSON for version 1).
func inSchema(evs []event.Event, v int) ([]event.Event, error) {
	if v == event.SchemaVersion {
		return evs, nil
	}
	out := make([]event.Event, len(evs))
	for i, ev := range evs {
		var err error
		if out[i], err = ev.InJSON(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
