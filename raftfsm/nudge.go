package raftfsm

import (
	"sync"
	"time"
)

// A follower learns that an entry committed only from the leader's next
// AppendEntries: hashicorp/raft sends one when a new entry is appended,
// or, with nothing new, after CommitTimeout (10–20 ms); its heartbeats do
// not carry the commit index. A write a follower took (forwarded creates,
// relayed requests) is answered only once the follower applied it, so
// its read-your-write would wait for whatever the leader appends next: a
// lone create through a follower took 18 ms against 1.4 ms on the
// leader. After answering a follower, the leader therefore makes sure an
// AppendEntries goes out: if nothing was appended after the index the
// follower waits for, it appends an empty command, whose replication
// carries the commit index. Under load the next proposal does this anyway
// and nothing is added.
//
// The entry is a command with no events, not a Raft barrier: every node's
// FSM applies it (it only advances the applied index), so a node's applied
// index still reaches the commit index when the log ends with one, which
// CaughtUp relies on. Every build decodes it: commands have had the binary
// envelope since before forwarding existed.

// commitNudge coalesces the requests: one empty entry at a time, and
// another only if an index arrived meanwhile that no later entry covers.
type commitNudge struct {
	mu      sync.Mutex
	running bool
	want    uint64 // highest index a follower waits to apply
}

// nudgeTimeout bounds one empty entry; a leader that cannot commit one in
// this time has bigger problems, and the follower falls back on the
// commit timeout.
const nudgeTimeout = 5 * time.Second

// nudgeCommit makes the followers hear soon that index committed. index
// must be applied on this node (so it is committed).
func (n *Node) nudgeCommit(index uint64) {
	n.nudge.mu.Lock()
	defer n.nudge.mu.Unlock()
	if index > n.nudge.want {
		n.nudge.want = index
	}
	if !n.nudge.running {
		n.nudge.running = true
		go n.runNudges()
	}
}

func (n *Node) runNudges() {
	done := uint64(0)
	for {
		n.nudge.mu.Lock()
		want := n.nudge.want
		if want <= done {
			n.nudge.running = false
			n.nudge.mu.Unlock()
			return
		}
		n.nudge.mu.Unlock()
		// An entry appended after want is replicated with a commit index
		// of at least want, unless it was sent before want committed; the
		// follower then waits for the commit timeout, as without nudges.
		if n.raft.LastIndex() <= want && n.IsLeader() {
			_, _, _ = n.propose(nil, nudgeTimeout)
		}
		done = want
	}
}

// FollowerIndex is what a leader answers a follower that relayed a write:
// the index it applied, which the follower applies before it answers.
// The followers are nudged to hear that it committed.
func (n *Node) FollowerIndex() uint64 {
	index := n.AppliedIndex()
	n.nudgeCommit(index)
	return index
}
