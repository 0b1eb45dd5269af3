// Package server assembles Chronicle's HTTP surface: the GoScheduler API,
// the cluster endpoint, JSON answers for unknown paths and methods, and a
// recovery net so that no request can crash the process.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/chronicle-sched/chronicle/http/goscheduler"
	"github.com/julienschmidt/httprouter"
)

// Member is one server of the cluster as /cluster shows it.
type Member struct {
	ID          string `json:"id"`
	RaftAddress string `json:"raftAddress"`
	HTTPAddress string `json:"httpAddress,omitempty"`
	Voter       bool   `json:"voter"`
	Leader      bool   `json:"leader"`
}

// ClusterStatus is the body of GET /cluster.
type ClusterStatus struct {
	NodeID        string    `json:"nodeId"`
	LeaderID      string    `json:"leaderId"`
	LeaderAddress string    `json:"leaderAddress"`
	State         string    `json:"state"`
	Term          uint64    `json:"term"`
	AppliedIndex  uint64    `json:"appliedIndex"`
	LastContact   time.Time `json:"lastContact"`
	Members       []Member  `json:"members"`
}

// Config wires the server to the layers below.
type Config struct {
	Addr    string
	API     *goscheduler.API
	Cluster func() (ClusterStatus, error)
	Logger  *slog.Logger
}

// Server is the running HTTP server.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	logger *slog.Logger
}

// Handler builds the routed handler.
func Handler(cfg Config) http.Handler {
	r := httprouter.New()
	cfg.API.Register(r)
	r.GET("/cluster", func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		st, err := cfg.Cluster()
		if err != nil {
			goscheduler.WriteError(w, cfg.Logger, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		goscheduler.WriteError(w, cfg.Logger, &goscheduler.APIError{HTTP: http.StatusNotFound, Code: http.StatusNotFound,
			Message: fmt.Sprintf("no such endpoint: %s %s", req.Method, req.URL.Path)})
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		goscheduler.WriteError(w, cfg.Logger, &goscheduler.APIError{HTTP: http.StatusMethodNotAllowed,
			Code: http.StatusMethodNotAllowed, Message: fmt.Sprintf("method %s is not allowed on %s", req.Method, req.URL.Path)})
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v interface{}) {
		cfg.Logger.Error("panic serving request", "method", req.Method, "path", req.URL.Path, "panic", v)
		goscheduler.WriteError(w, cfg.Logger, fmt.Errorf("panic: %v", v))
	}
	return r
}

// Start listens on cfg.Addr and serves in the background.
func Start(cfg Config) (*Server, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on http address %s: %w", cfg.Addr, err)
	}
	s := &Server{ln: ln, logger: cfg.Logger, srv: &http.Server{
		Handler:           Handler(cfg),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}}
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
