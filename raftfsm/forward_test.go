package raftfsm

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
)

// A follower answers a forwarded create's rejection exactly as the leader
// would: the same message, and the same rejection for errors.Is.
func TestForwardedResultsRoundTrip(t *testing.T) {
	results := []Result{{Seq: 41}, {Seq: 42, Affected: 7}}
	for _, r := range projections.Rejections {
		results = append(results, Result{Err: fmt.Errorf("%w: detail of %v", r, r)})
	}
	applied, got, err := decodeResults(encodeResults(1234, results))
	if err != nil {
		t.Fatal(err)
	}
	if applied != 1234 || len(got) != len(results) {
		t.Fatalf("applied %d, %d results; want 1234, %d", applied, len(got), len(results))
	}
	for i, want := range results {
		g := got[i]
		if g.Seq != want.Seq || g.Affected != want.Affected || (g.Err == nil) != (want.Err == nil) {
			t.Fatalf("result %d: %+v, want %+v", i, g, want)
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

func TestForwardedResultsRefuseDamage(t *testing.T) {
	good := encodeResults(9, []Result{{Seq: 1}, {Err: fmt.Errorf("%w: x", projections.ErrAppNotFound)}})
	for name, b := range map[string][]byte{
		"empty":             nil,
		"truncated":         good[:len(good)-1],
		"trailing bytes":    append(append([]byte(nil), good...), 0),
		"unknown rejection": encodeUnknownRejection(),
		"count too large":   {1, 100},
	} {
		if _, _, err := decodeResults(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// encodeUnknownRejection is a result whose rejection a later build added.
func encodeUnknownRejection() []byte {
	b := []byte{0, 1, 0, 0}
	b = append(b, byte(len(projections.Rejections)+1))
	return appendBytes(b, []byte("new rejection"))
}

// The leader takes batches of creates only, and a follower none.
func TestServeForwardedTakesCreatesOnTheLeaderOnly(t *testing.T) {
	nodes := openReplicas(t, 3)
	leader := leaderOfReplicas(t, nodes)
	stamp := func(ps ...event.Payload) []byte {
		b, err := encodeCommand(stamped(t, time.Now().UnixNano(), "r1", ps...))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := leader.Propose(stamped(t, time.Now().UnixNano(), "r1", event.AppRegistered{AppID: "a", Partitions: 1, Active: true}), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	create := func(id string) event.ScheduleCreated {
		return event.ScheduleCreated{ScheduleID: id, AppID: "a", ScheduleTime: 2_000_000_000,
			Callback: event.Callback{Type: "http", URL: "http://127.0.0.1:1/", Method: "POST"}}
	}
	answer, err := leader.ServeForwarded(stamp(create("s1"), create("s1")), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	index, results, err := decodeResults(answer)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Err != nil || results[0].Seq == 0 || !errors.Is(results[1].Err, projections.ErrScheduleExists) {
		t.Fatalf("results %+v: want the first created, the second refused as a duplicate", results)
	}
	if index == 0 || index > leader.AppliedIndex() {
		t.Fatalf("answered index %d, leader applied %d", index, leader.AppliedIndex())
	}

	if _, err := leader.ServeForwarded(stamp(event.RunFired{ScheduleID: "s1", RunID: "s1"}), time.Second); !errors.Is(err, ErrBadForward) {
		t.Fatalf("a forwarded RunFired: %v, want ErrBadForward", err)
	}
	if _, err := leader.ServeForwarded([]byte("garbage"), time.Second); !errors.Is(err, ErrBadForward) {
		t.Fatalf("a garbage batch: %v, want ErrBadForward", err)
	}
	for _, n := range nodes {
		if n == leader {
			continue
		}
		if _, err := n.ServeForwarded(stamp(create("s2")), time.Second); !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrNoLeader) {
			t.Fatalf("a follower took a forwarded batch: %v", err)
		}
		// Without the leader's address a follower cannot forward.
		if _, err := n.Forward(stamped(t, time.Now().UnixNano(), "r1", create("s3")), time.Second); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("forward without a leader API: %v", err)
		}
	}
}

// A follower answers a write it forwarded once it applied it, and it
// learns that the entry committed only from the leader's next message. So
// the leader appends an empty entry after answering when nothing else
// follows: it must reach every node and change nothing but the applied
// index (no event, the same log on every node, every node caught up).
func TestLeaderAppendsAnEmptyEntryAfterAForwardedBatch(t *testing.T) {
	nodes := openReplicas(t, 3)
	leader := leaderOfReplicas(t, nodes)
	if _, err := leader.Propose(stamped(t, time.Now().UnixNano(), "r1", event.AppRegistered{AppID: "a", Partitions: 1, Active: true}), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	body, err := encodeCommand(stamped(t, time.Now().UnixNano(), "r1", event.ScheduleCreated{ScheduleID: "s1", AppID: "a",
		ScheduleTime: 2_000_000_000, Callback: event.Callback{Type: "http", URL: "http://127.0.0.1:1/", Method: "POST"}}))
	if err != nil {
		t.Fatal(err)
	}
	answer, err := leader.ServeForwarded(body, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	index, _, err := decodeResults(answer)
	if err != nil {
		t.Fatal(err)
	}
	seq := leader.LastSeq()
	deadline := time.Now().Add(5 * time.Second)
	for leader.AppliedIndex() <= index {
		if time.Now().After(deadline) {
			t.Fatalf("no entry after the forwarded batch (index %d): followers would learn of its commit only from the next write", index)
		}
		time.Sleep(5 * time.Millisecond)
	}
	last := leader.AppliedIndex()
	for _, n := range nodes {
		if !n.WaitApplied(last, 5*time.Second) {
			t.Fatalf("%s did not apply the empty entry %d (applied %d)", n.cfg.NodeID, last, n.AppliedIndex())
		}
		if n.LastSeq() != seq {
			t.Fatalf("%s: last event %d after the empty entry, want %d", n.cfg.NodeID, n.LastSeq(), seq)
		}
		if !n.CaughtUp() {
			t.Fatalf("%s not caught up after the empty entry", n.cfg.NodeID)
		}
	}
}
