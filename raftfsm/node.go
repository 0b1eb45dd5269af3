package raftfsm

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/diskguard"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/internal/peerroute"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm/raftstore"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Errors callers map to answers (the HTTP layer maps these to 503).
var (
	ErrNotLeader = errkind.New(errkind.Unavailable, "this node is not the leader")
	ErrNoLeader  = errkind.New(errkind.Unavailable, "the cluster has no leader")
	ErrShutdown  = errkind.New(errkind.Unavailable, "node is shutting down")
	// ErrUnknownMember: no member of the cluster has that id.
	ErrUnknownMember = errkind.New(errkind.NotFound, "no such cluster member")
)

// Peer is a voting member named on the command line.
type Peer struct {
	ID   string
	Addr string
}

// Config configures a node. Zero durations take the LAN defaults below.
type Config struct {
	NodeID   string
	RaftAddr string // host:port to bind and advertise
	DataDir  string
	Peers    []Peer // empty: bootstrap a single-node cluster

	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	MaxAppendEntries   int
	SnapshotThreshold  uint64
	SnapshotInterval   time.Duration
	TrailingLogs       uint64
	// StateCacheBytes is the state store's block cache (0: the default).
	StateCacheBytes int64
	// TLS, if set, makes the Raft transport mutual TLS.
	TLS *TransportTLS
	// Routes says where to connect to reach members whose advertised Raft
	// address is not reachable as such (nil: every one is).
	Routes peerroute.Routes
	// MinFreeDiskBytes: below this much free space on the data dir's
	// disk, the node refuses to propose the writes clients ask for (507)
	// until space returns; 0 never refuses (diskguard).
	MinFreeDiskBytes uint64
	// OnApply, if set, is told of every batch applied to the state store:
	// Raft entries, events, and how long it took.
	OnApply func(entries, events int, took time.Duration)

	Logger *slog.Logger
}

// TransportTLS is the Raft transport's TLS: Server for the listener (it
// must require client certificates), Client for dialling members.
type TransportTLS struct {
	Server, Client *tls.Config
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	// Tuned for a LAN: a dead leader is noticed and replaced in well under
	// a second; shorter timeouts caused spurious elections under load on
	// 2-core machines.
	def(&c.HeartbeatTimeout, 300*time.Millisecond)
	def(&c.ElectionTimeout, 300*time.Millisecond)
	def(&c.LeaderLeaseTimeout, 150*time.Millisecond)
	def(&c.CommitTimeout, 10*time.Millisecond)
	def(&c.SnapshotInterval, 30*time.Second)
	if c.MaxAppendEntries == 0 {
		c.MaxAppendEntries = 512
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 16384
	}
	if c.StateCacheBytes <= 0 {
		c.StateCacheBytes = DefaultStateCacheBytes
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 10240
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
}

func (c Config) listsSelf() bool {
	for _, p := range c.Peers {
		if p.ID == c.NodeID {
			return true
		}
	}
	return false
}

// Node is one member of the Raft cluster with its state store.
type Node struct {
	cfg       Config
	raft      *raft.Raft
	fsm       *FSM
	stateDB   *pebble.DB
	logStore  *raftstore.Store
	transport *raft.NetworkTransport

	schema schemaGate // which event schema to propose in (schema.go)
	disk   *diskguard.Guard
	caught atomic.Bool // applied what the leader had committed, once (CaughtUp)
	// readyTerm is the term in which this node, leading, committed a
	// barrier: its commit index is the cluster's (ReadIndex).
	readyTerm atomic.Uint64
	// leaderChanges counts the leader changes this node saw (metrics).
	leaderChanges atomic.Uint64

	mu        sync.Mutex
	listeners []func(isLeader bool)
	notify    chan bool // raft's NotifyCh; read once the first listener is registered
	done      chan struct{}
	closeOnce sync.Once
}

// Open starts a node: it opens (or creates) the stores under DataDir,
// starts Raft and, on first start, bootstraps the cluster from Peers (or
// from this node alone).
func Open(cfg Config) (*Node, error) {
	cfg.setDefaults()
	if cfg.NodeID == "" || cfg.RaftAddr == "" || cfg.DataDir == "" {
		return nil, errors.New("raftfsm: node id, raft address and data dir are required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	n := &Node{cfg: cfg, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			n.closeStores()
		}
	}()

	var err error
	if n.disk, err = diskguard.New(cfg.DataDir, cfg.MinFreeDiskBytes, cfg.Logger); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// The Raft log is the state machine's write-ahead log: every entry is
	// synced there before it is applied, and on start raft re-applies the
	// entries after the stored applied index. A second WAL in the state
	// store only repeated that work, at a cost that showed in the create
	// benchmark (bench/RESULTS.md, "Measurements behind the code"). The state store's contents become durable
	// when Pebble flushes a memtable, which FSM.Snapshot forces before raft
	// may truncate the log, and which Shutdown forces on a clean stop.
	liveOpts := StateOptions(cfg.Logger)
	liveOpts.DisableWAL = true
	n.stateDB, err = openState(cfg.DataDir, liveOpts, cfg.StateCacheBytes, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if n.fsm, err = NewFSM(n.stateDB, cfg.Logger); err != nil {
		return nil, err
	}
	n.fsm.onApply = cfg.OnApply
	if n.logStore, err = raftstore.Open(filepath.Join(cfg.DataDir, "raft"), cfg.Logger); err != nil {
		return nil, fmt.Errorf("open raft log store: %w", err)
	}
	hlog := raftLogger(cfg.Logger)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, hlog) // it adds "snapshots/"
	if err != nil {
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	if err := n.catchUpFromSnapshot(snaps); err != nil {
		return nil, err
	}
	addr, err := net.ResolveTCPAddr("tcp", cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("resolve raft address %q: %w", cfg.RaftAddr, err)
	}
	var stream raft.StreamLayer
	switch {
	case cfg.TLS != nil:
		stream, err = newTLSStream(cfg.RaftAddr, addr, cfg.TLS.Server, cfg.TLS.Client, cfg.Routes)
	case len(cfg.Routes) > 0:
		stream, err = newRoutedStream(cfg.RaftAddr, addr, cfg.Routes)
	default:
		n.transport, err = raft.NewTCPTransportWithConfig(cfg.RaftAddr, addr, transportConfig(hlog))
	}
	if err == nil && stream != nil {
		tc := transportConfig(hlog)
		tc.Stream = stream
		n.transport = raft.NewNetworkTransportWithConfig(tc)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on raft address %s: %w", cfg.RaftAddr, err)
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.MaxAppendEntries = cfg.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	// The state store persists across restarts and records its applied
	// index; reloading a snapshot on every start would only cost time.
	rc.NoSnapshotRestoreOnStart = true
	rc.Logger = hlog
	notify := make(chan bool, 16)
	rc.NotifyCh = notify

	hasState, err := raft.HasExistingState(n.logStore, n.logStore, snaps)
	if err != nil {
		return nil, fmt.Errorf("inspect raft state: %w", err)
	}
	// A node listed in its own --peers (or with none) bootstraps; one that
	// is not listed starts empty and waits to be added by the leader.
	if !hasState && (len(cfg.Peers) == 0 || cfg.listsSelf()) {
		servers := []raft.Server{{ID: rc.LocalID, Address: raft.ServerAddress(cfg.RaftAddr)}}
		if len(cfg.Peers) > 0 {
			servers = servers[:0]
			for _, p := range cfg.Peers {
				servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
			}
		}
		if err := raft.BootstrapCluster(rc, n.logStore, n.logStore, snaps, n.transport, raft.Configuration{Servers: servers}); err != nil {
			return nil, fmt.Errorf("bootstrap cluster: %w", err)
		}
	}
	if n.raft, err = raft.NewRaft(rc, n.fsm, n.logStore, n.logStore, snaps, n.transport); err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	n.notify = notify
	ok = true
	go n.watchDisk()
	n.watchLeaderChanges()
	return n, nil
}

// watchLeaderChanges counts the leader changes raft reports, until the
// node shuts down. The observer is registered before Open returns: the
// first election, a heartbeat timeout later, is counted too.
func (n *Node) watchLeaderChanges() {
	ch := make(chan raft.Observation, 16)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(obs)
	go n.countLeaderChanges(ch, obs)
}

func (n *Node) countLeaderChanges(ch <-chan raft.Observation, obs *raft.Observer) {
	defer n.raft.DeregisterObserver(obs)
	for {
		select {
		case <-ch:
			n.leaderChanges.Add(1)
		case <-n.done:
			return
		}
	}
}

// RaftStats is this node's Raft progress, for the metrics.
type RaftStats struct {
	State         raft.RaftState
	HasLeader     bool
	Term          uint64
	LastIndex     uint64 // last entry in this node's log
	CommitIndex   uint64 // last entry this node knows to be committed
	AppliedIndex  uint64 // last entry visible in this node's state store
	LastContact   time.Time
	LeaderChanges uint64
}

// RaftStats reports this node's Raft progress.
func (n *Node) RaftStats() RaftStats {
	return RaftStats{State: n.raft.State(), HasLeader: n.Leader() != "", Term: n.raft.CurrentTerm(),
		LastIndex: n.raft.LastIndex(), CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.fsm.AppliedIndex(),
		LastContact: n.raft.LastContact(), LeaderChanges: n.leaderChanges.Load()}
}

// watchDisk samples the data dir's free space every second until the node
// shuts down: a second of writes is what the floor must leave room for
// between two samples.
func (n *Node) watchDisk() { n.disk.Run(n.done, time.Second) }

// catchUpFromSnapshot restores the newest snapshot if the state store is
// behind it (its unsynced tail was lost in a crash after raft truncated
// the log, or a restore was interrupted). Raft itself will not, because
// NoSnapshotRestoreOnStart is set.
func (n *Node) catchUpFromSnapshot(snaps raft.SnapshotStore) error {
	list, err := snaps.List()
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	if len(list) == 0 || list[0].Index <= n.fsm.AppliedIndex() {
		return nil
	}
	n.cfg.Logger.Warn("state store is behind the newest snapshot; restoring it",
		"applied", n.fsm.AppliedIndex(), "snapshot", list[0].Index)
	_, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		return fmt.Errorf("open snapshot %s: %w", list[0].ID, err)
	}
	return n.fsm.Restore(rc)
}

func (n *Node) watchLeadership(notify <-chan bool) {
	for {
		select {
		case isLeader := <-notify:
			n.mu.Lock()
			ls := append([]func(bool){}, n.listeners...)
			n.mu.Unlock()
			for _, l := range ls {
				l(isLeader)
			}
		case <-n.done:
			return
		}
	}
}

// OnLeadership registers f to be called (on one goroutine, in order) each
// time this node gains or loses leadership.
// Changes that happened before the first registration are kept in raft's
// buffered channel and delivered then, so a listener registered right
// after Open misses nothing.
func (n *Node) OnLeadership(f func(isLeader bool)) {
	n.mu.Lock()
	n.listeners = append(n.listeners, f)
	first := len(n.listeners) == 1
	n.mu.Unlock()
	if first {
		go n.watchLeadership(n.notify)
	}
}

// SetObserver installs the observer of applied effects.
func (n *Node) SetObserver(o Observer) { n.fsm.SetObserver(o) }

// State is the read-only view of the state store, for projections queries.
func (n *Node) State() pebble.Reader { return n.stateDB }

// NodeID is this node's Raft id.
func (n *Node) NodeID() string { return n.cfg.NodeID }

// IsLeader reports whether this node currently believes it leads.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Barrier blocks until every entry committed before it is applied here.
func (n *Node) Barrier(timeout time.Duration) error {
	if err := n.raft.Barrier(timeout).Error(); err != nil {
		return n.mapErr(err)
	}
	return nil
}

// Propose replicates events as one Raft entry and waits until it is
// applied here, returning one Result per event and the entry's index.
//
// Every event is first decoded and checked by the log's admission rules
// (eventlog/admit), whoever stamped it: one that fails is not proposed
// and its Result carries a projections.ErrInvalidEvent rejection, so apply
// never meets a payload it cannot read. With no events at all, an empty
// entry is appended (it moves the applied index and nothing else).
func (n *Node) Propose(evs []event.Event, timeout time.Duration) ([]Result, uint64, error) {
	reads, err := n.reads()
	if err != nil {
		return nil, 0, n.mapErr(err) // a node shutting down answers like Apply would
	}
	admitted, refused := admitEvents(evs, reads.types)
	if len(evs) > 0 && len(admitted) == 0 {
		return refused, 0, nil
	}
	if err := n.roomFor(admitted); err != nil {
		return nil, 0, err
	}
	if admitted, err = inSchema(admitted, reads.version); err != nil {
		return nil, 0, err
	}
	data, err := encodeCommand(admitted, reads.types >= event.ActorsSince)
	if err != nil {
		return nil, 0, err
	}
	f := n.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		return nil, 0, n.mapErr(err)
	}
	results, ok := f.Response().([]Result)
	if !ok {
		return nil, 0, fmt.Errorf("raftfsm: unexpected apply response %T", f.Response())
	}
	if refused != nil {
		results = MergeResults(refused, results)
	}
	return results, f.Index(), nil
}

// roomFor refuses a batch with a client's write that adds data while the
// disk is nearly full. The node's own events (runs fired and their
// outcomes, retention) go on in the headroom, and so do the writes that
// make room or close access: deletes and token revocations.
func (n *Node) roomFor(evs []event.Event) error {
	refusal := n.disk.Refuse()
	if refusal == nil {
		return nil
	}
	for _, ev := range evs {
		switch {
		case ev.Actor == event.ActorSystem, ev.Type == event.TypeScheduleDeleted, ev.Type == event.TypeTokenRevoked:
		default:
			return refusal
		}
	}
	return nil
}

// AdmitEvents returns the events the log admits and, if any was refused,
// every event's result so far (the refused ones' rejections; nil if all
// were admitted, the common case, which then costs no allocation). A
// follower runs it before it forwards events, so that one bad event is
// refused alone rather than with the batch it would travel in.
func AdmitEvents(evs []event.Event) (admitted []event.Event, refused []Result) {
	return admitEvents(evs, event.NewestType)
}

// admitEvents is AdmitEvents that also refuses types newer than types,
// which some member cannot read yet.
func admitEvents(evs []event.Event, types event.Type) (admitted []event.Event, refused []Result) {
	for i, ev := range evs {
		p, err := admit.Event(ev)
		if err == nil && ev.Type > types {
			err = fmt.Errorf("%s events are not read by every member yet (a rolling upgrade is not finished)", ev.Type)
		} else if err == nil && event.TypeNeeded(p) > types {
			err = fmt.Errorf("this %s is not read in full by every member yet (a rolling upgrade is not finished)", ev.Type)
		}
		if err == nil {
			if refused != nil {
				admitted = append(admitted, ev)
			}
			continue
		}
		if refused == nil {
			refused = make([]Result, len(evs))
			admitted = append(make([]event.Event, 0, len(evs)), evs[:i]...)
		}
		refused[i].Err = fmt.Errorf("%w: %w", projections.ErrInvalidEvent, err)
	}
	if refused == nil {
		return evs, nil
	}
	return admitted, refused
}

// MergeResults fills the slots of refused (from AdmitEvents) that hold no
// rejection with the results of the admitted events, in order.
func MergeResults(refused, applied []Result) []Result {
	j := 0
	for i := range refused {
		if refused[i].Err == nil && j < len(applied) {
			refused[i] = applied[j]
			j++
		}
	}
	return refused
}

// VerifyLeader confirms with a quorum that this node still leads: after it,
// the applied index covers every write acknowledged so far.
func (n *Node) VerifyLeader() error { return n.mapErr(n.raft.VerifyLeader().Error()) }

// ReadIndex is the Raft read index (the Raft thesis, section 6.4): this
// leader's commit index, confirmed as the cluster's by a round of
// heartbeats to a quorum after it was read. A node that has applied it
// sees every write acknowledged before ReadIndex was called. A new
// leader's commit index is the cluster's only once it has committed an
// entry of its own term: the first read index of a term waits for a
// barrier entry.
func (n *Node) ReadIndex(timeout time.Duration) (uint64, error) {
	term := n.raft.CurrentTerm()
	if n.readyTerm.Load() != term {
		if err := n.Barrier(timeout); err != nil {
			return 0, err
		}
		n.readyTerm.Store(term)
	}
	index := n.raft.CommitIndex()
	if err := n.VerifyLeader(); err != nil {
		return 0, err
	}
	if n.raft.CurrentTerm() != term {
		return 0, fmt.Errorf("%w: leadership changed while reading the commit index", ErrNotLeader)
	}
	return index, nil
}

// LastIndex is the index of the last entry in this node's Raft log.
func (n *Node) LastIndex() uint64 { return n.raft.LastIndex() }

// Term is the Raft term this node is in.
func (n *Node) Term() uint64 { return n.raft.CurrentTerm() }

func (n *Node) mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		if addr, _ := n.raft.LeaderWithID(); addr == "" {
			return fmt.Errorf("%w: %v", ErrNoLeader, err)
		}
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %v", ErrShutdown, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %v", ErrNoLeader, err)
	}
	return err
}

// Member describes one server of the cluster configuration.
type Member struct {
	ID       string
	RaftAddr string
	Voter    bool
	Leader   bool
}

// Status is this node's view of the cluster.
type Status struct {
	NodeID       string
	State        string
	LeaderID     string
	LeaderAddr   string
	Term         uint64
	AppliedIndex uint64
	LastContact  time.Time
	Members      []Member
}

// Leader returns the leader's id as this node knows it ("" if none).
func (n *Node) Leader() string {
	_, id := n.raft.LeaderWithID()
	return string(id)
}

// Status reports this node's view of the cluster.
func (n *Node) Status() (Status, error) {
	addr, id := n.raft.LeaderWithID()
	st := Status{
		NodeID: n.cfg.NodeID, State: n.raft.State().String(), LeaderID: string(id), LeaderAddr: string(addr),
		Term: n.raft.CurrentTerm(), AppliedIndex: n.raft.AppliedIndex(), LastContact: n.raft.LastContact(),
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return st, n.mapErr(err)
	}
	for _, s := range f.Configuration().Servers {
		st.Members = append(st.Members, Member{
			ID: string(s.ID), RaftAddr: string(s.Address), Voter: s.Suffrage == raft.Voter, Leader: s.ID == id,
		})
	}
	return st, nil
}

// CaughtUp reports whether this node has, since it started, applied every
// entry the leader had committed when it first heard from it. Until then
// a restarted follower serves reads from an old state: its store keeps
// only what Pebble flushed (see Open), and raft re-applies the rest once
// the leader tells it the commit index. Once true it stays true (lag
// later on shows in /cluster).
func (n *Node) CaughtUp() bool {
	if n.caught.Load() {
		return true
	}
	commit := n.raft.CommitIndex()
	if n.Leader() == "" || commit == 0 || n.fsm.AppliedIndex() < commit {
		return false
	}
	n.caught.Store(true)
	return true
}

// AppliedIndex is the last Raft index whose effects are visible in this
// node's state store.
func (n *Node) AppliedIndex() uint64 { return n.fsm.AppliedIndex() }

// WaitApplied waits until this node has applied index, or timeout passes.
// A follower uses it so that a write it forwarded is visible in its own
// projections before it answers.
func (n *Node) WaitApplied(index uint64, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ready := func() bool { return n.fsm.AppliedIndex() >= index || n.onlyNonCommands(n.fsm.AppliedIndex()+1, index) }
	// A read index may be an entry the FSM never sees (a new leader's
	// no-op, a barrier, a configuration change): when only such entries
	// lie between the FSM's applied index and it, the FSM has applied
	// every command it covers, and no FSM batch would come to wake this
	// wait (a linearizable read or a confirmed refusal on a quiet cluster
	// waited out its timeout). The ticker re-checks the log.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	return n.waitFor(ctx, ready, tick.C) == nil
}

// onlyNonCommands reports whether the log entries from..to hold no
// command (they are no-ops, barriers or configuration changes), reading
// at most a few of them: a longer run is not waited for this way.
func (n *Node) onlyNonCommands(from, to uint64) bool {
	if to < from || to-from >= 8 {
		return false
	}
	var l raft.Log
	for i := from; i <= to; i++ {
		if err := n.logStore.GetLog(i, &l); err != nil || l.Type == raft.LogCommand {
			return false
		}
	}
	return true
}

// waitFor blocks until ready() holds, re-checking each time the FSM
// commits a batch and each time recheck ticks (nil: never), or until ctx
// ends (its error is returned).
func (n *Node) waitFor(ctx context.Context, ready func() bool, recheck <-chan time.Time) error {
	for !ready() {
		select {
		case <-n.fsm.movedAfter(ready):
		case <-recheck:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// OpenState opens the state store (event log and projections) of a data
// dir, for tools that work on a stopped node's data (replay, audit).
// Their writes go through Pebble's WAL (which a node replays when it opens
// the store), so they are durable without the node's help.
func OpenState(dataDir string, readOnly bool, logger *slog.Logger) (*pebble.DB, error) {
	opts := StateOptions(logger)
	opts.ReadOnly = readOnly
	return openState(dataDir, opts, DefaultStateCacheBytes, logger)
}

func openState(dataDir string, opts *pebble.Options, cacheBytes int64, logger *slog.Logger) (*pebble.DB, error) {
	dir := filepath.Join(dataDir, "state")
	opts.Logger = raftstore.PebbleLogger(logger.With("store", "state", "dir", dir))
	if opts.ReadOnly {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("no state store in %s: %w", dataDir, err)
		}
	}
	db, err := OpenWithCache(dir, opts, cacheBytes)
	if err != nil {
		return nil, fmt.Errorf("open state store %s (is a node still running on it?): %w", dir, err)
	}
	return db, nil
}

// StateOptions tunes Pebble for the state store's access pattern: apply
// reads a record before most writes, and often asks for a key that does
// not exist yet (a new schedule, a run not pending). Bloom filters let
// those misses skip every sstable instead of reading a block from each,
// and a larger block cache and memtable keep the hot part of the read
// models in memory (figures: bench/RESULTS.md, "Measurements behind the code").
func StateOptions(logger *slog.Logger) *pebble.Options {
	opts := &pebble.Options{Logger: raftstore.PebbleLogger(logger.With("store", "state")), MemTableSize: 32 << 20,
		EventListener: storeEvents(logger)}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return opts
}

// RebuildOptions tunes Pebble for a rebuild of the projections into a
// fresh store, a bulk load: no write-ahead log (a rebuild that stops is
// redone from the event log; the caller flushes a store it keeps), and
// fewer, larger compactions: at the state store's settings every L0 file
// of a rebuild rewrote much of the level below, and compactions took a
// large part of its CPU. The three settings below help together; each
// alone gave little (bench/RESULTS.md, "Measurements behind the code"). A node that opens the kept store later compacts
// it at the state store's settings.
func RebuildOptions(logger *slog.Logger) *pebble.Options {
	opts := StateOptions(logger)
	opts.DisableWAL = true
	opts.MemTableSize = 64 << 20
	opts.L0CompactionThreshold = 16
	opts.L0StopWritesThreshold = 64
	opts.LBaseMaxBytes = 512 << 20
	return opts
}

// OpenWithCache opens a Pebble store with its own block cache of
// cacheBytes.
func OpenWithCache(dir string, opts *pebble.Options, cacheBytes int64) (*pebble.DB, error) {
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref() // the open DB holds its own reference
	opts.Cache = cache
	return pebble.Open(dir, opts)
}

// DefaultStateCacheBytes is the state store's block cache unless
// configured. Firing reads the records of every due run (its schedule,
// its pending run) and writes them back; with a smaller cache a burst of
// due runs spent its CPU re-reading sstable blocks (bench/RESULTS.md, "Measurements behind the code"). It is a fixed
// cost, not one per schedule.
const DefaultStateCacheBytes = 256 << 20

// StoreMemory is what the node's two Pebble stores hold in memory: fixed
// costs, bounded by their configuration, not by the number of schedules.
type StoreMemory struct {
	BlockCacheBytes int64 `json:"blockCacheBytes"`
	MemtableBytes   int64 `json:"memtableBytes"`
}

// StoreMetrics is Pebble's report (levels, compactions, write
// amplification, caches) of the state store and of the Raft log store.
func (n *Node) StoreMetrics() (state, log *pebble.Metrics) {
	return n.stateDB.Metrics(), n.logStore.Metrics()
}

// StoreMemory reports the block caches' and memtables' current size.
func (n *Node) StoreMemory() StoreMemory {
	m := n.stateDB.Metrics()
	cache, mem := n.logStore.Memory()
	return StoreMemory{BlockCacheBytes: m.BlockCache.Size + cache, MemtableBytes: int64(m.MemTable.Size) + mem}
}

// LastSeq is the seq of the newest event in this node's log.
func (n *Node) LastSeq() uint64 { return n.fsm.LastSeq() }

// Events returns up to limit events of this node's log with seq > after.
func (n *Node) Events(after uint64, limit int) ([]event.Event, error) {
	var out []event.Event
	err := eventlog.Scan(n.stateDB, after, limit, func(ev event.Event) error {
		out = append(out, ev)
		return nil
	})
	return out, err
}

// WaitForEvents blocks until this node's log holds an event with seq >
// after, or ctx ends (its error is returned).
func (n *Node) WaitForEvents(ctx context.Context, after uint64) error {
	return n.waitFor(ctx, func() bool { return n.fsm.LastSeq() > after }, nil)
}

// AddVoter adds (or promotes) a voting member. Leader only.
func (n *Node) AddVoter(id, addr string) error {
	return n.mapErr(n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 10*time.Second).Error())
}

// AddNonvoter adds a member that replicates but does not vote. Leader only.
func (n *Node) AddNonvoter(id, addr string) error {
	return n.mapErr(n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 10*time.Second).Error())
}

// RemoveServer removes a member. Leader only.
func (n *Node) RemoveServer(id string) error {
	return n.mapErr(n.raft.RemoveServer(raft.ServerID(id), 0, 10*time.Second).Error())
}

// TransferLeadership hands leadership to id, or to the most up-to-date
// voter if id is "". Leader only.
func (n *Node) TransferLeadership(id string) error {
	if id == "" {
		return n.mapErr(n.raft.LeadershipTransfer().Error())
	}
	for _, s := range n.raft.GetConfiguration().Configuration().Servers {
		if string(s.ID) == id {
			return n.mapErr(n.raft.LeadershipTransferToServer(s.ID, s.Address).Error())
		}
	}
	return fmt.Errorf("%w: %s", ErrUnknownMember, id)
}

// Snapshot asks raft to take a snapshot now (and truncate its log).
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// Shutdown hands leadership over if it can (so a planned stop does not
// wait for an election), stops raft and closes the stores.
func (n *Node) Shutdown() error {
	var err error
	n.closeOnce.Do(func() {
		if n.IsLeader() && len(n.raft.GetConfiguration().Configuration().Servers) > 1 {
			_ = n.raft.LeadershipTransfer().Error()
		}
		err = n.raft.Shutdown().Error()
		close(n.done)
		n.closeStores()
	})
	return err
}

func (n *Node) closeStores() {
	if n.transport != nil {
		n.transport.Close()
	}
	if n.logStore != nil {
		n.logStore.Close()
	}
	if n.stateDB != nil {
		// Without a WAL, what is still in memtables is lost on close (raft
		// would re-apply it on start, from as far back as the last flush).
		if err := n.stateDB.Flush(); err != nil {
			n.cfg.Logger.Warn("flush state store before closing", "err", err)
		}
		n.stateDB.Close()
	}
}

// transportConfig configures the Raft network transport: eight pooled
// connections per peer, a 10 s I/O timeout, and no pipelined replication
// (MaxRPCsInFlight 1: one AppendEntries at a time per follower, batched).
// hashicorp/raft v1.8.0's pipeline can deadlock: when a follower rejects
// an append, the pipeline's decoder loses its reader and the next send
// waits for it forever, so replication to that follower stops for good
// while its heartbeats go on (it never calls an election), and
// raft.Shutdown waits for that replication goroutine forever. make chaos
// met it as nodes that did not stop within 30 s of SIGTERM, whose
// goroutine dumps show exactly this (bench/RESULTS.md). The library's own
// measurements found pipelining of little use once entries are batched.
func transportConfig(logger hclog.Logger) *raft.NetworkTransportConfig {
	return &raft.NetworkTransportConfig{MaxPool: 8, Timeout: 10 * time.Second, Logger: logger, MaxRPCsInFlight: 1}
}

// storeEvents reports what an operator must see of the state store:
// write stalls (every apply, hence every write and every fire, waits while
// one lasts), slow disk operations and background errors (a failed flush
// or compaction).
func storeEvents(logger *slog.Logger) *pebble.EventListener {
	var stalledAt atomic.Int64 // unix ns of the current stall's start, 0 if none
	return &pebble.EventListener{
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			stalledAt.Store(time.Now().UnixNano())
			logger.Warn("state store: writes stalled (compactions are behind)", "reason", info.Reason)
		},
		WriteStallEnd: func() {
			if at := stalledAt.Swap(0); at != 0 {
				logger.Warn("state store: writes resumed", "stalled", time.Since(time.Unix(0, at)).Round(time.Millisecond))
			}
		},
		DiskSlow: func(info pebble.DiskSlowInfo) {
			logger.Warn("state store: slow disk operation", "op", info.OpType.String(), "path", info.Path, "took", info.Duration)
		},
		BackgroundError: func(err error) {
			logger.Error("state store: background error", "err", err)
		},
	}
}

var _ io.Closer = (*raft.NetworkTransport)(nil)
