// Package server assembles Chronicle's HTTP surface: the GoScheduler API,
// the cluster endpoint, JSON answers for unknown paths and methods, and a
// recovery net so that no request can crash the process.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/chronicle-sched/chronicle/http/respond"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/http/eventstream"
	"github.com/chronicle-sched/chronicle/http/goscheduler"
	"github.com/julienschmidt/httprouter"
)

// Cluster is what the server needs of the replication layer, owned here
// so that http does not import it.
type Cluster interface {
	Status(ctx context.Context) (ClusterStatus, error)
	NodeID() string
	IsLeader() bool
	// Leader returns the leader's id and announced HTTP address ("" if unknown).
	Leader() (id, httpAddr string)
	AppliedIndex() uint64
	// FollowerIndex is AppliedIndex for an answer to a follower that relayed
	// a write (it waits for that index), making sure it hears of the commit.
	FollowerIndex() uint64
	WaitApplied(index uint64, timeout time.Duration) bool
	AddMember(id, raftAddr string, voter bool) error
	RemoveMember(id string) error
	TransferLeadership(id string) error
	Announce(ctx context.Context, a event.NodeAnnounced) error
	// TakeForwarded proposes the creates a follower forwarded (body and
	// answer in the replication layer's form); this node must lead.
	TakeForwarded(body []byte) ([]byte, error)
	// LeaderTakesForwarded reports whether the leader's build takes
	// forwarded creates at ForwardPath (an older one gets whole requests).
	LeaderTakesForwarded() bool
}

// Config wires the server to the layers below.
type Config struct {
	Addr    string
	API     *goscheduler.API
	Cluster Cluster
	Events  eventstream.Log // this node's event log, served at /events
	Logger  *slog.Logger
}

// handler builds the routed handler, behind write forwarding, and the
// event stream whose open connections shutdown must end.
func handler(cfg Config) (http.Handler, *eventstream.Stream) {
	r := httprouter.New()
	cfg.API.Register(r)
	registerCluster(r, cfg)
	registerForwarded(r, cfg)
	stream := eventstream.Register(r, cfg.Events, cfg.Logger)
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		respond.Write(w, cfg.Logger, &respond.Error{HTTP: http.StatusNotFound, Code: http.StatusNotFound,
			Message: fmt.Sprintf("no such endpoint: %s %s", req.Method, req.URL.Path)})
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		respond.Write(w, cfg.Logger, &respond.Error{HTTP: http.StatusMethodNotAllowed,
			Code: http.StatusMethodNotAllowed, Message: fmt.Sprintf("method %s is not allowed on %s", req.Method, req.URL.Path)})
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v interface{}) {
		cfg.Logger.Error("panic serving request", "method", req.Method, "path", req.URL.Path, "panic", v)
		respond.Write(w, cfg.Logger, fmt.Errorf("panic: %v", v))
	}
	return newForwarder(cfg.Cluster, cfg.Logger, r), stream
}

// Server is the running HTTP server.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	logger *slog.Logger
}

// Start listens on cfg.Addr and serves in the background.
func Start(cfg Config) (*Server, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on http address %s: %w", cfg.Addr, err)
	}
	h, stream := handler(cfg)
	s := &Server{ln: ln, logger: cfg.Logger, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}}
	s.srv.RegisterOnShutdown(stream.Close)
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("http server stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting requests and waits for those in progress.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
