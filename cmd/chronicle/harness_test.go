package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/internal/freeport"
)

// The one harness for real nodes (hashicorp/raft's testing.go is the
// model): a node runs in-process, with the same wiring as `serve`, or as
// the real binary in a child process (what kill -9 needs); either way a
// test talks to it over HTTP on 127.0.0.1, and its data is under
// t.TempDir(). makeCluster starts several that form one Raft cluster;
// waitForReplication and ensureSame check the cluster as a whole.

// testConfig is a node tuned for tests: free ports, quick retries.
func testConfig(t testing.TB, dataDir string) serveConfig {
	t.Helper()
	return serveConfig{
		dataDir: dataDir, httpAddr: "127.0.0.1:0", raftAddr: freeAddr(t), nodeID: "node1",
		logLevel: "warn", defaultPartitions: 2, workers: 64,
		misfire: time.Minute, window: 2 * time.Second,
		cbTimeout: 2 * time.Second, cbAttempts: 2, cbBackoff: 50 * time.Millisecond, cbMaxBackoff: 200 * time.Millisecond,
		heartbeat: 300 * time.Millisecond, election: 300 * time.Millisecond, lease: 150 * time.Millisecond,
		snapshotThreshold: 16384, maxApps: 1000,
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testNode is one node of a test, and the client a test talks to it with.
type testNode struct {
	t    testing.TB
	cfg  serveConfig
	base string // http(s)://host:port of its API
	// token is the admin token the test calls with (cfg.adminTokenFile's;
	// "" with auth off).
	token string

	n *node // in-process: the running node (nil while stopped)

	child bool      // the real binary, in a child process
	proc  *exec.Cmd // the running child (nil while stopped)
	out   io.Writer // the child's output
	extra []string  // the child's flags beyond cfg's
}

// startTestNode starts a single in-process node and waits until it
// serves.
func startTestNode(t testing.TB, cfg serveConfig) *testNode {
	t.Helper()
	tn := &testNode{t: t, cfg: cfg}
	tn.start()
	tn.waitHealthy()
	return tn
}

// startChild starts a single node as a child process of the real binary,
// its output to out, and waits until it serves.
func startChild(t testing.TB, cfg serveConfig, out io.Writer, extra ...string) *testNode {
	t.Helper()
	if cfg.httpAddr == "127.0.0.1:0" {
		cfg.httpAddr = freeAddr(t) // the test must know it before the child binds it
	}
	tn := &testNode{t: t, cfg: cfg, child: true, out: out, extra: extra}
	tn.start()
	tn.waitHealthy()
	return tn
}

// start runs the node on its configuration (again, after a stop).
func (tn *testNode) start() {
	tn.t.Helper()
	tn.readToken()
	if !tn.child {
		n, err := startNode(tn.cfg, testLogger())
		if err != nil {
			tn.t.Fatalf("start %s: %v", tn.cfg.nodeID, err)
		}
		tn.n, tn.base = n, tn.scheme()+n.httpAddr()
		conformance.node(tn.base)
		tn.t.Cleanup(tn.stop)
		return
	}
	args := []string{"serve", "--data-dir", tn.cfg.dataDir, "--http-addr", tn.cfg.httpAddr, "--raft-addr", tn.cfg.raftAddr,
		"--node-id", tn.cfg.nodeID, "--peers", tn.cfg.peers, "--log-level", tn.cfg.logLevel}
	for flag, v := range map[string]string{"--admin-token-file": tn.cfg.adminTokenFile, "--cluster-secret-file": tn.cfg.clusterSecretFile,
		"--tls-cert": tn.cfg.tls.Cert, "--tls-key": tn.cfg.tls.Key, "--tls-ca": tn.cfg.tls.CA, "--peer-routes": tn.cfg.peerRoutes} {
		if v != "" {
			args = append(args, flag, v)
		}
	}
	cmd := exec.Command(chronicleBinary(tn.t), append(args, tn.extra...)...)
	cmd.Stdout, cmd.Stderr = tn.out, tn.out
	if tn.out == nil {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		tn.t.Fatal(err)
	}
	tn.proc, tn.base = cmd, tn.scheme()+tn.cfg.httpAddr
	conformance.node(tn.base)
	tn.t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
}

// readToken takes the admin token the node will be started with.
func (tn *testNode) readToken() {
	tn.t.Helper()
	tn.token = ""
	if tn.cfg.adminTokenFile != "" {
		b, err := os.ReadFile(tn.cfg.adminTokenFile)
		if err != nil {
			tn.t.Fatal(err)
		}
		tn.token = strings.TrimSpace(string(b))
	}
}

func (tn *testNode) scheme() string {
	if tn.cfg.tls.Enabled() {
		return "https://"
	}
	return "http://"
}

// httpClient is how the test reaches the node: as a user would, trusting
// the cluster's CA when it serves HTTPS, with no certificate of its own.
// Its answers are checked against the OpenAPI document (openapi_test.go).
func (tn *testNode) httpClient() *http.Client {
	tn.t.Helper()
	if !tn.cfg.tls.Enabled() {
		return apiClient
	}
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if c, ok := clients[tn.cfg.tls.CA]; ok {
		return c
	}
	pem, err := os.ReadFile(tn.cfg.tls.CA)
	if err != nil {
		tn.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: recording(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}})}
	clients[tn.cfg.tls.CA] = c
	return c
}

var (
	clientsMu sync.Mutex
	clients   = map[string]*http.Client{} // by CA file
)

// stop shuts the node down cleanly (SIGTERM for a child).
func (tn *testNode) stop() {
	switch {
	case tn.n != nil:
		if err := tn.n.stop(); err != nil {
			tn.t.Errorf("stop node: %v", err)
		}
		tn.n = nil
	case tn.proc != nil:
		_ = tn.proc.Process.Signal(syscall.SIGTERM)
		_ = tn.proc.Wait() // joins the output copying too
		tn.proc = nil
	}
}

// kill9 kills a child node with SIGKILL: no shutdown, no flush.
func (tn *testNode) kill9() {
	tn.t.Helper()
	if tn.proc == nil {
		tn.t.Fatal("kill -9 needs a running child process (startChild, makeCluster with child)")
	}
	if err := tn.proc.Process.Signal(syscall.SIGKILL); err != nil {
		tn.t.Fatal(err)
	}
	_ = tn.proc.Wait() // joins the output copying too
	tn.proc = nil
}

// running reports whether the node was started and not stopped.
func (tn *testNode) running() bool { return tn.n != nil || tn.proc != nil }

func (tn *testNode) waitHealthy() {
	tn.t.Helper()
	waitFor(tn.t, 15*time.Second, tn.cfg.nodeID+" healthy", func() bool {
		code, _ := tn.call("GET", "/goscheduler/healthcheck", nil)
		return code == 200
	})
}

// clusterOpts shape makeCluster's nodes.
type clusterOpts struct {
	child bool               // real binaries in child processes (kill -9), with the LAN Raft timeouts
	tune  func(*serveConfig) // applied to every node's configuration
	extra []string           // flags of child processes beyond the configuration
	// prepare sees every node's configuration (addresses, peers, tune
	// applied) before any starts: per-node settings that name the others.
	prepare func(nodes []*testNode)
}

// makeCluster starts n nodes that bootstrap one Raft cluster and waits
// until each sees a leader and every member's API address.
func makeCluster(t *testing.T, n int, o clusterOpts) []*testNode {
	t.Helper()
	nodes := make([]*testNode, n)
	var peers []string
	for i := range nodes {
		cfg := testConfig(t, t.TempDir())
		cfg.nodeID = fmt.Sprintf("n%d", i+1)
		if o.child {
			cfg.httpAddr, cfg.logLevel = freeAddr(t), "error"
		} else {
			// Three nodes in one process under -race on a loaded 2-core
			// machine miss 300 ms heartbeats; these tests are about
			// behaviour, not failover speed (child processes keep the LAN
			// defaults).
			cfg.heartbeat, cfg.election, cfg.lease = time.Second, time.Second, 500*time.Millisecond
		}
		peers = append(peers, cfg.nodeID+"="+cfg.raftAddr)
		nodes[i] = &testNode{t: t, cfg: cfg, child: o.child, extra: o.extra}
	}
	for _, tn := range nodes {
		tn.cfg.peers = strings.Join(peers, ",")
		if o.tune != nil {
			o.tune(&tn.cfg)
		}
		tn.readToken()
	}
	if o.prepare != nil {
		o.prepare(nodes)
	}
	// Start them together: none has a leader before a quorum runs.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for _, tn := range nodes {
		wg.Add(1)
		go func(tn *testNode) {
			defer wg.Done()
			if tn.child {
				tn.start()
				return
			}
			nd, err := startNode(tn.cfg, testLogger())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s: %v", tn.cfg.nodeID, err))
				return
			}
			tn.n, tn.base = nd, tn.scheme()+nd.httpAddr()
			conformance.node(tn.base)
		}(tn)
	}
	wg.Wait()
	for _, tn := range nodes {
		if tn.n != nil {
			t.Cleanup(tn.stop)
		}
	}
	if len(failed) > 0 {
		t.Fatalf("start: %s", strings.Join(failed, "; "))
	}
	waitAnnounced(t, nodes)
	return nodes
}

// waitAnnounced waits until every running node sees a leader and every
// member's HTTP address.
func waitAnnounced(t *testing.T, nodes []*testNode) {
	t.Helper()
	waitFor(t, 20*time.Second, "cluster formed and announced", func() bool {
		for _, tn := range nodes {
			v := tn.cluster()
			if v.LeaderID == "" || len(v.Members) != len(nodes) {
				return false
			}
			for _, m := range v.Members {
				if m.HTTPAddress == "" {
					return false
				}
			}
		}
		return true
	})
}

// leaderAndFollowers waits for a running node that leads (and fires), and
// returns it with the other running nodes.
func leaderAndFollowers(t *testing.T, nodes []*testNode) (*testNode, []*testNode) {
	t.Helper()
	var leader *testNode
	var followers []*testNode
	waitFor(t, 10*time.Second, "a leader", func() bool {
		leader, followers = nil, nil
		for _, tn := range nodes {
			if !tn.running() {
				continue
			}
			if v := tn.cluster(); v.LeaderID == tn.cfg.nodeID && (tn.n == nil || tn.n.engine.Leading()) {
				leader = tn
			} else {
				followers = append(followers, tn)
			}
		}
		return leader != nil
	})
	return leader, followers
}

// waitForReplication waits until every running node has applied what
// the leader had applied when it was called.
func waitForReplication(t *testing.T, nodes []*testNode) {
	t.Helper()
	leader, _ := leaderAndFollowers(t, nodes)
	want := leader.cluster().AppliedIndex
	waitFor(t, 10*time.Second, fmt.Sprintf("every node applied index %d", want), func() bool {
		for _, tn := range nodes {
			if tn.running() && tn.cluster().AppliedIndex < want {
				return false
			}
		}
		return true
	})
}

// ensureSame waits for replication, then fails the test unless every
// running node holds the same event log, event for event.
func ensureSame(t *testing.T, nodes []*testNode) {
	t.Helper()
	waitForReplication(t, nodes)
	var want []byte
	var first string
	for _, tn := range nodes {
		if !tn.running() {
			continue
		}
		got := tn.allEvents()
		if want == nil {
			want, first = got, tn.cfg.nodeID
		} else if !bytes.Equal(got, want) {
			t.Fatalf("%s and %s hold different logs", first, tn.cfg.nodeID)
		}
	}
}

// allEvents is the node's whole event log as /events shows it.
func (tn *testNode) allEvents() []byte {
	tn.t.Helper()
	var all []json.RawMessage
	for after := uint64(0); ; {
		code, r := tn.call("GET", fmt.Sprintf("/events?limit=1000&after=%d", after), nil)
		var page struct {
			Events []json.RawMessage `json:"events"`
			Next   uint64            `json:"next"`
		}
		if code != 200 || json.Unmarshal(r.raw, &page) != nil {
			tn.t.Fatalf("GET /events on %s: %d", tn.cfg.nodeID, code)
		}
		if len(page.Events) == 0 {
			b, _ := json.Marshal(all)
			return b
		}
		all, after = append(all, page.Events...), page.Next
	}
}

// clusterView is GET /cluster.
type clusterView struct {
	NodeID string `json:"nodeId"`
	Build  struct {
		Version, Commit, Go string
	} `json:"build"`
	LeaderID     string `json:"leaderId"`
	AppliedIndex uint64 `json:"appliedIndex"`
	Members      []struct {
		ID          string `json:"id"`
		RaftAddress string `json:"raftAddress"`
		HTTPAddress string `json:"httpAddress"`
		Voter       bool   `json:"voter"`
		Leader      bool   `json:"leader"`
		Reachable   *bool  `json:"reachable"`
		EventSchema int    `json:"eventSchema"`
	} `json:"members"`
}

func (tn *testNode) cluster() clusterView {
	tn.t.Helper()
	code, r := tn.call("GET", "/cluster", nil)
	var v clusterView
	if code == 200 {
		_ = json.Unmarshal(r.raw, &v)
	}
	return v
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// chronicleBinary builds the real binary once for the tests that run it
// as a child process.
func chronicleBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chronicle-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "chronicle")
		if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", binPath, ".").CombinedOutput(); err != nil {
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
	if !conformance.report() && code == 0 {
		code = 1
	}
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
