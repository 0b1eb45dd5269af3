package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestAddrsAreDistinctBindableAndBelowTheEphemeralRange(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		addr, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		_, p, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(p)
		if port >= ephemeralStart() || port < 1024 {
			t.Fatalf("port %d outside [1024, %d)", port, ephemeralStart())
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("bind %s: %v", addr, err)
		}
		ln.Close()
	}
}

func TestAddrSkipsAPortInUse(t *testing.T) {
	addr, err := Addr()
	if err != nil {
		t.Fatal(err)
	}
	// Occupy the next port it would try, then ask again.
	mu.Lock()
	taken := low + next
	mu.Unlock()
	takenAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(taken))
	if ln, err := net.Listen("tcp", takenAddr); err == nil {
		defer ln.Close()
	} // else someone else holds it, which serves the test as well
	got, err := Addr()
	if err != nil {
		t.Fatal(err)
	}
	if got == takenAddr || got == addr {
		t.Fatalf("got %s, which is in use or was handed out", got)
	}
}
