// Package faultnet puts the connections between the nodes of a test
// cluster through proxies the test controls: each proxy carries the
// connections one node opens to another, and the network can block the
// bytes flowing from one node to another (a one-way partition), delay
// them, or heal.
//
// A blocked direction stalls, as a real partition does (packets are
// dropped, TCP retransmits, nothing arrives): the proxy stops reading that
// side of every connection between the two nodes, and a new connection is
// accepted but carries nothing that way. What was sent meanwhile arrives
// after a heal, unless the application gave up on the connection first, as
// it would on a real network. Delays keep the order of the bytes.
package faultnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// link is a direction: the bytes node from sends to node to.
type link struct{ from, to string }

// Net is a set of proxies and the faults on the links between their nodes.
type Net struct {
	mu      sync.Mutex
	changed *sync.Cond // broadcast on every change of faults, and on close
	blocked map[link]bool
	delay   map[link]time.Duration
	closed  bool
	proxies []*Proxy
}

// New returns a network with no faults.
func New() *Net {
	n := &Net{blocked: map[link]bool{}, delay: map[link]time.Duration{}}
	n.changed = sync.NewCond(&n.mu)
	return n
}

// Proxy carries the connections node from opens to node to.
type Proxy struct {
	net      *Net
	from, to string
	target   string
	ln       net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
}

// Proxy listens on a loopback port for the connections node from opens to
// node to, and forwards them to target (to's real address).
func (n *Net) Proxy(from, to, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy %s→%s: %w", from, to, err)
	}
	p := &Proxy{net: n, from: from, to: to, target: target, ln: ln, conns: map[net.Conn]bool{}}
	n.mu.Lock()
	n.proxies = append(n.proxies, p)
	n.mu.Unlock()
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is where node from connects to reach node to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve connects c to the target and pumps both ways until either side
// ends. A connection the target refuses is closed, as the node would see
// it on a real network.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		return
	}
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); p.net.pump(up, c, link{p.from, p.to}) }()
	go func() { defer pumps.Done(); p.net.pump(c, up, link{p.to, p.from}) }()
	pumps.Wait()
	p.untrack(c, up)
}

func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil { // closed
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = true
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Cut closes every connection the proxy carries (both ends see them
// reset), as a process restart on the other side would.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// pump copies src to dst for direction l, holding each chunk while l is
// blocked and for l's delay after it was read. When either end fails both
// are closed, so the other pump ends too.
func (n *Net) pump(dst, src net.Conn, l link) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			readAt := time.Now()
			if !n.wait(l, readAt) {
				return
			}
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite() // half-close: the other direction may still flow
					return
				}
			}
			return
		}
	}
}

// wait holds a chunk read at readAt until l is not blocked and its delay
// has passed; false if the network was closed meanwhile.
func (n *Net) wait(l link, readAt time.Time) bool {
	n.mu.Lock()
	for n.blocked[l] && !n.closed {
		n.changed.Wait()
	}
	closed, d := n.closed, n.delay[l]
	n.mu.Unlock()
	if closed {
		return false
	}
	if wait := time.Until(readAt.Add(d)); wait > 0 {
		time.Sleep(wait)
	}
	return true
}

// Block stops the bytes from node from to node to (both may be "*": every
// node), until Heal or Unblock.
func (n *Net) Block(from, to string) { n.set(from, to, func(l link) { n.blocked[l] = true }) }

// Unblock lets the bytes from node from to node to flow again.
func (n *Net) Unblock(from, to string) { n.set(from, to, func(l link) { delete(n.blocked, l) }) }

// Partition isolates groups of nodes from each other, both ways; a node
// in no group keeps its links.
func (n *Net) Partition(groups ...[]string) {
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					n.Block(a, b)
				}
			}
		}
	}
}

// Delay holds the bytes from node from to node to for d (0 removes it).
func (n *Net) Delay(from, to string, d time.Duration) {
	n.set(from, to, func(l link) {
		if d <= 0 {
			delete(n.delay, l)
		} else {
			n.delay[l] = d
		}
	})
}

// Heal removes every fault.
func (n *Net) Heal() {
	n.mu.Lock()
	n.blocked, n.delay = map[link]bool{}, map[link]time.Duration{}
	n.changed.Broadcast()
	n.mu.Unlock()
}

// Faults describes the faults in force, for a failure's report.
func (n *Net) Faults() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := ""
	for l := range n.blocked {
		s += fmt.Sprintf("%s↛%s ", l.from, l.to)
	}
	for l, d := range n.delay {
		s += fmt.Sprintf("%s→%s+%s ", l.from, l.to, d)
	}
	if s == "" {
		return "none"
	}
	return s[:len(s)-1]
}

// set applies f to every link from→to names, where "*" is every node a
// proxy knows.
func (n *Net) set(from, to string, f func(link)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	nodes := map[string]bool{}
	for _, p := range n.proxies {
		nodes[p.from], nodes[p.to] = true, true
	}
	expand := func(name string) []string {
		if name != "*" {
			return []string{name}
		}
		var out []string
		for node := range nodes {
			out = append(out, node)
		}
		return out
	}
	for _, a := range expand(from) {
		for _, b := range expand(to) {
			if a != b {
				f(link{a, b})
			}
		}
	}
	n.changed.Broadcast()
}

// Close stops every proxy and ends every connection.
func (n *Net) Close() {
	n.mu.Lock()
	n.closed = true
	n.changed.Broadcast()
	proxies := n.proxies
	n.mu.Unlock()
	for _, p := range proxies {
		p.ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.conns = nil
		p.mu.Unlock()
		p.wg.Wait()
	}
}
