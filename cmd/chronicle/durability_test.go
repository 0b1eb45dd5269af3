package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/internal/syncbuf"
)

func TestRestartKeepsAndFiresSchedules(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	tn := startTestNode(t, cfg)
	rc := newReceiver(t)
	tn.registerApp("revamp", 2)
	at := time.Now().Unix() + 3
	var ids []string
	for i := 0; i < 20; i++ {
		ids = append(ids, tn.createOnce("revamp", at, rc.url(fmt.Sprintf("/restart/%d", i)), "GET", "").ScheduleID)
	}
	tn.stop()
	tn2 := startTestNode(t, cfg)
	for _, id := range ids {
		tn2.waitStatus(id, "SUCCESS", 10*time.Second)
	}
	for i := range ids {
		if n := len(rc.hitsFor(fmt.Sprintf("/restart/%d", i))); n != 1 {
			t.Fatalf("schedule %d fired %d times", i, n)
		}
	}
}

func TestMisfireThresholdAfterDowntime(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.misfire = 3 * time.Second
	tn := startTestNode(t, cfg)
	rc := newReceiver(t)
	tn.registerApp("revamp", 1)
	now := time.Now().Unix()
	old := tn.createOnce("revamp", now+1, rc.url("/old"), "GET", "")
	recent := tn.createOnce("revamp", now+5, rc.url("/recent"), "GET", "")
	tn.stop()
	time.Sleep(time.Until(time.Unix(now+6, 0)))
	tn2 := startTestNode(t, cfg)
	missed := tn2.waitStatus(old.ScheduleID, "MISS", 10*time.Second)
	if !strings.Contains(missed.ErrorMessage, "missed: due at") || !strings.Contains(missed.ErrorMessage, "misfire threshold 3s") {
		t.Fatalf("miss message: %q", missed.ErrorMessage)
	}
	tn2.waitStatus(recent.ScheduleID, "SUCCESS", 10*time.Second)
	if len(rc.hitsFor("/old")) != 0 || len(rc.hitsFor("/recent")) != 1 {
		t.Fatalf("calls: old %d, recent %d", len(rc.hitsFor("/old")), len(rc.hitsFor("/recent")))
	}
}

// TestKill9KeepsAcknowledgedWrites runs the real binary as a child, kills
// it with SIGKILL right after its writes were acknowledged, restarts it on
// the same data dir, and expects every acknowledged schedule to be there
// and to fire.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	tn := startChild(t, testConfig(t, t.TempDir()), nil, "--timer-window", "2s")
	rc := newReceiver(t)
	tn.registerApp("durable", 4)
	at := time.Now().Unix() + 6
	var ids []string
	for i := 0; i < 50; i++ {
		ids = append(ids, tn.createOnce("durable", at, rc.url(fmt.Sprintf("/k/%d", i)), "POST", fmt.Sprint(i)).ScheduleID)
	}
	tn.kill9()
	tn.start()
	tn.waitHealthy()
	for _, id := range ids {
		if s := tn.getSchedule(id); s.Status != "SCHEDULED" && s.Status != "SUCCESS" {
			t.Fatalf("acknowledged schedule %s after kill -9: %+v", id, s)
		}
	}
	for _, id := range ids {
		tn.waitStatus(id, "SUCCESS", 15*time.Second)
	}
	for i := range ids {
		hits := rc.hitsFor(fmt.Sprintf("/k/%d", i))
		if len(hits) != 1 || hits[0].Body != fmt.Sprint(i) {
			t.Fatalf("schedule %d: %d calls %+v", i, len(hits), hits)
		}
	}
}

// The state store has no WAL of its own (raftfsm.Open): after kill -9 it
// holds what Pebble last flushed, and raft re-applies the rest from its
// log. A snapshot flushes the state before raft truncates the log behind
// it, so a node killed after a snapshot and a truncation starts from its
// own state (no restore from the snapshot file) with every acknowledged
// write.
func TestKill9AfterLogTruncationKeepsAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	var logs syncbuf.Buffer
	tn := startChild(t, testConfig(t, dir), &logs, "--raft-snapshot-threshold", "20",
		"--raft-snapshot-interval", "200ms", "--raft-trailing-logs", "1")
	tn.registerApp("trunc", 2)
	at := time.Now().Unix() + 3600
	var ids []string
	for i := 0; i < 120; i++ {
		ids = append(ids, tn.createOnce("trunc", at, "http://127.0.0.1:9/", "POST", fmt.Sprint(i)).ScheduleID)
	}
	waitFor(t, 20*time.Second, "a snapshot covering most creates", func() bool {
		return newestSnapshotIndex(t, dir) >= 100
	})
	tn.kill9()
	tn.start()
	tn.waitHealthy()
	for i, id := range ids {
		if s := tn.getSchedule(id); s.Status != "SCHEDULED" || s.Payload != fmt.Sprint(i) {
			t.Fatalf("acknowledged schedule %d after kill -9: %+v", i, s)
		}
	}
	if out := logs.String(); strings.Contains(out, "behind the newest snapshot") {
		t.Fatalf("the state store lost flushed state and was restored from the snapshot:\n%s", out)
	}
}
