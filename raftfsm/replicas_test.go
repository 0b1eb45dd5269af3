package raftfsm

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/freeport"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm/raftstore"
	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

func replicaAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// openReplicas starts n nodes forming one cluster, in-process.
func openReplicas(t *testing.T, n int) []*Node {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	var peers []Peer
	for i := 0; i < n; i++ {
		peers = append(peers, Peer{ID: fmt.Sprintf("r%d", i+1), Addr: replicaAddr(t)})
	}
	if n == 1 {
		peers = nil
	}
	nodes := make([]*Node, n)
	for i := range nodes {
		cfg := Config{NodeID: fmt.Sprintf("r%d", i+1), DataDir: t.TempDir(), Peers: peers, Logger: logger,
			HeartbeatTimeout: time.Second, ElectionTimeout: time.Second, LeaderLeaseTimeout: 500 * time.Millisecond}
		cfg.RaftAddr = replicaAddr(t)
		if peers != nil {
			cfg.RaftAddr = peers[i].Addr
		}
		nd, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = nd
		t.Cleanup(func() { _ = nd.Shutdown() })
	}
	return nodes
}

func leaderOfReplicas(t *testing.T, nodes []*Node) *Node {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n.IsLeader() {
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader within 20s")
	return nil
}

// streamGen produces a seeded, mostly meaningful stream of proposals,
// including ones apply must reject.
type streamGen struct {
	rng     *rand.Rand
	now     int64
	apps    []string
	parts   map[string]int
	pending []event.RunFired // runs that may be fired
	fired   []event.RunFired // fired, no outcome yet
	ids     []string         // every schedule id created
	appOf   map[string]string
	n       int
}

func (g *streamGen) next() event.Payload {
	g.n++
	r := g.rng.IntN(100)
	switch {
	case len(g.apps) < 3 || r < 3:
		id := fmt.Sprintf("app%d", g.rng.IntN(5)) // sometimes a duplicate: rejected
		g.apps = append(g.apps, id)
		g.parts[id] = 1 + g.rng.IntN(4)
		return event.AppRegistered{AppID: id, Partitions: g.parts[id], Active: true}
	case r < 6:
		app := g.apps[g.rng.IntN(len(g.apps))]
		if g.rng.IntN(2) == 0 {
			return event.AppDeactivated{AppID: app}
		}
		return event.AppActivated{AppID: app}
	case r < 40:
		app := g.apps[g.rng.IntN(len(g.apps))]
		id := fmt.Sprintf("s%05d", g.n)
		part := g.rng.IntN(g.parts[app] + 1) // sometimes out of range: rejected
		cb := event.Callback{Type: "http", URL: "http://127.0.0.1:1/", Method: "POST"}
		g.ids = append(g.ids, id)
		g.appOf[id] = app
		if g.rng.IntN(4) == 0 {
			t := int64(1_800_000_000 + 60*g.rng.IntN(1000))
			g.pending = append(g.pending, event.RunFired{ScheduleID: id, RunID: event.CronRunID(id, t), AppID: app,
				Partition: part, ScheduledTime: t, NextRunTime: t + 60})
			return event.ScheduleCreated{ScheduleID: id, AppID: app, Partition: part, CronExpression: "* * * * *",
				NextRunTime: t, Callback: cb}
		}
		t := int64(1_800_000_000 + g.rng.IntN(100000))
		g.pending = append(g.pending, event.RunFired{ScheduleID: id, RunID: id, AppID: app, Partition: part, ScheduledTime: t})
		return event.ScheduleCreated{ScheduleID: id, AppID: app, Partition: part, ScheduleTime: t, Payload: "p", Callback: cb}
	case r < 60 && len(g.pending) > 0:
		i := g.rng.IntN(len(g.pending))
		rf := g.pending[i]
		if g.rng.IntN(5) > 0 { // sometimes fire twice: rejected
			g.pending = append(g.pending[:i], g.pending[i+1:]...)
			if rf.NextRunTime > 0 {
				g.pending = append(g.pending, event.RunFired{ScheduleID: rf.ScheduleID, AppID: rf.AppID, Partition: rf.Partition,
					RunID: event.CronRunID(rf.ScheduleID, rf.NextRunTime), ScheduledTime: rf.NextRunTime, NextRunTime: rf.NextRunTime + 60})
			}
		}
		g.fired = append(g.fired, rf)
		return rf
	case r < 80 && len(g.fired) > 0:
		i := g.rng.IntN(len(g.fired))
		rf := g.fired[i]
		g.fired = append(g.fired[:i], g.fired[i+1:]...)
		status := []string{event.StatusSuccess, event.StatusFailure, event.StatusMiss}[g.rng.IntN(3)]
		return event.RunCompleted{ScheduleID: rf.ScheduleID, RunID: rf.RunID, AppID: rf.AppID, Partition: rf.Partition,
			ScheduledTime: rf.ScheduledTime, Status: status, ErrorMessage: "e", Attempts: 1 + g.rng.IntN(3)}
	case r < 90 && len(g.ids) > 0:
		id := g.ids[g.rng.IntN(len(g.ids))]
		return event.ScheduleDeleted{ScheduleID: id, AppID: g.appOf[id]} // repeated deletes: rejected
	case len(g.apps) > 0:
		start := int64(1_800_000_000 + g.rng.IntN(100000))
		action := []string{event.ActionDelete, event.ActionReconcile}[g.rng.IntN(2)]
		status := []string{"", event.StatusFailure, event.StatusScheduled, event.StatusSuccess}[g.rng.IntN(4)]
		return event.BulkAction{AppID: g.apps[g.rng.IntN(len(g.apps))], Action: action, Status: status,
			StartTime: start, EndTime: start + int64(g.rng.IntN(20000))}
	}
	return event.AppActivated{AppID: "nobody"} // rejected
}

// TestOneAndThreeNodesApplyIdentically proposes the same seeded command
// stream, in the same entries, to a single node and to a three-node
// cluster: every node must end with byte-identical projections and logs,
// and a rebuild from the log must reproduce them.
func TestOneAndThreeNodesApplyIdentically(t *testing.T) {
	const seed = 20261122
	t.Logf("seed %d", seed)
	single := openReplicas(t, 1)
	trio := openReplicas(t, 3)
	l1, l3 := leaderOfReplicas(t, single), leaderOfReplicas(t, trio)
	// Both hear the same announcements, so the trio's members are known to
	// read the current schema and both write it (schema.go). The trio's
	// leader proposes the first round in version 1 (nobody had announced
	// yet), which stores the node records as JSON; the second round, in
	// version 2 on both, leaves the same bytes everywhere.
	var announced []event.Event
	for _, n := range trio {
		ev, err := event.New(event.NodeAnnounced{NodeID: n.NodeID(), HTTPAddr: "127.0.0.1:1", Schema: event.SchemaVersion}, 1, "gen")
		if err != nil {
			t.Fatal(err)
		}
		announced = append(announced, ev)
	}
	for round := 0; round < 2; round++ {
		for _, l := range []*Node{l1, l3} {
			if _, _, err := l.Propose(announced, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			l.schema.mu.Lock()
			l.schema.until = time.Time{}
			l.schema.mu.Unlock()
		}
	}

	g := &streamGen{rng: rand.New(rand.NewPCG(seed, 1)), parts: map[string]int{}, appOf: map[string]string{}}
	accepted, rejected := 0, 0
	for sent := 0; sent < 2000; {
		var evs []event.Event
		for k := 1 + g.rng.IntN(20); k > 0; k-- {
			g.now += 1e9
			ev, err := event.New(g.next(), 1_700_000_000e9+g.now, "gen")
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
		sent += len(evs)
		r1, _, err := l1.Propose(evs, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		r3, _, err := l3.Propose(evs, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			e1, e3 := fmt.Sprint(r1[i].Err), fmt.Sprint(r3[i].Err)
			if e1 != e3 || r1[i].Seq != r3[i].Seq || r1[i].Affected != r3[i].Affected {
				t.Fatalf("event %d (%s): single %+v, cluster %+v", sent-len(evs)+i, evs[i].Type, r1[i], r3[i])
			}
			if r1[i].Err == nil {
				accepted++
			} else {
				rejected++
			}
		}
	}
	t.Logf("%d events accepted, %d rejected by apply", accepted, rejected)
	if accepted < 500 || rejected < 50 {
		t.Fatalf("stream not varied enough: %d accepted, %d rejected", accepted, rejected)
	}

	want, err := projections.Checksums(l1.State())
	if err != nil {
		t.Fatal(err)
	}
	if err := l3.Barrier(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	lastSeq, _ := eventlog.LastSeq(l1.State())
	for _, n := range trio {
		var got map[string]string
		deadline := time.Now().Add(20 * time.Second)
		for {
			got, err = projections.Checksums(n.State())
			if err != nil {
				t.Fatal(err)
			}
			if len(projections.DiffChecksums(want, got)) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if d := projections.DiffChecksums(want, got); len(d) > 0 {
			t.Fatalf("node %s differs from the single node: %v", n.NodeID(), d)
		}
		if s, _ := eventlog.LastSeq(n.State()); s != lastSeq {
			t.Fatalf("node %s log ends at %d, single node at %d", n.NodeID(), s, lastSeq)
		}
	}
	t.Logf("projections on all four nodes: %v", want)

	rebuilt, err := pebble.Open(t.TempDir(), &pebble.Options{Logger: raftstore.PebbleLogger(slog.Default())})
	if err != nil {
		t.Fatal(err)
	}
	defer rebuilt.Close()
	if err := projections.Rebuild(l1.State(), rebuilt, 256, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := projections.Checksums(rebuilt)
	if d := projections.DiffChecksums(want, got); len(d) > 0 {
		t.Fatalf("rebuild from the log differs: %v", d)
	}
}

// A rolling upgrade: until every other member has announced that its build
// reads schema version 2, the leader proposes version 1 (JSON) events, which
// an older build can apply; then version 2.
func TestLeaderWritesTheSchemaEveryMemberReads(t *testing.T) {
	nodes := openReplicas(t, 3)
	leader := leaderOfReplicas(t, nodes)
	propose := func(p event.Payload) {
		t.Helper()
		ev, err := event.New(p, time.Now().UnixNano(), leader.cfg.NodeID)
		if err != nil {
			t.Fatal(err)
		}
		if res, _, err := leader.Propose([]event.Event{ev}, 5*time.Second); err != nil || res[0].Err != nil {
			t.Fatalf("propose %T: %v %v", p, err, res)
		}
		leader.schema.mu.Lock()
		leader.schema.until = time.Time{} // recheck at once instead of after schemaRecheck
		leader.schema.mu.Unlock()
	}
	lastVersion := func() int {
		t.Helper()
		seq, err := eventlog.LastSeq(leader.stateDB)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := eventlog.Get(leader.stateDB, seq)
		if err != nil {
			t.Fatal(err)
		}
		return ev.V
	}
	var others []string
	for _, n := range nodes {
		if n != leader {
			others = append(others, n.cfg.NodeID)
		}
	}
	propose(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	if v := lastVersion(); v != 1 {
		t.Fatalf("no member announced: version %d, want 1", v)
	}
	propose(event.NodeAnnounced{NodeID: others[0], HTTPAddr: "127.0.0.1:1", Schema: event.SchemaVersion})
	propose(event.NodeAnnounced{NodeID: others[1], HTTPAddr: "127.0.0.1:2"}) // an older build
	propose(event.AppDeactivated{AppID: "a"})
	if v := lastVersion(); v != 1 {
		t.Fatalf("one member on an older build: version %d, want 1", v)
	}
	propose(event.NodeAnnounced{NodeID: others[1], HTTPAddr: "127.0.0.1:2", Schema: event.SchemaVersion})
	propose(event.AppActivated{AppID: "a"})
	if v := lastVersion(); v != event.SchemaVersion {
		t.Fatalf("every member announced: version %d, want %d", v, event.SchemaVersion)
	}

	// The newest event type waits likewise for every member to read it:
	// until then it is refused (its proposer retries), not proposed.
	closed, err := event.New(event.ScheduleClosed{ScheduleID: "c", AppID: "a", Reason: event.ReasonExhausted},
		time.Now().UnixNano(), leader.cfg.NodeID)
	if err != nil {
		t.Fatal(err)
	}
	if leader.Proposable(event.TypeScheduleClosed) {
		t.Fatal("ScheduleClosed proposable before the members announced they read it")
	}
	res, _, err := leader.Propose([]event.Event{closed}, 5*time.Second)
	if err != nil || !errors.Is(res[0].Err, projections.ErrInvalidEvent) || !strings.Contains(res[0].Err.Error(), "rolling upgrade") {
		t.Fatalf("ScheduleClosed before every member reads it: %v %+v", err, res)
	}
	for _, id := range others {
		propose(event.NodeAnnounced{NodeID: id, HTTPAddr: "127.0.0.1:3", Schema: event.SchemaVersion, Types: int(event.NewestType)})
	}
	if !leader.Proposable(event.TypeScheduleClosed) {
		t.Fatal("ScheduleClosed not proposable once every member reads it")
	}
	// Every replica applied both forms to the same state.
	for _, n := range nodes {
		if !n.WaitApplied(leader.fsm.AppliedIndex(), 5*time.Second) {
			t.Fatalf("%s did not apply the leader's entries", n.cfg.NodeID)
		}
		app, ok, err := projections.Reader{R: n.stateDB}.App("a")
		if err != nil || !ok || !app.Active {
			t.Fatalf("%s: app %+v ok=%v err=%v", n.cfg.NodeID, app, ok, err)
		}
	}
}

// A single node proposes the current schema from its first event.
func TestSingleNodeWritesTheCurrentSchema(t *testing.T) {
	n := openReplicas(t, 1)[0]
	leaderOfReplicas(t, []*Node{n})
	ev, _ := event.New(event.AppRegistered{AppID: "a", Partitions: 1}, 1, n.cfg.NodeID)
	if _, _, err := n.Propose([]event.Event{ev}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	got, err := eventlog.Get(n.stateDB, 1)
	if err != nil || got.V != event.SchemaVersion {
		t.Fatalf("version %d (%v), want %d", got.V, err, event.SchemaVersion)
	}
}

// Replication is one AppendEntries at a time per follower, never through
// hashicorp/raft's pipeline, which can deadlock (see transportConfig):
// every transport a node may use refuses to open one.
func TestReplicationIsNotPipelined(t *testing.T) {
	nodes := openReplicas(t, 3)
	leaderOfReplicas(t, nodes)
	for i, n := range nodes {
		peer := nodes[(i+1)%len(nodes)]
		p, err := n.transport.AppendEntriesPipeline(raft.ServerID(peer.cfg.NodeID), raft.ServerAddress(peer.cfg.RaftAddr))
		if p != nil {
			_ = p.Close()
		}
		if !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
			t.Fatalf("%s opened a replication pipeline to %s (err %v)", n.cfg.NodeID, peer.cfg.NodeID, err)
		}
	}
}
