package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestMakeClusterStopsOnSIGTERM runs `make cluster` as a user would, on
// free ports, and sends make a SIGTERM: GNU make passes it to the recipe's
// shell, whose trap must stop the three nodes. Under dash (Debian's
// /bin/sh) a trap that asked `jobs -p` found no jobs and left the nodes
// running.
func TestMakeClusterStopsOnSIGTERM(t *testing.T) {
	bin := chronicleBinary(t)
	httpPrefix, raftPrefix := portPrefix(t), portPrefix(t)
	dir := t.TempDir()
	cmd := exec.Command("make", "-s", "-C", "../..", "cluster", "BIN="+bin, "CLUSTER_DIR="+dir,
		"CLUSTER_HTTP="+httpPrefix, "CLUSTER_RAFT="+raftPrefix)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so the cleanup can reach every process
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _, _ = cmd.Process.Wait() })
	nodes := make([]*testNode, 3)
	for i := range nodes {
		nodes[i] = &testNode{t: t, base: fmt.Sprintf("http://%s%d", httpPrefix, i+1)}
	}
	waitAnnounced(t, nodes)
	for i := 1; i <= 3; i++ {
		if _, err := os.Stat(fmt.Sprintf("%s/n%d/state", dir, i)); err != nil {
			t.Fatalf("node n%d keeps no data under CLUSTER_DIR: %v", i, err)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("make cluster did not end within 20 s of SIGTERM")
	}
	for i := 1; i <= 3; i++ {
		addr := fmt.Sprintf("%s%d", httpPrefix, i)
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("node n%d still listens on %s after make cluster ended", i, addr)
		}
	}
}

// portPrefix returns "127.0.0.1:NNNN" such that ports NNNN1..NNNN3 are free
// (make cluster appends the node number), below the ephemeral range.
func portPrefix(t *testing.T) string {
	t.Helper()
	for tries := 0; tries < 200; tries++ {
		p := 1500 + rand.IntN(1700)
		free := true
		for i := 1; i <= 3 && free; i++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d%d", p, i))
			if err != nil {
				free = false
				continue
			}
			ln.Close()
		}
		if free {
			return fmt.Sprintf("127.0.0.1:%d", p)
		}
	}
	t.Fatal("no free run of three ports")
	return ""
}
