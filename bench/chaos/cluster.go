// Package chaos runs a three-node cluster of the real binary under a
// seeded schedule of faults (process kills, pauses, partitions, one-way
// blocks, slow links, leadership transfers) while a workload creates,
// changes, reads and deletes schedules through random nodes, then checks
// what the clients were told against what the cluster did: nothing
// acknowledged is lost, every run fires under one run id, all nodes end
// with the same log and projections, and firing is on time outside the
// faults. `go run ./bench/chaos` (`make chaos`) runs it; the package's
// test runs a short version on a fixed seed in `make test`.
package chaos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/bench/chaos/faultnet"
	"github.com/chronicle-sched/chronicle/bench/internal/harness"
)

// cluster is three nodes whose links to each other all go through fnet.
type cluster struct {
	nodes  []*harness.Node
	fnet   *faultnet.Net
	client *http.Client
}

// startCluster starts three nodes of bin under root, each reaching the
// others' Raft and HTTP addresses through a proxy per ordered pair.
func startCluster(bin, root string, extra ...string) (*cluster, error) {
	c := &cluster{fnet: faultnet.New(), client: &http.Client{Timeout: 3 * time.Second}}
	var peers []string
	for i := 0; i < 3; i++ {
		n, err := harness.NewNode(bin, root, fmt.Sprintf("n%d", i+1), extra...)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		peers = append(peers, n.ID+"="+n.RaftAddr)
	}
	for _, a := range c.nodes {
		var routes []string
		for _, b := range c.nodes {
			if a == b {
				continue
			}
			for _, addr := range []string{b.RaftAddr, b.HTTPAddr} {
				p, err := c.fnet.Proxy(a.ID, b.ID, addr)
				if err != nil {
					return nil, err
				}
				routes = append(routes, addr+"="+p.Addr())
			}
		}
		a.Args = append(a.Args, "--peers", strings.Join(peers, ","), "--peer-routes", strings.Join(routes, ","))
		if err := a.Start(); err != nil {
			return c, err
		}
	}
	if _, err := c.waitLeader(30 * time.Second); err != nil {
		return c, err
	}
	return c, nil
}

// leaderID is the leader a node reports ("" if none, or unreachable).
func (c *cluster) leaderID(n *harness.Node) string {
	res, err := c.client.Get(n.URL() + "/cluster")
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	var v struct {
		LeaderID string `json:"leaderId"`
	}
	if json.NewDecoder(res.Body).Decode(&v) != nil {
		return ""
	}
	return v.LeaderID
}

// leader is the node most nodes report as leader, or nil.
func (c *cluster) leader() *harness.Node {
	votes := map[string]int{}
	for _, n := range c.nodes {
		if id := c.leaderID(n); id != "" {
			votes[id]++
		}
	}
	for _, n := range c.nodes {
		if votes[n.ID] >= 2 {
			return n
		}
	}
	return nil
}

// waitLeader waits until every node agrees on a leader and knows every
// member's API address.
func (c *cluster) waitLeader(within time.Duration) (*harness.Node, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if l, err := harness.Leader(c.nodes); err == nil {
			return l, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("no leader all nodes agree on within %s", within)
}

func (c *cluster) node(id string) *harness.Node {
	for _, n := range c.nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

func (c *cluster) ids() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.ID)
	}
	return out
}

func (c *cluster) close() {
	for _, n := range c.nodes {
		n.Kill()
	}
	c.fnet.Close()
}
