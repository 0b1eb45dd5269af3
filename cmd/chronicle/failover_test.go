package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// chronicleBinary builds the real binary once for the tests that run it
// as a child process.
func chronicleBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chronicle-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "chronicle")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// child is a chronicle process.
type child struct {
	id, httpAddr, raftAddr, dir, peers string
	cmd                                *exec.Cmd
	api                                *testNode
}

func (c *child) start(t *testing.T, bin string) {
	t.Helper()
	c.cmd = exec.Command(bin, "serve", "--data-dir", c.dir, "--http-addr", c.httpAddr, "--raft-addr", c.raftAddr,
		"--node-id", c.id, "--peers", c.peers, "--log-level", "error", "--timer-window", "2s")
	c.cmd.Stderr = os.Stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := c.cmd
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	c.api = &testNode{t: t, base: "http://" + c.httpAddr}
}

func (c *child) kill9(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = c.cmd.Process.Wait()
}

func startChildCluster(t *testing.T, n int) []*child {
	t.Helper()
	bin := chronicleBinary(t)
	cs := make([]*child, n)
	var peers []string
	for i := range cs {
		cs[i] = &child{id: fmt.Sprintf("n%d", i+1), httpAddr: freeAddr(t), raftAddr: freeAddr(t), dir: t.TempDir()}
		peers = append(peers, cs[i].id+"="+cs[i].raftAddr)
	}
	for _, c := range cs {
		c.peers = strings.Join(peers, ",")
		c.start(t, bin)
	}
	api := make([]*testNode, n)
	for i, c := range cs {
		api[i] = c.api
	}
	waitAnnounced(t, api)
	return cs
}

func leaderOf(t *testing.T, cs []*child) *child {
	t.Helper()
	var leader *child
	waitFor(t, 10*time.Second, "a leader", func() bool {
		for _, c := range cs {
			if v := c.api.cluster(); v.LeaderID != "" {
				for _, d := range cs {
					if d.id == v.LeaderID {
						leader = d
						return true
					}
				}
			}
		}
		return false
	})
	return leader
}

// TestKillLeaderWhileFiring: 100 schedules due over four seconds; the
// leader is killed with SIGKILL in the middle. Every run must still fire,
// any duplicate must carry the same run id, and the restarted node must
// catch up.
func TestKillLeaderWhileFiring(t *testing.T) {
	cs := startChildCluster(t, 3)
	leader := leaderOf(t, cs)
	var follower *child
	for _, c := range cs {
		if c != leader {
			follower = c
			break
		}
	}
	rc := newReceiver(t)
	follower.api.registerApp("failover", 4)
	base := time.Now().Unix() + 3
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = follower.api.createOnce("failover", base+int64(i/25), rc.url(fmt.Sprintf("/f/%d", i)), "POST", fmt.Sprint(i)).ScheduleID
	}
	// Kill the leader in the middle of the span: once some runs arrived.
	waitFor(t, 20*time.Second, "the first callbacks", func() bool {
		n := 0
		for i := range ids {
			n += len(rc.hitsFor(fmt.Sprintf("/f/%d", i)))
		}
		return n >= 30
	})
	killedAt := time.Now()
	leader.kill9(t)

	waitFor(t, 30*time.Second, "all 100 runs delivered", func() bool {
		for i := range ids {
			if len(rc.hitsFor(fmt.Sprintf("/f/%d", i))) == 0 {
				return false
			}
		}
		return true
	})
	var lastBefore, firstAfter time.Time
	dups := 0
	for i := range ids {
		hits := rc.hitsFor(fmt.Sprintf("/f/%d", i))
		for _, h := range hits {
			if h.RunID != ids[i] {
				t.Fatalf("run %d delivered with run id %q, want %q", i, h.RunID, ids[i])
			}
			if h.At.Before(killedAt) && h.At.After(lastBefore) {
				lastBefore = h.At
			}
			if h.At.After(killedAt) && (firstAfter.IsZero() || h.At.Before(firstAfter)) {
				firstAfter = h.At
			}
		}
		dups += len(hits) - 1
	}
	t.Logf("failover: leader %s killed; first callback by the new leader %v after the kill; firing gap %v; %d duplicate deliveries (same run id)",
		leader.id, firstAfter.Sub(killedAt).Round(time.Millisecond), firstAfter.Sub(lastBefore).Round(time.Millisecond), dups)
	if firstAfter.Sub(killedAt) > 5*time.Second {
		t.Fatalf("firing resumed only %v after the leader died", firstAfter.Sub(killedAt))
	}
	var survivor *child
	for _, c := range cs {
		if c != leader {
			survivor = c
		}
	}
	for _, id := range ids {
		survivor.api.waitStatus(id, "SUCCESS", 10*time.Second)
	}

	// The killed node restarts on its data dir and catches up.
	leader.start(t, chronicleBinary(t))
	leader.api.waitHealthy()
	for _, id := range ids {
		leader.api.waitStatus(id, "SUCCESS", 15*time.Second)
	}
}
