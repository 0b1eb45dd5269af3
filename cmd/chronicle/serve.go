package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/actors/notify"
	"github.com/chronicle-sched/chronicle/actors/reconcile"
	"github.com/chronicle-sched/chronicle/cluster"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/http/auth"
	"github.com/chronicle-sched/chronicle/http/cronhubot"
	"github.com/chronicle-sched/chronicle/http/goscheduler"
	"github.com/chronicle-sched/chronicle/http/karajo"
	"github.com/chronicle-sched/chronicle/http/keboola"
	"github.com/chronicle-sched/chronicle/http/respond"
	"github.com/chronicle-sched/chronicle/http/server"
	"github.com/chronicle-sched/chronicle/internal/buildinfo"
	"github.com/chronicle-sched/chronicle/internal/karajoconf"
	"github.com/chronicle-sched/chronicle/internal/metrics"
	"github.com/chronicle-sched/chronicle/internal/peerroute"
	"github.com/chronicle-sched/chronicle/internal/tlsconf"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

type serveConfig struct {
	dataDir, httpAddr, raftAddr, nodeID, peers string
	httpAdvertise                              string
	snapshotInterval                           time.Duration
	trailingLogs                               uint64
	logLevel, logFormat                        string
	defaultPartitions, workers, stateCacheMB   int
	minFreeDiskMB                              int
	maxApps                                    int
	misfire, window                            time.Duration
	cbTimeout, cbBackoff, cbMaxBackoff         time.Duration
	cbAttempts                                 int
	cbRetry4xx                                 bool
	heartbeat, election, lease                 time.Duration
	snapshotThreshold                          uint64
	pprofAddr                                  string
	cronhubotApp, cronhubotZone                string
	peerRoutes                                 string
	cronhubotLoc                               *time.Location
	promoteTimeout, readHeaderTimeout          time.Duration
	drainTimeout                               time.Duration
	callbackDeny, callbackAllow                string
	adminTokenFile, clusterSecretFile          string
	tls                                        tlsconf.Files
	insecureNoAuth, accessLog                  bool
	rateLimit                                  float64
	rateBurst                                  int
	secretGrace                                time.Duration
	// resolver resolves callback host names (tests; nil: the system's).
	resolver                     *net.Resolver
	maxBodyBytes                 int64
	retention, retentionInterval time.Duration
	// karajoConfig is karajo's configuration file to run the jobs of
	// (--karajo-config; "": none).
	karajoConfig string
	// componentURL resolves workflow tasks that name a component
	// (--keboola-component-url); taskPoll is how often a 202 task is polled.
	componentURL string
	keboolaApp   string
	// smtp sends workflow jobs' email notifications (--smtp-*).
	smtpURL, smtpUser, smtpPasswordFile, smtpFrom string
	taskPoll                                      time.Duration
	// notify tunes notifications' delivery (tests: their retries, the CA
	// of a test's mail server).
	notify notify.Options
}

// parseServe reads flags; each flag can also come from CHRONICLE_<NAME>
// (upper case, dashes as underscores), the command line winning.
func parseServe(args []string) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.dataDir, "data-dir", "./data", "directory for the Raft log, snapshots and state")
	fs.StringVar(&c.httpAddr, "http-addr", "127.0.0.1:8080", "HTTP API address")
	fs.StringVar(&c.raftAddr, "raft-addr", "127.0.0.1:7000", "Raft address (bind and advertise)")
	fs.StringVar(&c.nodeID, "node-id", "node1", "this node's id, unique in the cluster")
	fs.StringVar(&c.httpAdvertise, "http-advertise", "", "HTTP address other nodes use to reach this one (default: --http-addr)")
	fs.DurationVar(&c.snapshotInterval, "raft-snapshot-interval", 30*time.Second, "how often Raft checks whether to snapshot")
	fs.Uint64Var(&c.trailingLogs, "raft-trailing-logs", 10240, "log entries kept after a snapshot (for followers that lag)")
	fs.StringVar(&c.peers, "peers", "", "voters as id=host:port,...; empty bootstraps a single-node cluster")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.accessLog, "access-log", false, "log every HTTP request (method, path, status, bytes, duration, client, token id), at info whatever --log-level says")
	fs.StringVar(&c.logFormat, "log-format", "text", "text (key=value lines) or json (one object per line), for every component's messages")
	fs.IntVar(&c.defaultPartitions, "default-partitions", 4, "partitions of an app registered with partitions 0")
	fs.IntVar(&c.maxApps, "max-apps", 1000, "apps the cluster may hold; registering one more answers 409 (0: no limit)")
	fs.IntVar(&c.workers, "callback-workers", 256, "callbacks delivered concurrently")
	fs.DurationVar(&c.misfire, "misfire-threshold", time.Minute, "a run overdue by more than this is recorded as MISS instead of fired")
	fs.DurationVar(&c.window, "timer-window", 10*time.Second, "how far ahead timers hold due runs in memory")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 20*time.Second, "on SIGTERM, how long a leader lets the calls it is making finish before it hands leadership over (calls still going are then cut short and fired again by the next leader)")
	fs.DurationVar(&c.cbTimeout, "callback-timeout", 10*time.Second, "timeout of one callback attempt")
	fs.IntVar(&c.cbAttempts, "callback-attempts", 3, "attempts per run (1 = no retry)")
	fs.DurationVar(&c.cbBackoff, "callback-backoff", time.Second, "first retry delay (doubles each retry, with jitter)")
	fs.DurationVar(&c.cbMaxBackoff, "callback-max-backoff", 30*time.Second, "largest retry delay")
	fs.BoolVar(&c.cbRetry4xx, "callback-retry-4xx", false, "retry 4xx answers too (408 and 429 are always retried)")
	fs.DurationVar(&c.heartbeat, "raft-heartbeat-timeout", 300*time.Millisecond, "Raft heartbeat timeout")
	fs.DurationVar(&c.election, "raft-election-timeout", 300*time.Millisecond, "Raft election timeout")
	fs.DurationVar(&c.lease, "raft-lease-timeout", 150*time.Millisecond, "Raft leader lease timeout")
	fs.Uint64Var(&c.snapshotThreshold, "raft-snapshot-threshold", 16384, "log entries between Raft snapshots")
	fs.DurationVar(&c.retention, "event-retention", 0, "remove closed schedules (finished or deleted) and their events this long after they closed; 0 keeps the history forever")
	fs.DurationVar(&c.retentionInterval, "retention-check-interval", time.Minute, "how often the leader applies --event-retention")
	fs.IntVar(&c.minFreeDiskMB, "min-free-disk-mb", 256, "free space the data dir's disk keeps: below it, writes are refused (507) until space returns, while reads, deletes and firing go on (0: never refuse)")
	fs.IntVar(&c.stateCacheMB, "state-cache-mb", int(raftfsm.DefaultStateCacheBytes>>20), "block cache of the state store, in MB (records of due runs are read from it when they fire)")
	fs.DurationVar(&c.promoteTimeout, "promote-timeout", 10*time.Second, "how long adding a voter that the quorum cannot yet count on waits for it to catch up as a non-voter before promoting it")
	fs.StringVar(&c.adminTokenFile, "admin-token-file", "", "file holding the admin token; turns auth on (every request then needs Authorization: Bearer <token>)")
	fs.StringVar(&c.clusterSecretFile, "cluster-secret-file", "", "file holding the secret nodes prove membership with on their own endpoints (/internal/, /cluster/announce)")
	fs.StringVar(&c.tls.Cert, "tls-cert", "", "PEM certificate of this node, signed by --tls-ca for server and client use: the API serves HTTPS, and members talk to each other over (mutual) TLS")
	fs.StringVar(&c.tls.Key, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&c.tls.CA, "tls-ca", "", "PEM certificate of the cluster's CA: members must show a certificate it signed")
	fs.BoolVar(&c.insecureNoAuth, "insecure-no-auth", false, "serve a non-loopback address without a token, or non-loopback peers without a cluster secret (not for shared networks)")
	fs.Float64Var(&c.rateLimit, "rate-limit", 0, "requests per second each token may send (0: no limit); past it, 429")
	fs.IntVar(&c.rateBurst, "rate-burst", 0, "requests a token may send at once above --rate-limit (default: the limit, at least 1)")
	fs.DurationVar(&c.secretGrace, "signing-secret-grace", 24*time.Hour, "how long an app's previous signing secret still signs its callbacks after a rotation")
	fs.StringVar(&c.callbackDeny, "callback-deny-cidrs", "", "ranges callbacks may not connect to, beyond the default ones (link-local and cloud metadata, 0.0.0.0/8, multicast); comma-separated CIDRs")
	fs.StringVar(&c.peerRoutes, "peer-routes", "", "where to connect to reach members whose advertised addresses are not reachable as such (a tunnel, NAT or proxy between members): advertised=actual,... for their Raft and HTTP addresses")
	fs.StringVar(&c.callbackAllow, "callback-allow-cidrs", "", "ranges callbacks may connect to although denied (allow wins; the cluster's own addresses stay denied)")
	fs.Int64Var(&c.maxBodyBytes, "max-body-bytes", 1<<20, "largest request body; larger ones are answered 413")
	fs.DurationVar(&c.readHeaderTimeout, "http-read-header-timeout", 10*time.Second, "how long a client may take to send its request headers")
	fs.StringVar(&c.karajoConfig, "karajo-config", "", "karajo's configuration file (karajo.conf, with the job.d and job_http.d directories under its dir_base): its jobs become schedules of the app "+reconcile.KarajoApp+", reconciled by the leader at each take-over")
	fs.StringVar(&c.componentURL, "keboola-component-url", "", "where a workflow task naming a component (Keboola's component and action) is called: a URL with {component} and {action} in it, e.g. http://components.internal/{component}/{action}")
	fs.DurationVar(&c.taskPoll, "task-poll-interval", time.Second, "how often a workflow task answered 202 (with a Location or url to follow) is polled")
	fs.StringVar(&c.smtpURL, "smtp-url", "", "mail server for workflow jobs' email notifications: smtps://host[:465] (TLS) or smtp://host[:587] (STARTTLS required); empty: none sent by email")
	fs.StringVar(&c.smtpUser, "smtp-user", "", "user to authenticate to --smtp-url as (none: no AUTH)")
	fs.StringVar(&c.smtpPasswordFile, "smtp-password-file", "", "file holding --smtp-user's password")
	fs.StringVar(&c.smtpFrom, "smtp-from", "", "sender of workflow jobs' email notifications, e.g. \"Chronicle <chronicle@example.com>\"")
	fs.StringVar(&c.keboolaApp, "keboola-app", keboola.DefaultApp, "app that holds the orchestrations of Keboola Orchestrator's API (/orchestrations, /jobs, /run); registered on its first create")
	fs.StringVar(&c.cronhubotApp, "cronhubot-app", cronhubot.DefaultApp, "app that holds the jobs of CronHubot's API (/cronjobs); registered on its first create")
	fs.StringVar(&c.cronhubotZone, "cronhubot-time-zone", "UTC", "IANA time zone in which CronHubot's API reads and writes times (stop_at, created_at) and evaluates expressions")
	fs.StringVar(&c.pprofAddr, "pprof-addr", "", "serve net/http/pprof on this address (off when empty; keep it on loopback)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := "CHRONICLE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !set[f.Name] {
			if err := fs.Set(f.Name, v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %w", env, v, err)
			}
		}
	})
	if envErr == nil && (c.retention < 0 || c.retentionInterval <= 0) {
		envErr = fmt.Errorf("--event-retention must be 0 (forever) or positive and --retention-check-interval positive, not %s and %s",
			c.retention, c.retentionInterval)
	}
	if envErr == nil && (c.rateLimit < 0 || c.rateBurst < 0) {
		envErr = fmt.Errorf("--rate-limit and --rate-burst must not be negative")
	}
	if envErr == nil && c.maxApps < 0 {
		envErr = fmt.Errorf("--max-apps must be 0 (no limit) or positive, not %d", c.maxApps)
	}
	if envErr == nil && c.minFreeDiskMB < 0 {
		envErr = fmt.Errorf("--min-free-disk-mb must be 0 (never refuse writes) or positive, not %d", c.minFreeDiskMB)
	}
	if envErr == nil && c.stateCacheMB < 1 {
		envErr = fmt.Errorf("--state-cache-mb must be at least 1, not %d", c.stateCacheMB)
	}
	if envErr == nil {
		if err := admit.AppID(c.cronhubotApp); err != nil {
			envErr = fmt.Errorf("--cronhubot-app: %w", err)
		} else if c.cronhubotZone == "Local" {
			envErr = fmt.Errorf("--cronhubot-time-zone must name an IANA zone (Local differs between machines)")
		} else if c.cronhubotLoc, err = time.LoadLocation(c.cronhubotZone); err != nil {
			envErr = fmt.Errorf("--cronhubot-time-zone %q: %w", c.cronhubotZone, err)
		}
	}
	return c, envErr
}

func parsePeers(s string) ([]raftfsm.Peer, error) {
	var peers []raftfsm.Peer
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, addr, ok := strings.Cut(part, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("peer %q: want id=host:port", part)
		}
		peers = append(peers, raftfsm.Peer{ID: id, Addr: addr})
	}
	return peers, nil
}

// newLogger is the one logger every component writes through (Raft,
// Pebble and the actor system included), to stderr.
func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: text or json", format)
}

func serve(args []string) error {
	c, err := parseServe(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger, err := newLogger(c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	n, err := startNode(c, logger)
	if err != nil {
		return err
	}
	if c.pprofAddr != "" {
		if err := servePprof(c.pprofAddr, logger, n.raft); err != nil {
			_ = n.stop()
			return err
		}
	}
	logger.Info("chronicle serving", "build", buildinfo.Read().String(), "node", c.nodeID, "http", n.httpAddr(), "raft", c.raftAddr, "data", c.dataDir)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	got := <-sig
	logger.Info("shutting down", "signal", got.String())
	if err := n.stop(); err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

// node is a running Chronicle node: Raft and state, actors, HTTP.
type node struct {
	raft    *raftfsm.Node
	engine  *actors.Engine
	srv     *server.Server
	cluster *cluster.Cluster
	logger  *slog.Logger
	cancel  context.CancelFunc // stops background loops (announce)
	drain   time.Duration      // --drain-timeout
}

// replicator is what the actors propose through: this node's Raft replica
// for what only the leader does, the cluster layer for creates, which any
// node takes.
type replicator struct {
	*raftfsm.Node
	*cluster.Forwarder
}

// startNode wires every layer together and starts serving.
func startNode(c serveConfig, logger *slog.Logger) (*node, error) {
	routes, err := peerroute.Parse(c.peerRoutes)
	if err != nil {
		return nil, fmt.Errorf("--peer-routes: %w", err)
	}
	peers, err := parsePeers(c.peers)
	if err != nil {
		return nil, err
	}
	var certs *tlsconf.Set
	if c.tls.Enabled() {
		if certs, err = tlsconf.Load(c.tls); err != nil {
			return nil, err
		}
	}
	authCfg, err := authConfig(c, peers, certs != nil, logger)
	if err != nil {
		return nil, err
	}
	var raftTLS *raftfsm.TransportTLS
	var apiTLS, peerTLS *tls.Config
	if certs != nil {
		raftTLS = &raftfsm.TransportTLS{Server: certs.Raft(), Client: certs.Client()}
		apiTLS, peerTLS = certs.API(), certs.Client()
	}
	m := metrics.New()
	karajoCfg, karajoJobs, err := loadKarajo(c.karajoConfig)
	if err != nil {
		return nil, err
	}
	maxCommandRuns := 0
	mailServer, err := c.mailServer()
	if err != nil {
		return nil, err
	}
	if err := c.checkComponentURL(); err != nil {
		return nil, err
	}
	var targets map[string]notify.Channel
	if karajoCfg != nil {
		maxCommandRuns, targets = karajoCfg.MaxJobRunning, reconcile.KarajoTargets(karajoCfg)
	}
	rn, err := raftfsm.Open(raftfsm.Config{
		NodeID: c.nodeID, RaftAddr: c.raftAddr, DataDir: c.dataDir, Peers: peers,
		HeartbeatTimeout: c.heartbeat, ElectionTimeout: c.election, LeaderLeaseTimeout: c.lease,
		SnapshotThreshold: c.snapshotThreshold, SnapshotInterval: c.snapshotInterval, TrailingLogs: c.trailingLogs,
		StateCacheBytes: int64(c.stateCacheMB) << 20, Logger: logger, TLS: raftTLS, Routes: routes,
		MinFreeDiskBytes: uint64(c.minFreeDiskMB) << 20, OnApply: m.Applied,
	})
	if err != nil {
		return nil, err
	}
	state := projections.Reader{R: rn.State()}
	own := &ownAddrs{node: rn, state: state, self: []string{c.raftAddr}}
	guard, err := callbackGuard(c, own.list)
	if err != nil {
		rn.Shutdown()
		return nil, err
	}
	var access *slog.Logger
	if c.accessLog {
		// At info whatever --log-level says: asking for it is asking to see it.
		if access, err = newLogger("info", c.logFormat); err != nil {
			rn.Shutdown()
			return nil, err
		}
	}
	writeErr := func(w http.ResponseWriter, err error) { respond.Write(w, logger, err) }
	authCfg.Tokens = state
	cl := cluster.New(cluster.Config{Node: rn, State: state, WriteError: writeErr, Logger: logger,
		PromoteTimeout: c.promoteTimeout, Credentials: authCfg.CredentialsFor, TLS: peerTLS, Routes: routes})
	var self atomic.Value // this node's API base URL, once it listens (see selfBase)
	engine := actors.New(actors.Config{
		NodeID: c.nodeID, DefaultPartitions: c.defaultPartitions, MaxApps: c.maxApps, MisfireThreshold: c.misfire, Window: c.window,
		Workers: c.workers, Logger: logger, Retention: c.retention, RetentionInterval: c.retentionInterval,
		Policy: delivery.Policy{Timeout: c.cbTimeout, MaxAttempts: c.cbAttempts, InitialBackoff: c.cbBackoff,
			MaxBackoff: c.cbMaxBackoff, RetryOn4xx: c.cbRetry4xx},
		Guard: guard, Resolver: c.resolver, SecretGrace: c.secretGrace, Metrics: m,
		Self:    func() string { s, _ := self.Load().(string); return s },
		DataDir: c.dataDir, MaxCommandRuns: maxCommandRuns, Targets: targets, Notify: c.notify,
		ComponentURL: c.componentURL, TaskPoll: c.taskPoll, Mail: mailServer,
	}, replicator{rn, cl.Forwarder}, state)
	if karajoCfg != nil { // even with no jobs: it deletes those the file no longer has
		r := &reconcile.Reconciler{App: reconcile.KarajoApp, OwnerLabel: reconcile.LabelKarajoKind, Jobs: karajoJobs,
			Engine: engine, State: state, Logger: logger.With("config", c.karajoConfig)}
		engine.WhileLeading(r.Run)
	}
	rn.SetObserver(engine.Observe)
	rn.OnLeadership(engine.OnLeadership)

	healthy := func() error {
		switch {
		case rn.Leader() == "":
			return errors.New("no raft leader")
		case rn.IsLeader() && !engine.Leading():
			return errors.New("leader is still catching up")
		case !rn.IsLeader() && !rn.CaughtUp():
			return errors.New("follower is still applying what the leader committed")
		}
		return nil
	}
	watchNode(m, rn, engine, healthy)
	api := goscheduler.New(engine, state, healthy, guard.CheckURL, logger)
	cronhubotAPI := cronhubot.New(engine, state, cronhubot.Config{App: c.cronhubotApp, Zone: c.cronhubotLoc,
		Healthy: healthy, CheckURL: guard.CheckURL, Logger: logger})
	apis := []server.API{cronhubotAPI, keboola.New(engine, state, keboola.Config{App: c.keboolaApp,
		CheckURL: guard.CheckURL, Components: c.componentURL != "", Logger: logger})}
	authCfg.TokenHeaders = map[string]string{}
	for _, p := range keboola.Prefixes {
		authCfg.TokenHeaders[p] = keboola.TokenHeader // Keboola's clients send their token so
	}
	if karajoCfg != nil {
		apis = append(apis, karajo.New(engine, state, karajo.Config{Karajo: karajoCfg, Version: buildinfo.Read().Version,
			Logger: logger}))
		// karajo's writes carry karajo's signatures, which its handlers check.
		authCfg.SignedWrites, authCfg.SignedApps = []string{karajo.Prefix}, []string{reconcile.KarajoApp}
	}
	srv, err := server.Start(server.Config{Addr: c.httpAddr, API: api, Logger: logger, Cluster: cl.Members,
		Forwarded: cl.Service, Relay: cl.Relay.Wrap, Events: rn, MaxBodyBytes: c.maxBodyBytes,
		ReadHeaderTimeout: c.readHeaderTimeout, Auth: authCfg, Tokens: tokens{engine, state}, Ready: healthy, TLS: apiTLS,
		APIs: apis, AccessLog: access, Metrics: m})
	if err != nil {
		engine.Stop()
		cl.Close()
		rn.Shutdown()
		return nil, err
	}
	adv := c.httpAdvertise
	if adv == "" {
		adv = advertised(srv.Addr(), c.raftAddr)
	}
	own.setSelf(srv.Addr(), adv, c.raftAddr)
	self.Store(selfBase(srv.Addr(), apiTLS != nil))
	ctx, cancel := context.WithCancel(context.Background())
	go cl.Members.RunAnnouncer(ctx, adv, c.raftAddr)
	return &node{raft: rn, engine: engine, srv: srv, cluster: cl, logger: logger, cancel: cancel, drain: c.drainTimeout}, nil
}

func (n *node) httpAddr() string { return n.srv.Addr() }

// stop shuts down in dependency order: no new requests; no more firing,
// and the calls being made finish (up to --drain-timeout) with their
// outcomes committed; then leadership goes to another member, and Raft
// and the stores close.
func (n *node) stop() error {
	n.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.srv.Shutdown(ctx); err != nil {
		n.logger.Warn("http shutdown", "err", err)
	}
	n.drainCalls()
	n.engine.Stop()
	n.cluster.Close()
	if err := n.raft.Shutdown(); err != nil {
		return fmt.Errorf("raft shutdown: %w", err)
	}
	return nil
}

// drainCalls lets the calls this node is making finish, up to the drain
// timeout, saying how it went.
func (n *node) drainCalls() {
	ctx, cancel := context.WithTimeout(context.Background(), n.drain)
	defer cancel()
	start := time.Now()
	if left := n.engine.Drain(ctx); left > 0 {
		n.logger.Warn("drain timeout: calls still going are cut short; the next leader fires them again under the same run ids",
			"calls", left, "drainTimeout", n.drain)
		return
	}
	if took := time.Since(start); took >= 100*time.Millisecond {
		n.logger.Info("calls in flight finished", "took", took.Round(time.Millisecond))
	}
}

// loadKarajo reads karajo's configuration into the schedules it defines
// (nil for no file); a problem stops the start, with its file and line.
func loadKarajo(path string) (*karajoconf.Config, []reconcile.Job, error) {
	if path == "" {
		return nil, nil, nil
	}
	cfg, err := karajoconf.Load(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--karajo-config: %w", err)
	}
	jobs, err := reconcile.KarajoJobs(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("--karajo-config: %w", err)
	}
	return cfg, jobs, nil
}

// selfBase is the base URL this node calls its own API on (callbacks
// whose URL is a path): its listen address, loopback for an unspecified
// host.
func selfBase(listen string, https bool) string {
	host, port, err := net.SplitHostPort(listen)
	if err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
			if ip != nil && ip.To4() == nil {
				host = "::1"
			}
		}
		listen = net.JoinHostPort(host, port)
	}
	if https {
		return "https://" + listen
	}
	return "http://" + listen
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

// callbackGuard is the guard of callback addresses c configures: the
// default denied ranges and --callback-deny-cidrs, except
// --callback-allow-cidrs, and always the cluster's own addresses.
func callbackGuard(c serveConfig, own func() []string) (*delivery.Guard, error) {
	deny, err := delivery.ParseCIDRs(c.callbackDeny)
	if err != nil {
		return nil, fmt.Errorf("--callback-deny-cidrs: %w", err)
	}
	allow, err := delivery.ParseCIDRs(c.callbackAllow)
	if err != nil {
		return nil, fmt.Errorf("--callback-allow-cidrs: %w", err)
	}
	return delivery.NewGuard(append(append([]netip.Prefix(nil), delivery.DefaultDeny...), deny...), allow, own), nil
}

// ownAddrs lists the addresses the cluster serves on, for the callback
// guard: this node's HTTP and Raft addresses, every member's Raft address
// and every announced API address. It is read for every callback
// connection, so the list is kept for a second.
type ownAddrs struct {
	node  *raftfsm.Node
	state projections.Reader

	mu    sync.Mutex
	self  []string
	addrs []string
	at    time.Time
}

func (o *ownAddrs) setSelf(addrs ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.self, o.at = addrs, time.Time{}
}

func (o *ownAddrs) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if time.Since(o.at) < time.Second {
		return o.addrs
	}
	out := append([]string(nil), o.self...)
	if st, err := o.node.Status(); err == nil {
		for _, m := range st.Members {
			out = append(out, m.RaftAddr)
		}
	}
	if nodes, err := o.state.Nodes(); err == nil {
		for _, n := range nodes {
			out = append(out, n.HTTPAddr, n.RaftAddr)
		}
	}
	o.addrs, o.at = out, time.Now()
	return out
}

// tokens issues and revokes through the engine and lists from the
// projection, for /auth/tokens.
type tokens struct {
	*actors.Engine
	projections.Reader
}

// authConfig reads the token and cluster secret files, and refuses to
// serve what anyone on the network could change: a non-loopback API
// without a token, non-loopback peers without a cluster secret or TLS,
// unless --insecure-no-auth says so.
func authConfig(c serveConfig, peers []raftfsm.Peer, tlsOn bool, logger *slog.Logger) (auth.Config, error) {
	var a auth.Config
	var err error
	if c.adminTokenFile != "" {
		if a.AdminToken, err = readSecretFile("--admin-token-file", c.adminTokenFile); err != nil {
			return a, err
		}
	}
	if c.clusterSecretFile != "" {
		if a.ClusterSecret, err = readSecretFile("--cluster-secret-file", c.clusterSecretFile); err != nil {
			return a, err
		}
	}
	a.RateLimit, a.RateBurst, a.TLSPeers = c.rateLimit, c.rateBurst, tlsOn
	if a.RateBurst == 0 {
		a.RateBurst = int(max(c.rateLimit, 1))
	}
	openAPI := !a.On() && !loopback(c.httpAddr)
	networkPeers := slices.ContainsFunc(peers, func(p raftfsm.Peer) bool { return !loopback(p.Addr) })
	openPeers := networkPeers && a.ClusterSecret == "" && !tlsOn
	if networkPeers && !tlsOn && a.ClusterSecret != "" {
		logger.Warn("the Raft port takes any connection without TLS: the cluster secret closes the HTTP endpoints of members only; "+
			"keep --raft-addr on a private network, or give every node --tls-cert, --tls-key and --tls-ca", "raft", c.raftAddr)
	}
	switch {
	case (openAPI || openPeers) && c.insecureNoAuth:
		logger.Warn("serving without authentication on a network address (--insecure-no-auth): anyone who reaches it can change every schedule and the cluster",
			"http", c.httpAddr, "peers", c.peers)
	case openAPI:
		return a, fmt.Errorf("--http-addr %s is reachable from other machines, and without --admin-token-file anyone who reaches it "+
			"can change every schedule: write a token to a file (say: head -c 32 /dev/urandom | base64 > admin-token) and pass "+
			"--admin-token-file admin-token, or pass --insecure-no-auth to serve it open anyway", c.httpAddr)
	case openPeers:
		return a, fmt.Errorf("--peers name other machines, and without --cluster-secret-file or TLS any process " +
			"that reaches a node can hand it writes as a member: write the same secret to a file on every node and pass " +
			"--cluster-secret-file, or give every node --tls-cert, --tls-key and --tls-ca, or pass --insecure-no-auth")
	}
	return a, nil
}

// readSecretFile reads a secret, surrounding whitespace ignored.
func readSecretFile(flag, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < 16 {
		return "", fmt.Errorf("%s %s: the secret must be at least 16 characters", flag, path)
	}
	return s, nil
}

// loopback reports whether host:port can only be reached from this
// machine.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// mailServer is the SMTP server workflow jobs' email notifications go
// through (--smtp-url; nil: none).
func (c serveConfig) mailServer() (*notify.Email, error) {
	if c.smtpURL == "" {
		return nil, nil
	}
	u, err := url.Parse(c.smtpURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("--smtp-url %q: give smtps://host[:port] or smtp://host[:port] (credentials in --smtp-user and --smtp-password-file)", c.smtpURL)
	}
	if _, err := netmail.ParseAddress(c.smtpFrom); err != nil {
		return nil, fmt.Errorf("--smtp-from %q: a sender address is needed with --smtp-url: %v", c.smtpFrom, err)
	}
	m := &notify.Email{Server: c.smtpURL, User: c.smtpUser, From: c.smtpFrom,
		AllowPlain: u.Scheme == "smtp"} // the notifier allows it on loopback only
	if c.smtpPasswordFile != "" {
		b, err := os.ReadFile(c.smtpPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("--smtp-password-file: %w", err)
		}
		m.Password = strings.TrimSpace(string(b))
	}
	if m.Password != "" && m.User == "" {
		return nil, errors.New("--smtp-password-file without --smtp-user")
	}
	return m, nil
}

// checkComponentURL refuses a --keboola-component-url that names no
// component or is not an http(s) URL once filled in.
func (c serveConfig) checkComponentURL() error {
	if c.componentURL == "" {
		return nil
	}
	filled := strings.NewReplacer("{component}", "c", "{action}", "run").Replace(c.componentURL)
	u, err := url.Parse(filled)
	if !strings.Contains(c.componentURL, "{component}") || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--keboola-component-url %q: give an http(s) URL with {component} (and {action}) in it, e.g. http://components.internal/{component}/{action}", c.componentURL)
	}
	return nil
}
