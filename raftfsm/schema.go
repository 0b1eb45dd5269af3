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
// version 1 (JSON) events, or not the newest event types. An entry they
// cannot decode stops them (apply panics rather than diverge), so the
// leader proposes version 2 only once every member of the Raft
// configuration has announced, through a NodeAnnounced event, that its
// build reads it (until then it converts its events to version 1), and an
// event type only once every member has announced that it reads that type
// (until then such an event is refused, and its proposer waits). This node
// counts as current without announcing: its own build is known.

// schemaRecheck bounds how stale the leader's view of the members' builds
// may be: a member that announces is written for at version 2 this long
// after, at the latest.
const schemaRecheck = time.Second

// schemaGate keeps what the cluster reads, recomputed at most once per
// schemaRecheck unless a member announced meanwhile.
type schemaGate struct {
	mu    sync.Mutex // guards the fields below
	until time.Time  // when reads must be recomputed
	reads clusterReads
	// announcements is the FSM's count of applied announcements reads was
	// computed at: a new one recomputes it at once (a fresh cluster's
	// members announce moments after it forms, and a token issued then
	// should not be refused for a second).
	announcements uint64
}

// clusterReads is what every member of the cluster reads.
type clusterReads struct {
	version int        // the newest event schema version
	types   event.Type // the newest event type
}

// Proposable reports whether every member reads events of type t, so
// that the leader may propose one.
func (n *Node) Proposable(t event.Type) bool {
	r, err := n.reads()
	return err == nil && t <= r.types
}

// reads returns what every member reads, recomputing it if stale.
func (n *Node) reads() (clusterReads, error) {
	n.schema.mu.Lock()
	defer n.schema.mu.Unlock()
	now := time.Now()
	seen := n.fsm.Announcements()
	if now.Before(n.schema.until) && seen == n.schema.announcements {
		return n.schema.reads, nil
	}
	v, types, err := n.clusterSchema()
	if err != nil {
		return clusterReads{}, err
	}
	n.schema.reads, n.schema.until, n.schema.announcements = clusterReads{version: v, types: types}, now.Add(schemaRecheck), seen
	return n.schema.reads, nil
}

// clusterSchema is the newest schema version and event type every member
// reads.
func (n *Node) clusterSchema() (int, event.Type, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return 0, 0, fmt.Errorf("raft configuration: %w", err)
	}
	version, types := event.SchemaVersion, event.NewestType
	var announced map[string]projections.Node
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(n.cfg.NodeID) {
			continue
		}
		if announced == nil {
			var err error
			if announced, err = (projections.Reader{R: n.stateDB}).Nodes(); err != nil {
				return 0, 0, err
			}
		}
		a := announced[string(s.ID)]
		if a.Schema < event.SchemaVersion {
			version = event.SchemaJSON
		}
		types = min(types, max(event.Type(a.Types), event.OldestNewestType))
	}
	return version, types, nil
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
