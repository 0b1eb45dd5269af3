// Package harness starts real chronicle processes and a callback receiver
// on 127.0.0.1 for the benchmark programs under bench/, and holds the
// figures they share (percentiles, machine description).
package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chronicle-sched/chronicle/internal/freeport"
)

// Machine describes where a figure was measured.
type Machine struct {
	Cores     int    `json:"cores"`
	GoVersion string `json:"goVersion"`
	Commit    string `json:"commit"`
}

// ThisMachine returns the cores, Go version and git commit of this run.
func ThisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	if c, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(c))
	}
	return m
}

// EnsureBinary returns bin, building ./cmd/chronicle into tmp if it does
// not exist (or bin is "", to test the code as it is now rather than an
// older build), so a fresh clone can run the benchmarks without make.
func EnsureBinary(bin, tmp string) (string, error) {
	if bin != "" {
		if _, err := os.Stat(bin); err == nil {
			return filepath.Abs(bin)
		}
		fmt.Fprintf(os.Stderr, "%s not found; building ./cmd/chronicle\n", bin)
	}
	path := filepath.Join(tmp, "chronicle")
	if out, err := exec.Command("go", "build", "-o", path, "github.com/chronicle-sched/chronicle/cmd/chronicle").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build chronicle: %w\n%s", err, out)
	}
	return path, nil
}

// Node is one chronicle process.
type Node struct {
	ID, HTTPAddr, RaftAddr, PprofAddr, Dir string
	Args                                   []string
	bin                                    string
	cmd                                    *exec.Cmd
}

// NewNode prepares (does not start) a node with free ports and its data
// dir under root; extra flags go to serve.
func NewNode(bin, root, id string, extra ...string) (*Node, error) {
	h, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	r, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	p, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	n := &Node{ID: id, HTTPAddr: h, RaftAddr: r, PprofAddr: p, Dir: filepath.Join(root, id), bin: bin}
	n.Args = append([]string{"serve", "--data-dir", n.Dir, "--http-addr", h, "--raft-addr", r, "--node-id", id,
		"--log-level", "error", "--pprof-addr", p}, extra...)
	return n, nil
}

// Start starts the process.
func (n *Node) Start() error {
	n.cmd = exec.Command(n.bin, n.Args...)
	n.cmd.Stderr = os.Stderr
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.ID, err)
	}
	return nil
}

// URL is the node's API base URL.
func (n *Node) URL() string { return "http://" + n.HTTPAddr }

// PID is the running process's id (0 if not running).
func (n *Node) PID() int {
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Kill sends SIGKILL and waits for the process to end.
func (n *Node) Kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	_ = n.cmd.Wait()
	n.cmd = nil
}

// Stop shuts the node down cleanly (SIGTERM: it flushes its stores) and
// waits up to within, then kills it; it reports whether it stopped cleanly.
// A node that does not stop in time has its goroutines written to
// slowStop first (if given), to show what the shutdown waited on.
func (n *Node) Stop(within time.Duration, slowStop io.Writer) bool {
	if n.cmd == nil || n.cmd.Process == nil {
		return true
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
		n.cmd = nil
		return true
	case <-time.After(within):
		if slowStop != nil {
			if err := n.dumpGoroutines(slowStop); err != nil {
				fmt.Fprintf(slowStop, "no goroutine dump: %v\n", err)
			}
		}
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		<-done
		n.cmd = nil
		return false
	}
}

// dumpGoroutines writes the stacks of the node's goroutines, from its
// pprof endpoint.
func (n *Node) dumpGoroutines(w io.Writer) error {
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get("http://" + n.PprofAddr + "/debug/pprof/goroutine?debug=2")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, err = io.Copy(w, res.Body)
	return err
}

// Signal sends sig to the running process (SIGSTOP and SIGCONT pause and
// resume it); nothing if it is not running.
func (n *Node) Signal(sig os.Signal) error {
	if n.cmd == nil || n.cmd.Process == nil {
		return nil
	}
	return n.cmd.Process.Signal(sig)
}

// Running reports whether the process was started and not killed.
func (n *Node) Running() bool { return n.cmd != nil }

// WaitHealthy polls the healthcheck until it answers 200.
func (n *Node) WaitHealthy(within time.Duration) (time.Duration, error) {
	start := time.Now()
	c := &http.Client{Timeout: time.Second}
	for time.Since(start) < within {
		if res, err := c.Get(n.URL() + "/goscheduler/healthcheck"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s not healthy within %s", n.ID, within)
}

// RSSBytes is the process's resident set size (Linux).
func (n *Node) RSSBytes() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.PID()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", n.PID())
}

// DirBytes is the size of the node's data dir.
func (n *Node) DirBytes() int64 { return treeBytes(n.Dir) }

// SubdirBytes is the size of one directory inside the node's data dir
// ("state", "raft", "snapshots").
func (n *Node) SubdirBytes(name string) int64 { return treeBytes(filepath.Join(n.Dir, name)) }

func treeBytes(dir string) int64 {
	var total int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return total
}

// Profile fetches a CPU profile of secs seconds into path (run it while
// the load is on).
func (n *Node) Profile(path string, secs int) error {
	return n.fetchDebug(path, "profile", secs)
}

// Trace fetches an execution trace of secs seconds into path: where
// goroutines wait (go tool trace -pprof=sync|net|syscall|sched).
func (n *Node) Trace(path string, secs int) error {
	return n.fetchDebug(path, "trace", secs)
}

// Memory is the node's /debug/memory answer: its stores' fixed-size
// memory (block caches, memtables) and the Go heap in use.
type Memory struct {
	BlockCacheBytes  int64 `json:"blockCacheBytes"`
	MemtableBytes    int64 `json:"memtableBytes"`
	GoHeapInuseBytes int64 `json:"goHeapInuseBytes"`
}

// Memory reads the node's /debug/memory.
func (n *Node) Memory() (Memory, error) { return n.memory("/debug/memory") }

// LiveMemory is Memory after a garbage collection: the heap is what is live.
func (n *Node) LiveMemory() (Memory, error) { return n.memory("/debug/memory?gc=1") }

func (n *Node) memory(path string) (Memory, error) {
	var m Memory
	res, err := n.debugGet(path, 10*time.Second)
	if err != nil {
		return m, err
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		return m, fmt.Errorf("GET /debug/memory of %s: %w", n.ID, err)
	}
	return m, nil
}

// HeapProfile fetches the live heap (go tool pprof -sample_index=inuse_space).
func (n *Node) HeapProfile(path string) error {
	return n.fetchDebug(path, "heap", 0)
}

// StoreMetrics saves Pebble's report of the node's two stores (LSM levels,
// flushes, compactions, write amplification) into path.
func (n *Node) StoreMetrics(path string) error {
	return n.saveDebug(path, "/debug/stores", 10*time.Second)
}

func (n *Node) fetchDebug(path, kind string, secs int) error {
	url := "/debug/pprof/" + kind
	if secs > 0 {
		url += fmt.Sprintf("?seconds=%d", secs)
	}
	return n.saveDebug(path, url, time.Duration(secs+10)*time.Second)
}

// saveDebug saves the answer to GET url on the pprof listener into path.
func (n *Node) saveDebug(path, url string, timeout time.Duration) error {
	res, err := n.debugGet(url, timeout)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, res.Body)
	return err
}

// debugGet GETs path from the node's pprof listener; any answer but 200
// is an error. The caller closes the body.
func (n *Node) debugGet(path string, timeout time.Duration) (*http.Response, error) {
	c := &http.Client{Timeout: timeout}
	res, err := c.Get("http://" + n.PprofAddr + path)
	if err != nil {
		return nil, fmt.Errorf("GET %s of %s: %w", path, n.ID, err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("GET %s of %s: %s", path, n.ID, res.Status)
	}
	return res, nil
}

// StartCluster starts three voters and waits until each sees a leader and
// every member's API address. extra flags go to every node.
func StartCluster(bin, root string, extra ...string) ([]*Node, error) {
	nodes := make([]*Node, 3)
	var peers []string
	for i := range nodes {
		n, err := NewNode(bin, root, fmt.Sprintf("n%d", i+1), extra...)
		if err != nil {
			return nil, err
		}
		nodes[i] = n
		peers = append(peers, n.ID+"="+n.RaftAddr)
	}
	for _, n := range nodes {
		n.Args = append(n.Args, "--peers", strings.Join(peers, ","))
		if err := n.Start(); err != nil {
			return nodes, err
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if leader, _ := Leader(nodes); leader != nil {
			return nodes, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nodes, fmt.Errorf("cluster did not form within 30s")
}

// Leader returns the leader once every node agrees on it and knows every
// member's API address.
func Leader(nodes []*Node) (*Node, error) {
	var leaderID string
	for _, n := range nodes {
		var v struct {
			LeaderID string `json:"leaderId"`
			Members  []struct {
				HTTPAddress string `json:"httpAddress"`
			} `json:"members"`
		}
		res, err := (&http.Client{Timeout: time.Second}).Get(n.URL() + "/cluster")
		if err != nil {
			return nil, err
		}
		err = json.NewDecoder(res.Body).Decode(&v)
		res.Body.Close()
		if err != nil || v.LeaderID == "" || len(v.Members) != len(nodes) || (leaderID != "" && v.LeaderID != leaderID) {
			return nil, fmt.Errorf("no agreed leader yet")
		}
		for _, m := range v.Members {
			if m.HTTPAddress == "" {
				return nil, fmt.Errorf("member without API address")
			}
		}
		leaderID = v.LeaderID
	}
	for _, n := range nodes {
		if n.ID == leaderID {
			return n, nil
		}
	}
	return nil, fmt.Errorf("leader %s is not one of ours", leaderID)
}

// Post sends a JSON body and fails on a non-2xx answer.
func Post(c *http.Client, url, body string) error {
	res, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 || bytes.Contains(b, []byte(`"statusType":"Fail"`)) {
		return fmt.Errorf("POST %s: HTTP %d %s", url, res.StatusCode, b)
	}
	return nil
}

// Receiver is an in-process HTTP endpoint that records every callback.
type Receiver struct {
	URL string
	srv *http.Server

	mu   sync.Mutex
	hits map[string][]Hit // by run id
	n    int
}

// Hit is one received callback.
type Hit struct {
	At        time.Time
	Scheduled time.Time // X-Chronicle-Scheduled-Time (millisecond precision)
}

// NewReceiver starts a receiver on a free loopback port.
func NewReceiver() (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &Receiver{URL: "http://" + ln.Addr().String(), hits: map[string][]Hit{}}
	rc.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		_, _ = io.Copy(io.Discard, r.Body)
		h := Hit{At: at}
		h.Scheduled, _ = time.Parse(time.RFC3339, r.Header.Get("X-Chronicle-Scheduled-Time"))
		id := r.Header.Get("X-Chronicle-Run-Id")
		rc.mu.Lock()
		rc.hits[id] = append(rc.hits[id], h)
		rc.n++
		rc.mu.Unlock()
	})}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

// Close stops the receiver.
func (rc *Receiver) Close() { _ = rc.srv.Close() }

// Count is the number of callbacks received.
func (rc *Receiver) Count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n
}

// Hits returns a copy of the callbacks by run id.
func (rc *Receiver) Hits() map[string][]Hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string][]Hit, len(rc.hits))
	for k, v := range rc.hits {
		out[k] = append([]Hit(nil), v...)
	}
	return out
}

// Percentile returns the p-th percentile (0..100) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}
