package faultnet

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// echo is a server that greets each connection with "hi\n", then answers
// every line with the same line.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("hi\n"))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// proxied is a network with one proxy, carrying a's connections to an
// echo server standing for b.
func proxied(t *testing.T) (*Net, *Proxy) {
	t.Helper()
	n := New()
	t.Cleanup(n.Close)
	p, err := n.Proxy("a", "b", echo(t))
	if err != nil {
		t.Fatal(err)
	}
	return n, p
}

// client is a connection through a proxy, reading lines in the background.
type client struct {
	c     net.Conn
	lines chan string
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &client{c: c, lines: make(chan string, 16)}
	go func() {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				close(cl.lines)
				return
			}
			cl.lines <- strings.TrimSpace(line)
		}
	}()
	return cl
}

// next is the next line within d, or "" if none came.
func (c *client) next(d time.Duration) string {
	select {
	case l := <-c.lines:
		return l
	case <-time.After(d):
		return ""
	}
}

func TestBytesFlowUntilBlockedAndArriveAfterHeal(t *testing.T) {
	n, p := proxied(t)
	c := dial(t, p.Addr())
	if got := c.next(2 * time.Second); got != "hi" {
		t.Fatalf("greeting %q", got)
	}
	c.c.Write([]byte("one\n"))
	if got := c.next(2 * time.Second); got != "one" {
		t.Fatalf("echo %q", got)
	}

	// a ↛ b: what a sends stalls; the answer of b to it cannot come.
	n.Block("a", "b")
	c.c.Write([]byte("two\n"))
	if got := c.next(300 * time.Millisecond); got != "" {
		t.Fatalf("%q came through a blocked link", got)
	}
	if f := n.Faults(); f != "a↛b" {
		t.Fatalf("faults %q", f)
	}
	n.Heal()
	if got := c.next(2 * time.Second); got != "two" {
		t.Fatalf("after the heal: %q", got)
	}
}

// A one-way block leaves the other direction open: b's greeting to a new
// connection arrives while a's bytes to b stall.
func TestOneWayBlock(t *testing.T) {
	n, p := proxied(t)
	n.Block("a", "b")
	c := dial(t, p.Addr())
	if got := c.next(2 * time.Second); got != "hi" {
		t.Fatalf("b → a is open, but the greeting is %q", got)
	}
	c.c.Write([]byte("x\n"))
	if got := c.next(300 * time.Millisecond); got != "" {
		t.Fatalf("a → b is blocked, but %q was echoed", got)
	}
	n.Unblock("a", "b")
	if got := c.next(2 * time.Second); got != "x" {
		t.Fatalf("after unblock: %q", got)
	}
	// b ↛ a: now the echo stalls on its way back.
	n.Block("b", "a")
	c.c.Write([]byte("y\n"))
	if got := c.next(300 * time.Millisecond); got != "" {
		t.Fatalf("b → a is blocked, but %q came back", got)
	}
	n.Heal()
	if got := c.next(2 * time.Second); got != "y" {
		t.Fatalf("after heal: %q", got)
	}
}

func TestDelayKeepsOrder(t *testing.T) {
	n, p := proxied(t)
	c := dial(t, p.Addr())
	c.next(2 * time.Second)
	n.Delay("a", "b", 150*time.Millisecond)
	start := time.Now()
	c.c.Write([]byte("1\n"))
	c.c.Write([]byte("2\n"))
	if a, b := c.next(2*time.Second), c.next(2*time.Second); a != "1" || b != "2" {
		t.Fatalf("got %q %q", a, b)
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Fatalf("a 150 ms delay took %s", took)
	}
}

// Partition blocks every link across groups, and "*" names every node.
func TestPartitionAndWildcards(t *testing.T) {
	n := New()
	defer n.Close()
	target := echo(t)
	for _, pair := range [][2]string{{"a", "b"}, {"b", "c"}, {"a", "c"}} {
		if _, err := n.Proxy(pair[0], pair[1], target); err != nil {
			t.Fatal(err)
		}
	}
	n.Partition([]string{"a"}, []string{"b", "c"})
	if f := n.Faults(); !strings.Contains(f, "a↛b") || !strings.Contains(f, "c↛a") || strings.Contains(f, "b↛c") {
		t.Fatalf("faults after partitioning a: %q", f)
	}
	n.Heal()
	n.Block("c", "*")
	if f := n.Faults(); !strings.Contains(f, "c↛a") || !strings.Contains(f, "c↛b") || strings.Contains(f, "a↛") {
		t.Fatalf("faults after c ↛ *: %q", f)
	}
}

// Cut resets the connections a proxy carries; new ones work.
func TestCut(t *testing.T) {
	_, p := proxied(t)
	c := dial(t, p.Addr())
	c.next(2 * time.Second)
	p.Cut()
	select {
	case _, open := <-c.lines:
		if open {
			t.Fatal("a line after the cut")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the connection survived the cut")
	}
	if got := dial(t, p.Addr()).next(2 * time.Second); got != "hi" {
		t.Fatalf("a new connection after the cut: %q", got)
	}
}
