package main

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/internal/testcerts"
	"github.com/chronicle-sched/chronicle/internal/tlsconf"
	"github.com/hashicorp/raft"
)

// issue makes a certificate of ca for a node on 127.0.0.1.
func issue(t *testing.T, ca *testcerts.CA, dir, name string) tlsconf.Files {
	t.Helper()
	c, err := ca.Issue(dir, name, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	return tlsconf.Files{Cert: c.Cert, Key: c.Key, CA: ca.File}
}

// startHTTPSNode starts one node serving HTTPS with a certificate its own
// test CA signed (tn.cfg.tls.CA), auth on with adminToken.
func startHTTPSNode(t *testing.T, adminToken string) *testNode {
	t.Helper()
	dir := t.TempDir()
	ca, err := testcerts.NewCA(dir, "cluster")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, t.TempDir())
	cfg.adminTokenFile = writeSecret(t, "admin-token", adminToken)
	cfg.tls = issue(t, ca, dir, "node1")
	return startTestNode(t, cfg)
}

// A three-node cluster with --tls-cert/--tls-key/--tls-ca serves HTTPS,
// forwards and relays between members over TLS, and is closed: a process
// whose certificate the cluster's CA did not sign cannot join it nor
// speak Raft to it, and a member's own endpoints refuse a client without
// a member's certificate. Killing the leader, a survivor leads and takes
// writes within two seconds.
func TestTLSClusterIsClosedAndFailsOver(t *testing.T) {
	dir := t.TempDir()
	ca, err := testcerts.NewCA(dir, "cluster")
	if err != nil {
		t.Fatal(err)
	}
	rogueCA, err := testcerts.NewCA(dir, "rogue")
	if err != nil {
		t.Fatal(err)
	}
	nodes := makeCluster(t, 3, clusterOpts{child: true, tune: func(c *serveConfig) {
		c.tls = issue(t, ca, dir, c.nodeID)
	}})
	leader, followers := leaderAndFollowers(t, nodes)
	if !strings.HasPrefix(leader.base, "https://") {
		t.Fatalf("base %s", leader.base)
	}

	// Through a follower: the create is forwarded to the leader as events,
	// the app's registration relayed whole; both over TLS.
	rc := newReceiver(t)
	followers[0].registerApp("tls", 1)
	s := followers[1].createOnce("tls", time.Now().Unix()+1, rc.url("/tls"), "POST", "over tls")
	followers[0].waitStatus(s.ScheduleID, "SUCCESS", 10*time.Second)

	// Plain HTTP gets no answer of the API.
	if res, err := http.Get("http://" + leader.cfg.httpAddr + "/goscheduler/apps"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatal("the API answered plain HTTP")
		}
	}
	// A member's own endpoints need a member's certificate.
	for _, path := range []string{"/internal/propose", "/cluster/announce"} {
		if res, body := rawCall(t, leader, "", "POST", path, nil); res.StatusCode != 401 {
			t.Fatalf("POST %s without a client certificate: HTTP %d %s", path, res.StatusCode, body)
		}
	}
	rogue := issue(t, rogueCA, dir, "rogue")
	rogueCert, err := tls.LoadX509KeyPair(rogue.Cert, rogue.Key)
	if err != nil {
		t.Fatal(err)
	}
	showRogue := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &rogueCert, nil }
	rogueClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		GetClientCertificate: showRogue, InsecureSkipVerify: true}}}
	if res, err := rogueClient.Post(leader.base+"/internal/propose", "application/octet-stream", strings.NewReader("x")); err == nil {
		res.Body.Close()
		t.Fatalf("a certificate of another CA reached /internal/propose: HTTP %d", res.StatusCode)
	}

	// Raft: neither plain TCP nor TLS with another CA's certificate gets an
	// answer from the leader's Raft port, and the term does not move.
	term := leader.clusterTerm()
	plain, err := raft.NewTCPTransport(freeAddr(t), nil, 1, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	var vote raft.RequestVoteResponse
	if err := plain.RequestVote("n1", raft.ServerAddress(leader.cfg.raftAddr), &raft.RequestVoteRequest{
		RPCHeader: raft.RPCHeader{ID: []byte("rogue"), Addr: []byte(plain.LocalAddr())}, Term: term + 10, LastLogIndex: 1 << 40, LastLogTerm: term + 10,
	}, &vote); err == nil {
		t.Fatalf("a plain TCP RequestVote was answered: %+v", vote)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", leader.cfg.raftAddr,
		&tls.Config{GetClientCertificate: showRogue, InsecureSkipVerify: true})
	if err == nil {
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = conn.Write([]byte{0, 1, 2, 3})
		if _, err = conn.Read(make([]byte, 1)); err == nil {
			t.Fatal("the Raft port answered a connection with another CA's certificate")
		}
		conn.Close()
	}

	// A fourth process with another CA's certificate, added as a member,
	// never receives the log.
	cfg := testConfig(t, t.TempDir())
	cfg.nodeID, cfg.peers, cfg.httpAddr, cfg.logLevel = "n4", leader.cfg.peers, freeAddr(t), "error"
	cfg.tls = issue(t, rogueCA, dir, "n4")
	n4 := &testNode{t: t, cfg: cfg, child: true}
	n4.start()
	waitFor(t, 15*time.Second, "n4 serving (it has no leader, so it is not healthy)", func() bool {
		res, err := n4.httpClient().Get(n4.base + "/livez")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	leader.must(200, "POST", "/cluster/members", map[string]any{"id": "n4", "raftAddress": cfg.raftAddr, "voter": false})
	time.Sleep(3 * time.Second)
	if v := n4.cluster(); v.AppliedIndex != 0 || v.LeaderID != "" {
		t.Fatalf("n4 took part: leader %q, applied index %d", v.LeaderID, v.AppliedIndex)
	}
	if code, r := n4.call("GET", "/goscheduler/apps?app_id=tls", nil); code == 200 {
		t.Fatalf("n4 holds the cluster's apps: %s", r.raw)
	}
	if got := leader.clusterTerm(); got != term {
		t.Fatalf("the leader's term moved from %d to %d", term, got)
	}
	leader.must(200, "DELETE", "/cluster/members/n4", nil)
	n4.stop()

	// Failover over TLS.
	killedAt := time.Now()
	leader.kill9()
	var took time.Duration
	waitFor(t, 10*time.Second, "a new leader taking writes", func() bool {
		for _, f := range followers {
			if v := f.cluster(); v.LeaderID != "" && v.LeaderID != leader.cfg.nodeID {
				if code, _ := f.call("POST", "/goscheduler/schedules", onceBody("tls", rc.url("/after"))); code == 200 {
					took = time.Since(killedAt)
					return true
				}
			}
		}
		return false
	})
	t.Logf("TLS cluster: leader killed, a survivor took a write %v later", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Fatalf("failover took %v, want under 2s", took)
	}
}

func (tn *testNode) clusterTerm() uint64 {
	tn.t.Helper()
	_, r := tn.call("GET", "/cluster", nil)
	var v struct{ Term uint64 }
	_ = json.Unmarshal(r.raw, &v)
	return v.Term
}
