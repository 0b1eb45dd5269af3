package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
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
	bin := chronicleBinary(t)
	dir := t.TempDir()
	httpAddr, raftAddr := freeAddr(t), freeAddr(t)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--raft-addr", raftAddr,
			"--node-id", "node1", "--log-level", "warn", "--timer-window", "2s")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		tn := &testNode{t: t, base: "http://" + httpAddr}
		tn.waitHealthy()
		return cmd
	}
	child := start()
	tn := &testNode{t: t, base: "http://" + httpAddr}
	rc := newReceiver(t)
	tn.registerApp("durable", 4)
	at := time.Now().Unix() + 6
	var ids []string
	for i := 0; i < 50; i++ {
		ids = append(ids, tn.createOnce("durable", at, rc.url(fmt.Sprintf("/k/%d", i)), "POST", fmt.Sprint(i)).ScheduleID)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = child.Process.Wait()

	start()
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
