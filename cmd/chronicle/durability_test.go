package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/projections"
	"github.com/cockroachdb/pebble/v2"
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

// TestProjectionsRebuiltFromLogEqualLive runs a mixed workload, then
// rebuilds every projection from the event log alone and compares.
func TestProjectionsRebuiltFromLogEqualLive(t *testing.T) {
	dir := t.TempDir()
	tn := startTestNode(t, testConfig(t, dir))
	rc := newReceiver(t)
	rc.answer("/fail", 500)
	tn.registerApp("a", 3)
	tn.registerApp("b", 1)
	now := time.Now().Unix()
	var ids []string
	for i := 0; i < 30; i++ {
		path := "/ok"
		if i%4 == 0 {
			path = "/fail"
		}
		ids = append(ids, tn.createOnce("a", now+1+int64(i%3), rc.url(path), "POST", fmt.Sprint(i)).ScheduleID)
	}
	for i := 0; i < 10; i++ {
		tn.createOnce("b", now+3600+int64(i), rc.url("/later"), "GET", "")
	}
	tn.must(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "b", "payload": "", "cronExpression": "* * * * * *",
		"callback": map[string]any{"type": "http", "details": map[string]any{"url": rc.url("/cron"), "method": "GET"}}})
	tn.must(200, "DELETE", "/goscheduler/schedules/"+ids[29], nil)
	for _, id := range ids[:28] {
		s := tn.getSchedule(id)
		if s.Status == "SCHEDULED" {
			waitFor(t, 10*time.Second, "fired", func() bool { return tn.getSchedule(id).Status != "SCHEDULED" })
		}
	}
	tn.must(200, "POST", fmt.Sprintf("/goscheduler/apps/b/bulk-action/delete?start_time=%s&end_time=%s",
		urlTime(time.Unix(now+3600, 0)), urlTime(time.Unix(now+3604, 0))), nil)
	tn.must(200, "POST", "/goscheduler/apps/b/deactivate", nil)
	tn.stop()

	live, err := pebble.Open(filepath.Join(dir, "state"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	rebuilt, err := pebble.Open(t.TempDir(), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rebuilt.Close()
	if err := projections.Rebuild(live, rebuilt, 100, nil); err != nil {
		t.Fatal(err)
	}
	a, err := projections.Checksums(live)
	if err != nil {
		t.Fatal(err)
	}
	b, err := projections.Checksums(rebuilt)
	if err != nil {
		t.Fatal(err)
	}
	if d := projections.DiffChecksums(a, b); len(d) > 0 {
		t.Fatalf("projections rebuilt from the log differ from the live ones: %v", d)
	}
	t.Logf("projections: %v", a)
	if !strings.Contains(a["sch"], "keys") || strings.HasPrefix(a["sch"], "e3b0c44298fc1c14") {
		t.Fatalf("schedule projection is empty: %v", a)
	}
}
