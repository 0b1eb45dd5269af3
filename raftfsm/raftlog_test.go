package raftfsm

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// With one peer down, raft logged a failed heartbeat every ~100 ms: 93
// lines in 10 s. Through our logger the same stream is one line per peer
// and period, the next saying how many it stands for; other peers and
// other messages are not held back, and raft's debug chatter follows
// --log-level.
func TestRaftLogsThroughSlogWithRepeatsLimited(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(1_800_000_000, 0)
	r := &raftLog{l: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})),
		limit: newRepeatLimiter(repeatEvery, func() time.Time { return now })}
	hl := r.Named("replication")
	for i := 0; i < 93; i++ {
		hl.Error("failed to heartbeat to", "peer", "127.0.0.1:7002", "backoff time", "10ms", "error", "connection refused")
		if i%10 == 0 {
			hl.Error("failed to heartbeat to", "peer", "127.0.0.1:7003", "error", "connection refused")
		}
		hl.Debug("sending heartbeat", "peer", "127.0.0.1:7002")
		now = now.Add(100 * time.Millisecond)
	}
	now = now.Add(time.Second)
	hl.Error("failed to heartbeat to", "peer", "127.0.0.1:7002", "error", "connection refused")
	hl.Info("entering leader state", "leader", "n1")

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	count := func(sub string) int {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, sub) {
				n++
			}
		}
		return n
	}
	if n := count("peer=127.0.0.1:7002"); n != 2 {
		t.Fatalf("%d lines about the peer that is down, want 2 (one per 10 s):\n%s", n, out.String())
	}
	if !strings.Contains(lines[len(lines)-2], "repeatsNotLogged=92") {
		t.Fatalf("the line after the period does not count what it stands for: %s", lines[len(lines)-2])
	}
	if n := count("peer=127.0.0.1:7003"); n != 1 {
		t.Fatalf("another peer's errors: %d lines, want 1", n)
	}
	if count("sending heartbeat") != 0 || count("entering leader state") != 1 {
		t.Fatalf("levels not those of the node's logger:\n%s", out.String())
	}
	if !strings.Contains(lines[0], "lib=raft") && !strings.Contains(lines[0], "component=replication") {
		t.Fatalf("a raft line does not say where it comes from: %s", lines[0])
	}
	if !strings.HasPrefix(lines[0], "time=") {
		t.Fatalf("raft's lines are not in the node's format: %s", lines[0])
	}
}
