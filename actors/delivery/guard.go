package delivery

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Guard decides which addresses a callback may connect to, so that a
// schedule cannot turn Chronicle against what sits beside it: cloud
// metadata services, link-local and multicast addresses, and the cluster
// itself (a callback POSTing to a node's own /cluster/members once took a
// cluster down). It is checked when a connection is dialled, on the
// address DNS resolved to, so neither a name that resolves to a denied
// address nor one rebound to it after the schedule was created gets
// through; each redirect hop is a new dial, checked again.
//
// With a proxy configured in the environment (HTTP_PROXY), connections go
// to the proxy, and only its address is checked: the proxy must apply
// its own rules.
type Guard struct {
	deny, allow []netip.Prefix
	// own returns the addresses this cluster serves on (every member's API
	// and Raft address): never a callback's target, whatever allow says.
	own func() []string

	mu       sync.Mutex
	resolved map[string]resolvedHost // own host names, resolved
	local    []netip.Addr            // this machine's addresses, for own addresses on 0.0.0.0
}

type resolvedHost struct {
	addrs []netip.Addr
	at    time.Time
}

// DefaultDeny is what callbacks may not reach unless allowed: link-local
// addresses (where cloud metadata services answer, 169.254.169.254),
// AWS's IPv6 metadata address, "this network" (0.0.0.0/8) and multicast.
// Loopback and private ranges are allowed: receivers often live there.
var DefaultDeny = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("ff00::/8"),
}

// NewGuard returns a guard denying deny unless allow holds the address
// (allow wins), and always denying own's addresses.
func NewGuard(deny, allow []netip.Prefix, own func() []string) *Guard {
	if own == nil {
		own = func() []string { return nil }
	}
	g := &Guard{deny: deny, allow: allow, own: own, resolved: map[string]resolvedHost{}}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				g.local = append(g.local, p.Addr())
			}
		}
	}
	return g
}

// DeniedError is a callback address the guard refuses.
type DeniedError struct {
	Addr string // as dialled, or as the URL names it
	Why  string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("callback to %s refused: %s", e.Addr, e.Why)
}

// Check reports why address (ip:port, as dialled) may not be connected to.
func (g *Guard) Check(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &DeniedError{Addr: address, Why: "not an IP address and port"}
	}
	return g.check(ap, address)
}

// check is Check of a parsed address; address is how to name it.
func (g *Guard) check(ap netip.AddrPort, address string) error {
	ip := ap.Addr().Unmap()
	if g.isOwn(ip, ap.Port()) {
		return &DeniedError{Addr: address, Why: "it is an address of this Chronicle cluster (its API or Raft port)"}
	}
	for _, p := range g.allow {
		if p.Contains(ip) {
			return nil
		}
	}
	for _, p := range g.deny {
		if p.Contains(ip) {
			return &DeniedError{Addr: address, Why: fmt.Sprintf("it is in %s, a denied range (link-local and cloud "+
				"metadata, multicast, 0.0.0.0/8 by default); --callback-allow-cidrs admits a range", p)}
		}
	}
	return nil
}

// CheckURL refuses a callback URL that names a denied address literally:
// what can be told when a schedule is created, before any DNS lookup.
func (g *Guard) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // the URL's own checks say what is wrong with it
	}
	ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]"))
	if err != nil {
		return nil // a name: checked once resolved, when the call is made
	}
	port := uint64(80)
	switch {
	case u.Port() != "":
		if port, err = strconv.ParseUint(u.Port(), 10, 16); err != nil {
			return nil // the URL's own checks say what is wrong with it
		}
	case u.Scheme == "https":
		port = 443
	}
	ap := netip.AddrPortFrom(ip, uint16(port))
	return g.check(ap, ap.String())
}

// Control is a net.Dialer's Control hook: it runs on the resolved address
// of every connection, so any dialer given it (the callback client's, the
// notifier's SMTP dials) is held to the guard.
func (g *Guard) Control(_, address string, _ syscall.RawConn) error { return g.Check(address) }

// ownNamesTTL bounds how long a resolved own host name is trusted.
const ownNamesTTL = time.Minute

func (g *Guard) isOwn(ip netip.Addr, port uint16) bool {
	want := strconv.FormatUint(uint64(port), 10)
	for _, hp := range g.own() {
		host, p, err := net.SplitHostPort(hp)
		if err != nil || p != want {
			continue
		}
		for _, a := range g.addrsOf(host) {
			if a == ip || (a.IsUnspecified() && (ip.IsLoopback() || g.isLocal(ip))) {
				return true
			}
		}
	}
	return false
}

func (g *Guard) isLocal(ip netip.Addr) bool {
	for _, a := range g.local {
		if a == ip {
			return true
		}
	}
	return false
}

// addrsOf returns the addresses of an own host: itself if an IP, else
// its resolution (cached).
func (g *Guard) addrsOf(host string) []netip.Addr {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}
	}
	g.mu.Lock()
	r, ok := g.resolved[host]
	g.mu.Unlock()
	if ok && time.Since(r.at) < ownNamesTTL {
		return r.addrs
	}
	r = resolvedHost{at: time.Now()}
	if ips, err := net.LookupIP(host); err == nil {
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip); ok {
				r.addrs = append(r.addrs, a.Unmap())
			}
		}
	}
	g.mu.Lock()
	g.resolved[host] = r
	g.mu.Unlock()
	return r.addrs
}

// ParseCIDRs reads a comma-separated list of CIDR ranges (a lone address
// is its own range).
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR range", part)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR range: %v", part, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
