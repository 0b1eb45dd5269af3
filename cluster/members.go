package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/buildinfo"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// Member is one server of the cluster as GET /cluster shows it.
type Member struct {
	ID          string     `json:"id"`
	RaftAddress string     `json:"raftAddress"`
	HTTPAddress string     `json:"httpAddress,omitempty"`
	Voter       bool       `json:"voter"`
	Leader      bool       `json:"leader"`
	Reachable   *bool      `json:"reachable,omitempty"`
	LastContact *time.Time `json:"lastContact,omitempty"` // when this node last heard from it
	// EventSchema is the newest event schema version the member's build
	// reads, as it announced it (absent: not announced yet, or a build that
	// reads only version 1). The leader writes version 2 once every member
	// shows it: during a rolling upgrade, this says who is left.
	EventSchema int `json:"eventSchema,omitempty"`
}

// Status is this node's view of the cluster (GET /cluster).
type Status struct {
	NodeID string `json:"nodeId"`
	// Build is this node's build (buildinfo.Read).
	Build         buildinfo.Info `json:"build"`
	LeaderID      string         `json:"leaderId"`
	LeaderAddress string         `json:"leaderAddress"`
	State         string         `json:"state"`
	Term          uint64         `json:"term"`
	AppliedIndex  uint64         `json:"appliedIndex"`
	Members       []Member       `json:"members"`
}

// Members shows the cluster and changes its membership. A change that
// would leave the voters this leader can reach without a quorum is
// refused unless forced: one POST of a voter that never comes up once
// left a single node a Candidate for good, every write failing.
type Members struct {
	node    *raftfsm.Node
	state   projections.Reader
	probes  *http.Client
	logger  *slog.Logger
	now     func() time.Time
	promote time.Duration // how long a new voter may take to catch up as a non-voter
	// peers is how this member calls the others.
	peers peerHTTP

	// mu guards lastSeen: when each member last answered a probe.
	mu       sync.Mutex
	lastSeen map[string]time.Time
}

// probePath is what a probe asks a member: any answer means its process
// is up; 200 means it has caught up with the leader (the health check).
const probePath = "/goscheduler/healthcheck"

// Status is this node's view, with every member's API probed (in
// parallel, briefly) so operators see who is reachable from here.
func (m *Members) Status(ctx context.Context) (Status, error) {
	st, err := m.node.Status()
	if err != nil {
		return Status{}, err
	}
	nodes, err := m.state.Nodes()
	if err != nil {
		return Status{}, err
	}
	out := Status{NodeID: st.NodeID, Build: buildinfo.Read(), LeaderID: st.LeaderID, LeaderAddress: st.LeaderAddr,
		State: st.State, Term: st.Term, AppliedIndex: st.AppliedIndex, Members: make([]Member, len(st.Members))}
	reach := m.probe(ctx, st.Members, nodes)
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, mb := range st.Members {
		r := reach[mb.ID].answered
		out.Members[i] = Member{ID: mb.ID, RaftAddress: mb.RaftAddr, HTTPAddress: nodes[mb.ID].HTTPAddr,
			Voter: mb.Voter, Leader: mb.Leader, EventSchema: nodes[mb.ID].Schema, Reachable: &r}
		if t, ok := m.lastSeen[mb.ID]; ok {
			out.Members[i].LastContact = &t
		}
	}
	return out, nil
}

// reachability is what a probe learnt of a member.
type reachability struct {
	answered bool // its API answered at all
	healthy  bool // it answered 200: it has caught up with the leader
}

// probe asks every member's API, in parallel; this node counts as
// reachable and healthy.
func (m *Members) probe(ctx context.Context, members []raftfsm.Member, nodes map[string]projections.Node) map[string]reachability {
	out := make(map[string]reachability, len(members))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, mb := range members {
		wg.Add(1)
		go func(id, addr string) {
			defer wg.Done()
			r := reachability{answered: true, healthy: true}
			if id != m.node.NodeID() {
				r = m.probeOne(ctx, addr)
			}
			mu.Lock()
			out[id] = r
			mu.Unlock()
		}(mb.ID, nodes[mb.ID].HTTPAddr)
	}
	wg.Wait()
	m.mu.Lock()
	for id, r := range out {
		if r.answered {
			m.lastSeen[id] = m.now().UTC()
		}
	}
	m.mu.Unlock()
	return out
}

func (m *Members) probeOne(ctx context.Context, httpAddr string) reachability {
	if httpAddr == "" {
		return reachability{}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.peers.url(httpAddr, probePath), nil)
	if err != nil {
		return reachability{}
	}
	res, err := m.probes.Do(req)
	if err != nil {
		return reachability{}
	}
	res.Body.Close()
	return reachability{answered: true, healthy: res.StatusCode == http.StatusOK}
}

// quorum is the majority of n voters.
func quorum(n int) int { return n/2 + 1 }

// voterView is the voters of the configuration and how many this leader
// can reach.
type voterView struct {
	members   []raftfsm.Member
	nodes     map[string]projections.Node
	reach     map[string]reachability
	voters    int
	reachable int
}

func (m *Members) voters(ctx context.Context) (voterView, error) {
	if !m.node.IsLeader() {
		return voterView{}, fmt.Errorf("%w: membership changes are made by the leader", raftfsm.ErrNotLeader)
	}
	st, err := m.node.Status()
	if err != nil {
		return voterView{}, err
	}
	nodes, err := m.state.Nodes()
	if err != nil {
		return voterView{}, err
	}
	v := voterView{members: st.Members, nodes: nodes, reach: m.probe(ctx, st.Members, nodes)}
	for _, mb := range st.Members {
		if mb.Voter {
			v.voters++
			if v.reach[mb.ID].answered {
				v.reachable++
			}
		}
	}
	return v, nil
}

func (v voterView) find(id string) *raftfsm.Member {
	for i := range v.members {
		if v.members[i].ID == id {
			return &v.members[i]
		}
	}
	return nil
}

// AddMember adds a member, or promotes a non-voter. A voter that would
// leave the reachable voters without a quorum (on a single node: any
// second voter, until it runs) is first added as a non-voter, and promoted
// once it has caught up, within the promote timeout; if it does not, it
// stays a non-voter and the answer (409) says what to do. force adds the
// voter at once, as raft would.
func (m *Members) AddMember(ctx context.Context, id, raftAddr string, voter, force bool) error {
	if err := admit.NodeID("id", id); err != nil {
		return err
	}
	if err := admit.HostPort("raftAddress", raftAddr); err != nil {
		return err
	}
	v, err := m.voters(ctx)
	if err != nil {
		return err
	}
	existing := v.find(id)
	switch {
	case existing != nil && existing.RaftAddr != raftAddr:
		return errkind.Newf(errkind.Conflict, "member %s is at %s: remove it first to give it another address", id, existing.RaftAddr)
	case existing != nil && existing.Voter && !voter:
		return errkind.Newf(errkind.Conflict, "member %s is a voter: remove it and add it again to make it a non-voter", id)
	case existing != nil && existing.Voter == voter:
		return nil // already so
	case !voter:
		return m.node.AddNonvoter(id, raftAddr)
	}
	newVoter := existing != nil && v.reach[id].healthy
	if force || safeWith(v.reachable+b2i(newVoter), v.voters+1) {
		return m.node.AddVoter(id, raftAddr)
	}
	if existing == nil {
		if err := m.node.AddNonvoter(id, raftAddr); err != nil {
			return err
		}
		m.logger.Info("membership: adding a voter as a non-voter until it catches up", "member", id, "raftAddress", raftAddr)
	}
	if m.awaitHealthy(ctx, id) {
		if v, err = m.voters(ctx); err != nil {
			return err
		}
		if safeWith(v.reachable+1, v.voters+1) {
			return m.node.AddVoter(id, raftAddr)
		}
	}
	return errkind.Newf(errkind.Conflict, "member %s is a non-voter: it has not caught up within %s, and as a voter now it "+
		"would leave %d of %d voters reachable, below the quorum of %d (the cluster would stop taking writes). Start it "+
		"(--peers listing the cluster, not itself) and POST again once GET /cluster shows it reachable, or pass \"force\": true",
		id, m.promote, v.reachable, v.voters+1, quorum(v.voters+1))
}

// safeWith reports whether reachable of voters make a quorum.
func safeWith(reachable, voters int) bool { return reachable >= quorum(voters) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// awaitHealthy waits, up to the promote timeout, until member id has
// announced its API and answers its health check with 200.
func (m *Members) awaitHealthy(ctx context.Context, id string) bool {
	ctx, cancel := context.WithTimeout(ctx, m.promote)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if nodes, err := m.state.Nodes(); err == nil && nodes[id].HTTPAddr != "" && m.probeOne(ctx, nodes[id].HTTPAddr).healthy {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// RemoveMember removes a member. Removing a voter that would leave the
// reachable voters without a quorum is refused unless forced.
func (m *Members) RemoveMember(ctx context.Context, id string, force bool) error {
	v, err := m.voters(ctx)
	if err != nil {
		return err
	}
	mb := v.find(id)
	switch {
	case mb == nil:
		return fmt.Errorf("%w: %s", raftfsm.ErrUnknownMember, id)
	case !mb.Voter || force:
	case v.voters == 1:
		return errkind.Newf(errkind.Conflict, "member %s is the only voter: a cluster cannot remove its last voter", id)
	case !safeWith(v.reachable-b2i(v.reach[id].answered), v.voters-1):
		return errkind.Newf(errkind.Conflict, "removing voter %s would leave %d of %d voters reachable, below the quorum of %d "+
			"(the cluster would stop taking writes): bring the others back first, or pass \"force\": true",
			id, v.reachable-b2i(v.reach[id].answered), v.voters-1, quorum(v.voters-1))
	}
	return m.node.RemoveServer(id)
}

// TransferLeadership hands leadership to id ("": any up-to-date voter).
func (m *Members) TransferLeadership(id string) error { return m.node.TransferLeadership(id) }

// Announce records a member's API address and the event schema its build
// reads (leader only: followers relay the request).
func (m *Members) Announce(a event.NodeAnnounced) error {
	if !m.node.IsLeader() {
		return fmt.Errorf("%w: announcements are recorded by the leader", raftfsm.ErrNotLeader)
	}
	ev, err := event.New(a, m.now().UnixNano(), m.node.NodeID())
	if err != nil {
		return err
	}
	ev.Actor = event.ActorSystem
	res, _, err := m.node.Propose([]event.Event{ev}, 5*time.Second)
	if err != nil {
		return err
	}
	return res[0].Err
}

// RunAnnouncer publishes this node's API address through the log (via
// its own HTTP server, which relays to the leader) until the record shows
// it with this build's schema, or ctx ends.
func (m *Members) RunAnnouncer(ctx context.Context, httpAddr, raftAddr string) {
	id := m.node.NodeID()
	client := &http.Client{Timeout: 5 * time.Second, Transport: m.peers.transport(1)}
	body := fmt.Sprintf(`{"nodeId":%q,"httpAddress":%q,"raftAddress":%q,"schema":%d,"types":%d}`, id, httpAddr, raftAddr,
		event.SchemaVersion, event.NewestType)
	delay := 300 * time.Millisecond
	for {
		// Until the record shows this build's schema the leader may keep
		// writing an older one. A leader of an older build drops the field,
		// so this retries until the leader is upgraded too, backing off
		// (every try is an event in the audit log).
		nodes, err := m.state.Nodes()
		if err == nil && nodes[id].HTTPAddr == httpAddr {
			if nodes[id].Schema >= event.SchemaVersion && nodes[id].Types >= int(event.NewestType) {
				return
			}
			delay = min(2*delay, 30*time.Second)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, m.peers.url(httpAddr, "/cluster/announce"), strings.NewReader(body))
		m.peers.prove(req)
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}
