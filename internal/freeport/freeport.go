// Package freeport names loopback addresses for tests and benchmarks that
// must give a node its address before the node binds it (Raft peers list
// each other's addresses; child processes take theirs as flags).
//
// Asking the kernel for port 0 and closing the listener is not enough: the
// port comes from the ephemeral range, which every outgoing connection on
// the machine draws from too, so between the close and the node's bind a
// Raft dial or an HTTP client in a parallel test package can take it (CI
// failed on exactly that). The ports handed out here lie below the
// ephemeral range, where the kernel never assigns a port on its own.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// span is how many ports below the ephemeral range are used.
const span = 12000

var (
	mu   sync.Mutex
	next int // offset into [low, low+span) of the next port to try
	low  int // first port handed out; 0 until initialised
	high int // one past the last
)

// Addr returns "127.0.0.1:PORT" for a port that nothing listens on now.
// Each call in a process returns a different port (until the span wraps),
// and processes start at random offsets so that parallel test binaries
// rarely try the same port at the same moment.
func Addr() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if low == 0 {
		high = ephemeralStart()
		low = max(high-span, 1024)
		next = rand.IntN(high - low)
	}
	for tries := 0; tries < high-low; tries++ {
		port := low + next
		next = (next + 1) % (high - low)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // in use by someone else
		}
		addr := ln.Addr().String()
		if err := ln.Close(); err != nil {
			return "", fmt.Errorf("freeport: release %s: %w", addr, err)
		}
		return addr, nil
	}
	return "", fmt.Errorf("freeport: no free port in %d-%d", low, high-1)
}

// ephemeralStart is the first port of the kernel's ephemeral range (Linux
// publishes it; elsewhere the IANA range's start is assumed).
func ephemeralStart() int {
	const fallback = 49152
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return fallback
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n <= 2048 {
		return fallback
	}
	return n
}
