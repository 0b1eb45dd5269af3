package cluster

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/chronicle-sched/chronicle/internal/peerroute"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// Config wires the cluster layer to the local replica.
type Config struct {
	Node  *raftfsm.Node
	State projections.Reader // this node's projections (the members' addresses)
	// WriteError answers an error over HTTP (the relay's 503s, the
	// service's refusals): the HTTP layer owns the body's form.
	WriteError func(http.ResponseWriter, error)
	Logger     *slog.Logger
	// PromoteTimeout bounds how long adding a voter waits for it to catch
	// up as a non-voter when adding it at once would risk the quorum.
	PromoteTimeout time.Duration
	// ProposeTimeout bounds a forwarded batch's proposal on the leader.
	ProposeTimeout time.Duration
	Now            func() time.Time
	// Credentials decorates the requests this node makes to the others'
	// own endpoints (forwarded events, announcements) with what proves it
	// a member (nil: nothing).
	Credentials func(*http.Request)
	// TLS, if set, is how this node calls the others' HTTPS APIs (its
	// certificate and the cluster CA); nil: plain HTTP.
	TLS *tls.Config
	// Routes says where to connect to reach members whose advertised HTTP
	// address is not reachable as such (nil: every one is).
	Routes peerroute.Routes
}

// Cluster is the cluster layer of one node.
type Cluster struct {
	Forwarder *Forwarder
	Service   *Service
	Relay     *Relay
	Members   *Members
}

// New builds the cluster layer of cfg.Node.
func New(cfg Config) *Cluster {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PromoteTimeout <= 0 {
		cfg.PromoteTimeout = 10 * time.Second
	}
	if cfg.ProposeTimeout <= 0 {
		cfg.ProposeTimeout = 5 * time.Second
	}
	peers := peerHTTP{tls: cfg.TLS, credentials: cfg.Credentials, routes: cfg.Routes}
	dir := NewDirectory(cfg.Node.Leader, cfg.State)
	nudge := &nudger{log: cfg.Node}
	fwd := newForwarder(cfg.Node, dir, peers)
	return &Cluster{
		Forwarder: fwd,
		Service: &Service{node: cfg.Node, nudge: nudge, now: cfg.Now, timeout: cfg.ProposeTimeout,
			writeErr: cfg.WriteError},
		Relay: newRelay(cfg.Node, dir, fwd, nudge, cfg.WriteError, peers),
		Members: &Members{node: cfg.Node, state: cfg.State, logger: cfg.Logger, now: cfg.Now, promote: cfg.PromoteTimeout,
			peers:  peers,
			probes: &http.Client{Timeout: 300 * time.Millisecond, Transport: peers.transport(2)}, lastSeen: map[string]time.Time{}},
	}
}

// Close releases idle connections to other members.
func (c *Cluster) Close() {
	c.Forwarder.client.CloseIdleConnections()
	c.Members.probes.CloseIdleConnections()
}
