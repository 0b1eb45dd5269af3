package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)

// fault is one fault the nemesis injected, and when.
type fault struct {
	Kind       string
	Node       string // the node it struck ("" for none in particular)
	Start, End time.Time
}

func (f fault) String() string {
	return fmt.Sprintf("%s %s %s..%s", f.Kind, f.Node, f.Start.Format("15:04:05.000"), f.End.Format("15:04:05.000"))
}

// faultKinds are what the nemesis chooses from. At most one node is struck
// at a time, so a majority is always up: every run due must fire.
var faultKinds = []string{"kill", "kill-leader", "pause", "isolate-leader", "isolate", "one-way", "slow", "transfer"}

// nemesis injects faults on a schedule drawn from its seed: the same seed
// gives the same kinds, durations, pauses and random nodes (which node
// leads depends on the run).
type nemesis struct {
	c    *cluster
	rng  *rand.Rand
	logf func(string, ...any)

	mu     sync.Mutex
	faults []fault
}

// run injects faults until ctx ends, then heals everything.
func (n *nemesis) run(ctx context.Context) {
	defer n.healAll()
	for {
		// Quiet spells between faults long enough to measure firing
		// outside them (see faultShadow).
		quiet := time.Duration(2000+n.rng.Intn(4000)) * time.Millisecond
		kind := faultKinds[n.rng.Intn(len(faultKinds))]
		hold := time.Duration(1500+n.rng.Intn(2500)) * time.Millisecond
		pick := n.c.nodes[n.rng.Intn(len(n.c.nodes))]
		slow := time.Duration(50+n.rng.Intn(250)) * time.Millisecond
		if !sleep(ctx, quiet) {
			return
		}
		f := fault{Kind: kind, Node: pick.ID, Start: time.Now()}
		if strings.HasSuffix(kind, "leader") || kind == "transfer" || kind == "one-way" {
			l := n.c.leader()
			if l == nil {
				continue // an election is under way: no fault this round
			}
			if kind != "one-way" {
				f.Node = l.ID
			} else if l.ID == pick.ID {
				pick = n.c.nodes[(indexOf(n.c.nodes, pick)+1)%len(n.c.nodes)]
			}
			if kind == "one-way" {
				f.Node = l.ID + "↛" + pick.ID
			}
			n.strike(ctx, f, hold, func() func() {
				switch kind {
				case "kill-leader":
					return n.kill(l.ID)
				case "isolate-leader":
					return n.isolate(l.ID)
				case "one-way":
					n.c.fnet.Block(l.ID, pick.ID)
					return n.c.fnet.Heal
				}
				n.transfer(l.URL())
				return func() {}
			})
			continue
		}
		n.strike(ctx, f, hold, func() func() {
			switch kind {
			case "kill":
				return n.kill(pick.ID)
			case "pause":
				_ = pick.Signal(sigStop)
				return func() { _ = pick.Signal(sigCont) }
			case "isolate":
				return n.isolate(pick.ID)
			}
			n.c.fnet.Delay("*", pick.ID, slow)
			n.c.fnet.Delay(pick.ID, "*", slow)
			return n.c.fnet.Heal
		})
	}
}

// strike applies a fault, holds it (but not past ctx), undoes it and
// records it.
func (n *nemesis) strike(ctx context.Context, f fault, hold time.Duration, apply func() (undo func())) {
	n.logf("fault %s %s for %s", f.Kind, f.Node, hold)
	undo := apply()
	if f.Kind != "transfer" {
		sleep(ctx, hold)
	}
	undo()
	f.End = time.Now()
	n.mu.Lock()
	n.faults = append(n.faults, f)
	n.mu.Unlock()
}

func (n *nemesis) kill(id string) (restart func()) {
	node := n.c.node(id)
	node.Kill()
	return func() {
		if err := node.Start(); err != nil {
			n.logf("restart %s: %v", id, err)
		}
	}
}

func (n *nemesis) isolate(id string) (heal func()) {
	var others []string
	for _, other := range n.c.ids() {
		if other != id {
			others = append(others, other)
		}
	}
	n.c.fnet.Partition([]string{id}, others)
	return n.c.fnet.Heal
}

func (n *nemesis) transfer(leaderURL string) {
	res, err := n.c.client.Post(leaderURL+"/cluster/leadership-transfer", "application/json", nil)
	if err == nil {
		res.Body.Close()
	}
}

// healAll ends every fault: links healed, every node running.
func (n *nemesis) healAll() {
	n.c.fnet.Heal()
	for _, node := range n.c.nodes {
		_ = node.Signal(sigCont)
		if !node.Running() {
			if err := node.Start(); err != nil {
				n.logf("restart %s: %v", node.ID, err)
			}
		}
	}
}

// history returns the faults injected.
func (n *nemesis) history() []fault {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]fault(nil), n.faults...)
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func indexOf[T comparable](list []T, v T) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}
