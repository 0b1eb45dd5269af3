package cluster

import (
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/projections"
)

// Directory finds the leader's HTTP address: the leader's id comes from
// Raft, its address from the members projection (NodeAnnounced).
type Directory struct {
	leader func() string // the leader's id ("" if none)
	state  projections.Reader

	mu     sync.Mutex
	cached leaderAddr
}

type leaderAddr struct {
	id, addr string
	at       time.Time
}

// leaderAddrTTL bounds how long a re-announced leader address can be
// stale: a forward to an old address fails with a 503 the client retries.
// It spares a follower a scan of the projection for every write.
const leaderAddrTTL = time.Second

// NewDirectory returns a directory reading the leader's id from leader.
func NewDirectory(leader func() string, state projections.Reader) *Directory {
	return &Directory{leader: leader, state: state}
}

// Leader returns the leader's id and announced HTTP address ("" if
// unknown).
func (d *Directory) Leader() (id, addr string) {
	id = d.leader()
	if id == "" {
		return "", ""
	}
	d.mu.Lock()
	cached := d.cached
	d.mu.Unlock()
	if cached.id == id && cached.addr != "" && time.Since(cached.at) < leaderAddrTTL {
		return id, cached.addr
	}
	nodes, err := d.state.Nodes()
	if err != nil {
		return id, ""
	}
	addr = nodes[id].HTTPAddr
	d.mu.Lock()
	d.cached = leaderAddr{id: id, addr: addr, at: time.Now()}
	d.mu.Unlock()
	return id, addr
}
