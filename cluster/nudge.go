package cluster

import (
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// A follower learns that an entry committed only from the leader's next
// AppendEntries: hashicorp/raft sends one when a new entry is appended,
// or, with nothing new, after CommitTimeout (10–20 ms); its heartbeats do
// not carry the commit index. A write a follower took (forwarded creates,
// relayed requests) is answered only once the follower applied it, so
// its read-your-write would wait for whatever the leader appends next, a
// lone create through a follower ten times slower than on the leader
// (bench/RESULTS.md, "Measurements behind the code").
// After answering a follower, the leader therefore makes sure an
// AppendEntries goes out: if nothing was appended after the index the
// follower waits for, it appends an empty entry, whose replication carries
// the commit index. Under load the next proposal does this anyway and
// nothing is added.
//
// The entry is a command with no events, not a Raft barrier: every node's
// FSM applies it (it only advances the applied index), so a node's applied
// index still reaches the commit index when the log ends with one, which
// raftfsm.Node.CaughtUp relies on.

// leaderLog is what nudging needs of the local replica.
type leaderLog interface {
	IsLeader() bool
	LastIndex() uint64
	Propose(evs []event.Event, timeout time.Duration) ([]raftfsm.Result, uint64, error)
}

// nudger coalesces the requests: one empty entry at a time, and another
// only if an index arrived meanwhile that no later entry covers.
type nudger struct {
	log leaderLog

	// mu guards running and want.
	mu      sync.Mutex
	running bool
	want    uint64 // highest index a follower waits to apply
}

// nudgeTimeout bounds one empty entry; a leader that cannot commit one in
// this time has bigger problems, and the follower falls back on the
// commit timeout.
const nudgeTimeout = 5 * time.Second

// commit makes the followers hear soon that index committed. index must
// be applied on this node (so it is committed).
func (n *nudger) commit(index uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if index > n.want {
		n.want = index
	}
	if !n.running {
		n.running = true
		go n.run()
	}
}

func (n *nudger) run() {
	done := uint64(0)
	for {
		n.mu.Lock()
		want := n.want
		if want <= done {
			n.running = false
			n.mu.Unlock()
			return
		}
		n.mu.Unlock()
		// An entry appended after want is replicated with a commit index
		// of at least want, unless it was sent before want committed; the
		// follower then waits for the commit timeout, as without nudges.
		if n.log.LastIndex() <= want && n.log.IsLeader() {
			_, _, _ = n.log.Propose(nil, nudgeTimeout)
		}
		done = want
	}
}
