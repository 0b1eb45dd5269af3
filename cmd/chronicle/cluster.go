package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/http/respond"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/http/server"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// clusterAdapter gives the HTTP server what it needs of Raft and the
// members projection, translating errors on the way.
type clusterAdapter struct {
	raft     *raftfsm.Node
	engine   *actors.Engine
	state    projections.Reader
	raftAddr string
	client   *http.Client

	mu         sync.Mutex
	lastSeen   map[string]time.Time // member id → last successful probe
	leaderAddr leaderAddr
	// takesForwarded: whether the build at a leader address takes
	// forwarded creates, and when that was learnt (absent while unknown).
	takesForwarded map[string]forwardingProbe
	probing        map[string]bool
}

type forwardingProbe struct {
	takes bool
	at    time.Time
}

// forwardingProbeTTL: how long an answer about a leader's build stands; a
// node upgraded (or rolled back) in place keeps its address.
const forwardingProbeTTL = 30 * time.Second

var _ server.Cluster = (*clusterAdapter)(nil)

func newClusterAdapter(rn *raftfsm.Node, e *actors.Engine, st projections.Reader, raftAddr string) *clusterAdapter {
	return &clusterAdapter{raft: rn, engine: e, state: st, raftAddr: raftAddr,
		client: &http.Client{Timeout: 300 * time.Millisecond}, lastSeen: map[string]time.Time{},
		takesForwarded: map[string]forwardingProbe{}, probing: map[string]bool{}}
}

func (c *clusterAdapter) NodeID() string        { return c.raft.NodeID() }
func (c *clusterAdapter) IsLeader() bool        { return c.raft.IsLeader() }
func (c *clusterAdapter) AppliedIndex() uint64  { return c.raft.AppliedIndex() }
func (c *clusterAdapter) FollowerIndex() uint64 { return c.raft.FollowerIndex() }
func (c *clusterAdapter) WaitApplied(i uint64, d time.Duration) bool {
	return c.raft.WaitApplied(i, d)
}

// Leader is the leader's id and API address. The address comes from the
// members projection; it is remembered for leaderAddrTTL so that a
// follower does not scan the projection for every write it forwards.
func (c *clusterAdapter) Leader() (string, string) {
	id := c.raft.Leader()
	if id == "" {
		return "", ""
	}
	c.mu.Lock()
	cached := c.leaderAddr
	c.mu.Unlock()
	if cached.id == id && cached.addr != "" && time.Since(cached.at) < leaderAddrTTL {
		return id, cached.addr
	}
	nodes, err := c.state.Nodes()
	if err != nil {
		return id, ""
	}
	addr := nodes[id].HTTPAddr
	c.mu.Lock()
	c.leaderAddr = leaderAddr{id: id, addr: addr, at: time.Now()}
	c.mu.Unlock()
	return id, addr
}

// leaderAddrTTL bounds how long a re-announced leader address can be
// stale: a forward to an old address fails with a 503 the client retries.
const leaderAddrTTL = time.Second

type leaderAddr struct {
	id, addr string
	at       time.Time
}

// forwardTimeout bounds a forwarded batch's proposal on the leader (the
// engine's own proposals wait as long).
const forwardTimeout = 5 * time.Second

func (c *clusterAdapter) TakeForwarded(body []byte) ([]byte, error) {
	answer, err := c.raft.ServeForwarded(body, forwardTimeout)
	if errors.Is(err, raftfsm.ErrBadForward) {
		return nil, &respond.Error{HTTP: http.StatusBadRequest, Code: http.StatusBadRequest, Message: err.Error()}
	}
	return answer, mapRaftErr(err)
}

// forwardURL is where the leader takes forwarded creates ("" while its
// address is unknown), for raftfsm.Node.Forward.
func (c *clusterAdapter) forwardURL() (string, string) {
	id, addr := c.Leader()
	if addr == "" {
		return id, ""
	}
	return id, "http://" + addr + server.ForwardPath
}

// LeaderTakesForwarded asks the leader's build (GET ForwardPath: 204 from
// a build that has it, 404 from an older one) in the background and
// remembers the answer per address for forwardingProbeTTL; until it is
// known, creates are relayed whole.
func (c *clusterAdapter) LeaderTakesForwarded() bool {
	_, addr := c.Leader()
	if addr == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, known := c.takesForwarded[addr]
	if (!known || time.Since(p.at) > forwardingProbeTTL) && !c.probing[addr] {
		c.probing[addr] = true
		go c.probeForwarding(addr)
	}
	return p.takes
}

func (c *clusterAdapter) probeForwarding(addr string) {
	res, err := c.client.Get("http://" + addr + server.ForwardPath)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.probing, addr)
	if err != nil {
		return // unreachable now: asked again by the next write
	}
	res.Body.Close()
	switch res.StatusCode {
	case http.StatusNoContent:
		c.takesForwarded[addr] = forwardingProbe{takes: true, at: time.Now()}
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		c.takesForwarded[addr] = forwardingProbe{takes: false, at: time.Now()}
	}
}

// Status is this node's view, with every member's API probed (in
// parallel, briefly) so operators see who is reachable from here.
func (c *clusterAdapter) Status(ctx context.Context) (server.ClusterStatus, error) {
	st, err := c.raft.Status()
	if err != nil {
		return server.ClusterStatus{}, mapRaftErr(err)
	}
	nodes, err := c.state.Nodes()
	if err != nil {
		return server.ClusterStatus{}, err
	}
	out := server.ClusterStatus{NodeID: st.NodeID, LeaderID: st.LeaderID, LeaderAddress: st.LeaderAddr,
		State: st.State, Term: st.Term, AppliedIndex: st.AppliedIndex}
	var wg sync.WaitGroup
	out.Members = make([]server.Member, len(st.Members))
	for i, m := range st.Members {
		out.Members[i] = server.Member{ID: m.ID, RaftAddress: m.RaftAddr, HTTPAddress: nodes[m.ID].HTTPAddr,
			Voter: m.Voter, Leader: m.Leader, EventSchema: nodes[m.ID].Schema}
		wg.Add(1)
		go func(mb *server.Member) {
			defer wg.Done()
			c.probe(ctx, mb)
		}(&out.Members[i])
	}
	wg.Wait()
	return out, nil
}

func (c *clusterAdapter) probe(ctx context.Context, m *server.Member) {
	reachable := m.ID == c.NodeID()
	if !reachable && m.HTTPAddress != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.HTTPAddress+"/goscheduler/healthcheck", nil)
		if err == nil {
			if res, err := c.client.Do(req); err == nil {
				res.Body.Close()
				reachable = true
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if reachable {
		c.lastSeen[m.ID] = time.Now().UTC()
	}
	m.Reachable = &reachable
	if t, ok := c.lastSeen[m.ID]; ok {
		m.LastContact = &t
	}
}

func (c *clusterAdapter) AddMember(id, raftAddr string, voter bool) error {
	if voter {
		return mapRaftErr(c.raft.AddVoter(id, raftAddr))
	}
	return mapRaftErr(c.raft.AddNonvoter(id, raftAddr))
}

func (c *clusterAdapter) RemoveMember(id string) error { return mapRaftErr(c.raft.RemoveServer(id)) }

func (c *clusterAdapter) TransferLeadership(id string) error {
	return mapRaftErr(c.raft.TransferLeadership(id))
}

func (c *clusterAdapter) Announce(ctx context.Context, a event.NodeAnnounced) error {
	return c.engine.AnnounceNode(ctx, a)
}

// mapRaftErr turns replication errors into answers.
func mapRaftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raftfsm.ErrUnknownMember):
		return &respond.Error{HTTP: http.StatusNotFound, Code: http.StatusNotFound, Message: err.Error()}
	case errors.Is(err, raftfsm.ErrNotLeader), errors.Is(err, raftfsm.ErrNoLeader), errors.Is(err, raftfsm.ErrShutdown):
		return fmt.Errorf("%w: %v", actors.ErrUnavailable, err)
	}
	return &respond.Error{HTTP: http.StatusConflict, Code: http.StatusConflict, Message: err.Error()}
}

// announce publishes this node's API address through the log (via its
// own HTTP server, which forwards to the leader), until it is recorded.
func announce(ctx context.Context, logger *slog.Logger, state projections.Reader, id, httpAddr, raftAddr string) {
	client := &http.Client{Timeout: 5 * time.Second}
	body := fmt.Sprintf(`{"nodeId":%q,"httpAddress":%q,"raftAddress":%q,"schema":%d}`, id, httpAddr, raftAddr,
		event.SchemaVersion)
	delay := 300 * time.Millisecond
	for {
		// Until the record shows this build's schema the leader may keep
		// writing an older one. A leader of an older build drops the field,
		// so this retries until the leader is upgraded too, backing off
		// (every try is an event in the audit log).
		nodes, err := state.Nodes()
		if err == nil && nodes[id].HTTPAddr == httpAddr {
			if nodes[id].Schema >= event.SchemaVersion {
				return
			}
			delay = min(2*delay, 30*time.Second)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+httpAddr+"/cluster/announce", strings.NewReader(body))
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

// advertised turns a listen address into one peers can reach: an
// unspecified host (":8080", "0.0.0.0:8080") takes the Raft address's host.
func advertised(listen, raftAddr string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if rh, _, err := net.SplitHostPort(raftAddr); err == nil {
			host = rh
		}
	}
	return net.JoinHostPort(host, port)
}
