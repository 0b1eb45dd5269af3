package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// fsmLeader is a leader whose log is applied straight to a real FSM over
// an in-memory Pebble store: what the service proposes is what apply
// meets, without Raft (and without raftfsm.Node's own admission check, so
// the service's is the one under test).
type fsmLeader struct {
	t       testing.TB
	fsm     *raftfsm.FSM
	leading bool

	mu    sync.Mutex
	index uint64
}

func newFSMLeader(t testing.TB) *fsmLeader {
	t.Helper()
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fsm, err := raftfsm.NewFSM(db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l := &fsmLeader{t: t, fsm: fsm, leading: true}
	ev, err := event.New(event.AppRegistered{AppID: "mail", Partitions: 4, Active: true}, time.Now().UnixNano(), "n1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Propose([]event.Event{ev}, time.Second); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *fsmLeader) NodeID() string                          { return "n1" }
func (l *fsmLeader) IsLeader() bool                          { return l.leading }
func (l *fsmLeader) AppliedIndex() uint64                    { return l.fsm.AppliedIndex() }
func (l *fsmLeader) ReadIndex(time.Duration) (uint64, error) { return l.fsm.AppliedIndex(), nil }

// LastIndex is beyond any index a follower waits for: no empty entries.
func (l *fsmLeader) LastIndex() uint64 { return math.MaxUint64 }

func (l *fsmLeader) Propose(evs []event.Event, _ time.Duration) ([]raftfsm.Result, uint64, error) {
	data, err := raftfsm.EncodeCommand(evs, true)
	if err != nil {
		return nil, 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.index++
	out := l.fsm.ApplyBatch([]*raft.Log{{Index: l.index, Term: 1, Type: raft.LogCommand, Data: data}})
	res, _ := out[0].([]raftfsm.Result)
	return res, l.index, nil
}

func newService(node proposer) *Service {
	return &Service{node: node, nudge: &nudger{log: node}, now: time.Now, timeout: time.Second,
		writeErr: func(w http.ResponseWriter, err error) { http.Error(w, err.Error(), http.StatusBadRequest) }}
}

func batch(t testing.TB, ps ...event.Payload) []byte {
	t.Helper()
	var evs []event.Event
	for _, p := range ps {
		ev, err := event.New(p, time.Now().UnixNano(), "n2")
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	b, err := raftfsm.EncodeCommand(evs, true)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func create(id string) event.ScheduleCreated {
	return event.ScheduleCreated{ScheduleID: id, AppID: "mail", Partition: 1, Payload: "p",
		ScheduleTime: time.Now().Unix() + 60, Callback: event.Callback{Type: "http", URL: "http://127.0.0.1:1/", Method: "POST"}}
}

// The leader takes batches of creates, stamps them itself, and answers
// each result (a duplicate refused as apply refuses it) with the index.
func TestServiceTakesCreatesStampedByTheLeader(t *testing.T) {
	l := newFSMLeader(t)
	svc := newService(l)
	before := time.Now().UnixNano()
	answer, err := svc.Take(batch(t, create("s1"), create("s1")), protocolVersion)
	if err != nil {
		t.Fatal(err)
	}
	index, results, err := decodeResults(protocolVersion, answer)
	if err != nil {
		t.Fatal(err)
	}
	if index != l.AppliedIndex() || len(results) != 2 || results[0].Err != nil || results[0].Seq == 0 ||
		!errors.Is(results[1].Err, projections.ErrScheduleExists) {
		t.Fatalf("index %d (applied %d), results %+v: want s1 created, its duplicate refused", index, l.AppliedIndex(), results)
	}
	if results[0].Time < before || results[0].Time > time.Now().UnixNano() {
		t.Fatalf("result time %d: want the leader's stamp, between %d and now", results[0].Time, before)
	}
	// A follower of protocol 1 gets an answer without times, which it reads.
	answer, err = svc.Take(batch(t, create("s2")), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, results, err = decodeResults(1, answer); err != nil || len(results) != 1 || results[0].Err != nil {
		t.Fatalf("protocol 1 answer: %+v %v", results, err)
	}
}

func TestServiceRefusesWhatTheLeaderWouldNotPropose(t *testing.T) {
	l := newFSMLeader(t)
	svc := newService(l)
	undecodable, err := raftfsm.EncodeCommand([]event.Event{{V: 2, Type: event.TypeScheduleCreated, Time: 1, Node: "n2",
		Data: []byte{0xff}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	bad := create("s3")
	bad.Callback.URL = "gopher://x/"
	for name, body := range map[string][]byte{
		"garbage":             []byte("not a batch"),
		"undecodable payload": undecodable,
		"not a create":        batch(t, event.AppDeactivated{AppID: "mail"}),
		"gopher":              batch(t, create("s4"), bad),
	} {
		applied := l.AppliedIndex()
		if _, err := svc.Take(body, protocolVersion); !errors.Is(err, errkind.Invalid) {
			t.Errorf("%s: %v, want an Invalid error", name, err)
		}
		if l.AppliedIndex() != applied {
			t.Errorf("%s: a refused batch was proposed", name)
		}
	}
	l.leading = false
	if _, err := svc.Take(batch(t, create("s5")), protocolVersion); !errors.Is(err, raftfsm.ErrNotLeader) {
		t.Fatalf("a follower took a batch: %v", err)
	}
}

// A follower remembers a leader whose build has no forwarding endpoint
// for that leader's term, and relays creates to it whole until then.
func TestForwarderLearnsALegacyLeaderFromItsAnswer(t *testing.T) {
	old := httptest.NewServer(http.NotFoundHandler())
	defer old.Close()
	f := &fakeFollower{leader: "n1", term: 3}
	fwd := newForwarder(f, &Directory{leader: func() string { return f.leader }}, peerHTTP{})
	fwd.dir.cached = leaderAddr{id: "n1", addr: strings.TrimPrefix(old.URL, "http://"), at: time.Now()}
	if !fwd.TakesEvents() {
		t.Fatal("a leader is assumed to take events until it says otherwise")
	}
	_, err := fwd.Forward([]event.Event{stampedCreate(t)}, time.Second)
	if !errors.Is(err, errkind.Unavailable) {
		t.Fatalf("forward to a legacy leader: %v, want a retryable error", err)
	}
	if fwd.TakesEvents() {
		t.Fatal("the legacy leader's 404 was not remembered")
	}
	f.term = 4 // a new term: maybe a new leader build
	if !fwd.TakesEvents() {
		t.Fatal("the legacy answer outlived the leader's term")
	}
}

func stampedCreate(t *testing.T) event.Event {
	ev, err := event.New(create(fmt.Sprintf("s%d", time.Now().UnixNano())), time.Now().UnixNano(), "n2")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

type fakeFollower struct {
	leader string
	term   uint64
}

func (f *fakeFollower) IsLeader() bool { return false }
func (f *fakeFollower) Leader() string { return f.leader }
func (f *fakeFollower) Term() uint64   { return f.term }
func (f *fakeFollower) Propose([]event.Event, time.Duration) ([]raftfsm.Result, uint64, error) {
	return nil, 0, raftfsm.ErrNotLeader
}
func (f *fakeFollower) WaitApplied(uint64, time.Duration) bool  { return true }
func (f *fakeFollower) ReadIndex(time.Duration) (uint64, error) { return 0, nil }
func (f *fakeFollower) Proposable(event.Type) bool              { return true }

// A follower answers a forwarded create's rejection exactly as the leader
// would: the same message, and the same rejection for errors.Is.
func TestForwardedResultsRoundTrip(t *testing.T) {
	results := []raftfsm.Result{{Seq: 41, Time: 7}, {Seq: 42, Affected: 7, Time: -3}}
	for _, r := range projections.Rejections {
		results = append(results, raftfsm.Result{Err: fmt.Errorf("%w: detail of %v", r, r)})
	}
	for _, v := range []int{1, 2} {
		applied, got, err := decodeResults(v, encodeResults(v, 1234, results))
		if err != nil {
			t.Fatal(err)
		}
		if applied != 1234 || len(got) != len(results) {
			t.Fatalf("v%d: applied %d, %d results; want 1234, %d", v, applied, len(got), len(results))
		}
		for i, want := range results {
			g := got[i]
			if v == 1 {
				want.Time = 0 // version 1 carries no times
			}
			if g.Seq != want.Seq || g.Affected != want.Affected || g.Time != want.Time || (g.Err == nil) != (want.Err == nil) {
				t.Fatalf("v%d result %d: %+v, want %+v", v, i, g, want)
			}
			if want.Err == nil {
				continue
			}
			if g.Err.Error() != want.Err.Error() {
				t.Fatalf("result %d reads %q, want %q", i, g.Err, want.Err)
			}
			for _, r := range projections.Rejections {
				if errors.Is(g.Err, r) != errors.Is(want.Err, r) {
					t.Fatalf("result %d: errors.Is(%v) = %v", i, r, errors.Is(g.Err, r))
				}
			}
		}
	}
}

func TestForwardedResultsRefuseDamage(t *testing.T) {
	good := encodeResults(2, 9, []raftfsm.Result{{Seq: 1}, {Err: fmt.Errorf("%w: x", projections.ErrAppNotFound)}})
	unknown := appendBytes([]byte{0, 1, 0, 0, byte(len(projections.Rejections) + 1)}, []byte("new rejection"))
	for name, b := range map[string][]byte{
		"empty":             nil,
		"truncated":         good[:len(good)-1],
		"trailing bytes":    append(bytes.Clone(good), 0),
		"unknown rejection": unknown,
		"count too large":   {1, 100},
	} {
		if _, _, err := decodeResults(2, b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}
