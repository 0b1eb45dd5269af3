// Package peerroute says where a node connects to reach another member
// when the address the member advertises is not reachable as such from
// here: a tunnel, a NAT or a proxy between members (and the chaos suite's
// fault proxies). Routes apply to the connections members open to each
// other, Raft's and node-to-node HTTP; clients are not affected.
package peerroute

import (
	"fmt"
	"net"
	"strings"
)

// Routes maps an advertised member address (host:port) to the address to
// connect to instead. The zero value routes nothing.
type Routes map[string]string

// Parse reads "advertised=actual,..." (each a host:port); "" is no route.
func Parse(s string) (Routes, error) {
	r := Routes{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		from, to, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("peer route %q: want advertised=actual, each host:port", part)
		}
		for _, addr := range []string{from, to} {
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return nil, fmt.Errorf("peer route %q: %q is not host:port: %w", part, addr, err)
			}
		}
		if _, dup := r[from]; dup {
			return nil, fmt.Errorf("peer route %q: %s is routed twice", part, from)
		}
		r[from] = to
	}
	return r, nil
}

// Addr is where to connect to reach advertised address addr.
func (r Routes) Addr(addr string) string {
	if to, ok := r[addr]; ok {
		return to
	}
	return addr
}
