package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/internal/syncbuf"
)

// A node whose disk fills refuses the writes clients ask for with 507 and
// one log line, keeps reading, deleting and firing in the headroom it
// keeps, and takes writes again as soon as space returns; nothing it
// acknowledged is lost, before or after (kill -9 and restart at the end).
func TestFullDiskRefusesWritesAndRecovers(t *testing.T) {
	disk := newSmallDisk(t, 128<<20)
	var logs syncbuf.Buffer
	cfg := testConfig(t, filepath.Join(disk.dir, "data"))
	tn := startChild(t, cfg, &logs, "--min-free-disk-mb", fmt.Sprint(disk.floor>>20), "--timer-window", "1s")
	rc := newReceiver(t)
	tn.registerApp("full", 2)
	cron := tn.must(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "full", "payload": "tick",
		"cronExpression": "* * * * * *", "callback": map[string]any{"type": "http",
			"details": map[string]any{"url": rc.url("/cron"), "method": "POST"}}})
	cronID := decodeData[struct{ Schedule schedule }](t, cron).Schedule.ScheduleID
	dueWhileFull := tn.createOnce("full", time.Now().Unix()+5, rc.url("/once"), "POST", "due while full")
	toDelete := tn.createOnce("full", time.Now().Unix()+3600, rc.url("/never"), "POST", "deleted while full")

	disk.fill(t)
	// The guard samples the disk every second: until it has seen the
	// ballast, creates are acknowledged in the headroom, and must be kept.
	var refused resp
	var acked []string
	waitFor(t, 10*time.Second, "creates refused on the full disk", func() bool {
		code, r := tn.call("POST", "/goscheduler/schedules", onceBody("full", rc.url("/x")))
		if code == 200 {
			acked = append(acked, decodeData[struct{ Schedule schedule }](t, r).Schedule.ScheduleID)
		}
		refused = r
		return code == http.StatusInsufficientStorage
	})
	for i := 0; i < 20; i++ {
		if code, r := tn.call("POST", "/goscheduler/schedules", onceBody("full", rc.url("/x"))); code != http.StatusInsufficientStorage {
			t.Fatalf("create %d after the first refusal, on a disk still full: HTTP %d %s", i, code, r.raw)
		}
	}
	if msg := refused.Status.StatusMessage; !strings.Contains(msg, "insufficient storage") || !strings.Contains(msg, "MB free") {
		t.Fatalf("507 answer does not say why: %s", refused.raw)
	}
	if retry := headerOf(t, tn, "POST", "/goscheduler/schedules", onceBody("full", rc.url("/x")), "Retry-After"); retry == "" {
		t.Fatal("507 answer without Retry-After")
	}
	waitFor(t, 5*time.Second, "the refusal's log line", func() bool {
		return strings.Contains(logs.String(), "disk almost full: refusing writes")
	})
	// Every API refuses the same way: CronHubot's create, the lifecycle.
	if code, r := tn.call("POST", "/cronjobs", map[string]any{"name": "j", "expression": "0 5 * * * *",
		"url": rc.url("/hub")}); code != http.StatusInsufficientStorage || !strings.Contains(string(r.raw), "insufficient_storage") {
		t.Fatalf("CronHubot create on a full disk: HTTP %d %s", code, r.raw)
	}
	if code, r := tn.call("POST", "/goscheduler/schedules/"+cronID+"/pause", nil); code != http.StatusInsufficientStorage {
		t.Fatalf("pause on a full disk: HTTP %d %s", code, r.raw)
	}
	// Reads, deletes and firing go on.
	if s := tn.getSchedule(dueWhileFull.ScheduleID); s.Payload != "due while full" {
		t.Fatalf("read on a full disk: %+v", s)
	}
	tn.must(200, "DELETE", "/goscheduler/schedules/"+toDelete.ScheduleID, nil)
	tn.waitStatus(dueWhileFull.ScheduleID, "SUCCESS", 15*time.Second)
	firedBefore := len(rc.hitsFor("/cron"))
	waitFor(t, 10*time.Second, "the cron firing on a full disk", func() bool { return len(rc.hitsFor("/cron")) >= firedBefore+3 })
	if free := disk.free(t); free == 0 {
		t.Fatal("the headroom is used up: firing alone filled the disk")
	}

	disk.empty(t)
	var after schedule
	waitFor(t, 10*time.Second, "creates accepted once space returned", func() bool {
		code, r := tn.call("POST", "/goscheduler/schedules", onceBody("full", rc.url("/after")))
		if code == 200 {
			after = decodeData[struct{ Schedule schedule }](t, r).Schedule
		}
		return code == 200
	})
	if !strings.Contains(logs.String(), "disk space back: accepting writes") {
		t.Fatalf("no log line when writes resumed:\n%s", logs.String())
	}

	tn.kill9()
	tn.start()
	tn.waitHealthy()
	for _, id := range append(acked, cronID, dueWhileFull.ScheduleID, after.ScheduleID) {
		tn.getSchedule(id)
	}
	if s := tn.getSchedule(toDelete.ScheduleID); s.Status != "DELETED" {
		t.Fatalf("the schedule deleted on a full disk, after kill -9: %+v", s)
	}
}

// In a cluster the leader's disk decides, whichever node a write comes
// through: a create (forwarded as events) and a pause (relayed whole) sent
// to a follower are refused 507 like on the leader, and taken again once
// space returns.
func TestFullDiskRefusesWritesThroughFollowers(t *testing.T) {
	disk := newSmallDisk(t, 256<<20)
	nodes := makeCluster(t, 3, clusterOpts{tune: func(c *serveConfig) {
		c.dataDir = filepath.Join(disk.dir, c.nodeID)
		c.minFreeDiskMB = int(disk.floor >> 20)
	}})
	leader, followers := leaderAndFollowers(t, nodes)
	leader.registerApp("full", 1)
	s := leader.createOnce("full", time.Now().Unix()+3600, "http://127.0.0.1:9/x", "POST", "p")
	waitForReplication(t, nodes)

	disk.fill(t)
	f := followers[0]
	waitFor(t, 10*time.Second, "a create through a follower refused", func() bool {
		code, _ := f.call("POST", "/goscheduler/schedules", onceBody("full", "http://127.0.0.1:9/x"))
		return code == http.StatusInsufficientStorage
	})
	if code, r := f.call("POST", "/goscheduler/schedules/"+s.ScheduleID+"/pause", nil); code != http.StatusInsufficientStorage ||
		!strings.Contains(r.Status.StatusMessage, "insufficient storage") {
		t.Fatalf("pause through a follower on a full disk: HTTP %d %s", code, r.raw)
	}
	f.must(200, "GET", "/goscheduler/schedules/"+s.ScheduleID, nil)

	disk.empty(t)
	waitFor(t, 10*time.Second, "a create through a follower taken again", func() bool {
		code, _ := f.call("POST", "/goscheduler/schedules", onceBody("full", "http://127.0.0.1:9/x"))
		return code == 200
	})
	f.must(200, "POST", "/goscheduler/schedules/"+s.ScheduleID+"/pause", nil)
}

// headerOf calls the node and returns one header of its answer.
func headerOf(t *testing.T, tn *testNode, method, path string, body any, name string) string {
	t.Helper()
	js, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, tn.base+path, strings.NewReader(string(js)))
	if err != nil {
		t.Fatal(err)
	}
	res, err := tn.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.Header.Get(name)
}

// smallDisk is a filesystem a test can fill: a tmpfs of its own where the
// test may mount one (as root, as on this project's machines and CI), else
// the temp dir's own filesystem with a floor set just below its free space
// (which a ballast file of twice the margin crosses). Either way the node
// sees real free-space figures from statfs, not a stand-in.
type smallDisk struct {
	dir     string
	floor   uint64 // --min-free-disk-mb to give the node
	ballast string
	fillTo  uint64 // free bytes the ballast leaves
}

func newSmallDisk(t *testing.T, size uint64) *smallDisk {
	t.Helper()
	d := &smallDisk{dir: t.TempDir()}
	d.ballast = filepath.Join(d.dir, "ballast")
	if err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", d.dir).Run(); err == nil {
		t.Cleanup(func() { _ = exec.Command("umount", "-l", d.dir).Run() })
		d.floor, d.fillTo = 32<<20, 16<<20
		return d
	}
	const margin = 64 << 20
	free := d.free(t)
	if free < 4*margin {
		t.Fatalf("the temp dir's filesystem has %d MB free: too little for this test", free>>20)
	}
	d.floor = (free - margin) &^ (1<<20 - 1)
	d.fillTo = d.floor - margin
	return d
}

func (d *smallDisk) free(t *testing.T) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bavail * uint64(st.Bsize)
}

// fill writes the ballast until fillTo bytes are left free.
func (d *smallDisk) fill(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(d.ballast, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for d.free(t) > d.fillTo {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

func (d *smallDisk) empty(t *testing.T) {
	t.Helper()
	if err := os.Remove(d.ballast); err != nil {
		t.Fatal(err)
	}
}
