// Package server assembles Chronicle's HTTP surface: the GoScheduler API,
// the event stream, the cluster endpoints, the endpoint where the leader
// takes forwarded events, JSON answers for unknown paths and methods, and
// a recovery net so that no request can crash the process. Writes that
// reach a follower go through the cluster layer's relay.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/chronicle-sched/chronicle/cluster"
	"github.com/chronicle-sched/chronicle/http/auth"
	"github.com/chronicle-sched/chronicle/http/console"
	"github.com/chronicle-sched/chronicle/http/eventstream"
	"github.com/chronicle-sched/chronicle/http/goscheduler"
	"github.com/chronicle-sched/chronicle/http/openapi"
	"github.com/chronicle-sched/chronicle/http/respond"
	"github.com/chronicle-sched/chronicle/internal/metrics"
	"github.com/julienschmidt/httprouter"
)

// Config wires the server to the layers below.
type Config struct {
	Addr    string
	API     *goscheduler.API
	Cluster Cluster
	// Forwarded takes the events followers forward (cluster.Service),
	// served at cluster.ForwardPath.
	Forwarded http.Handler
	// Relay puts the router behind write relaying to the leader
	// (cluster.Relay.Wrap); servedHere names the writes a follower
	// serves itself.
	Relay  func(next http.Handler, servedHere func(*http.Request) bool) http.Handler
	Events eventstream.Log // this node's event log, served at /events
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body (413 past it; 0: 1 MiB); forwarded
	// batches have their own bound.
	MaxBodyBytes int64
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request headers (0: 10 s): a client that trickles them is cut off.
	ReadHeaderTimeout time.Duration
	// Auth authenticates and authorizes every request (see http/auth).
	Auth auth.Config
	// Tokens issues, revokes and lists API tokens (/auth/tokens).
	Tokens Tokens
	// Ready says why the node cannot serve (nil: it can), for /readyz.
	Ready func() error
	// TLS, if set, makes the API HTTPS.
	TLS *tls.Config
	// APIs are the other systems' APIs, mounted beside the native one.
	APIs []API
	// AccessLog, if set, gets a line for every request (--access-log).
	AccessLog *slog.Logger
	// Metrics, if set, counts every request and is served at /metrics.
	Metrics *metrics.Metrics
}

// API is another system's API on the same core (CronHubot's, ...): its
// routes, and the errors of its paths (a refused token, an unknown method)
// in its own format.
type API interface {
	Register(r *httprouter.Router)
	Owns(path string) bool
	WriteError(w http.ResponseWriter, err error)
}

// writeError answers err in the format of the API that owns path.
func (cfg Config) writeError(w http.ResponseWriter, path string, err error) {
	for _, api := range cfg.APIs {
		if api.Owns(path) {
			api.WriteError(w, err)
			return
		}
	}
	respond.Write(w, cfg.Logger, err)
}

// handler builds the routed handler, behind the relay, and the event
// stream whose open connections shutdown must end.
func handler(cfg Config) (http.Handler, *eventstream.Stream) {
	r := httprouter.New()
	// A path is never cleaned or re-cased into another route: `..%2F`
	// paths were answered with a redirect to the global event stream, and
	// /CLUSTER/members with one to the membership endpoint.
	r.RedirectTrailingSlash, r.RedirectFixedPath = false, false
	cfg.API.Register(r)
	for _, api := range cfg.APIs {
		api.Register(r)
	}
	registerCluster(r, cfg)
	registerTokens(r, cfg)
	console.Register(r) // /ui/: static files; the page calls the APIs above with the user's token
	r.GET("/livez", func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		respond.JSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	r.GET("/readyz", func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		if cfg.Ready == nil {
			respond.JSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		if err := cfg.Ready(); err != nil {
			respond.JSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
		respond.JSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if cfg.Metrics != nil {
		r.Handler(http.MethodGet, "/metrics", cfg.Metrics.Handler())
	}
	r.HandlerFunc(http.MethodGet, openapi.Path, openapi.Serve)
	r.Handler(http.MethodGet, cluster.ForwardPath, cfg.Forwarded)
	r.Handler(http.MethodPost, cluster.ForwardPath, cfg.Forwarded)
	stream := eventstream.Register(r, cfg.Events, cfg.Logger)
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		cfg.writeError(w, req.URL.Path, respond.NotFound("no such endpoint: %s %s", req.Method, req.URL.Path))
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		cfg.writeError(w, req.URL.Path, respond.Status(http.StatusMethodNotAllowed, "method %s is not allowed on %s", req.Method, req.URL.Path))
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v interface{}) {
		cfg.writeError(w, req.URL.Path, fmt.Errorf("panic serving %s %s: %v", req.Method, req.URL.Path, v))
	}
	maxBody := cfg.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = 1 << 20
	}
	bounded := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != cluster.ForwardPath {
			req.Body = http.MaxBytesReader(w, req.Body, maxBody)
		}
		r.ServeHTTP(w, req)
	})
	if cfg.Auth.WriteError == nil {
		cfg.Auth.WriteError = func(w http.ResponseWriter, r *http.Request, err error) { cfg.writeError(w, r.URL.Path, err) }
	}
	routed := cfg.Relay(bounded, servedByFollower)
	if cfg.AccessLog != nil {
		routed = noteToken(routed)
	}
	return observe(cfg.AccessLog, cfg.Metrics, r, auth.Middleware(cfg.Auth, routed)), stream
}

// servedByFollower: writes a follower handles itself and forwards only as
// events: creates, the writes that come in volume. Others are relayed
// whole to the leader, whose actors hold the authoritative view of apps
// and schedules.
func servedByFollower(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == goscheduler.CreatePath
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
		ReadHeaderTimeout: cmp.Or(cfg.ReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		// What net/http reports itself (TLS handshakes that fail, a client
		// speaking HTTP to HTTPS) goes to the node's log.
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelInfo),
	}}
	s.srv.RegisterOnShutdown(stream.Close)
	serve := s.srv.Serve
	if cfg.TLS != nil {
		s.srv.TLSConfig = cfg.TLS
		serve = func(ln net.Listener) error { return s.srv.ServeTLS(ln, "", "") } // the certificate is in TLS
	}
	go func() {
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("http server stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting requests and waits for those in progress.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
