package cluster

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"github.com/chronicle-sched/chronicle/internal/peerroute"
)

// peerHTTP is how this member calls the others' HTTP APIs (forwarded
// events, relayed requests, probes, announcements): plain HTTP, or HTTPS
// showing this member's certificate when the cluster runs TLS; and with
// the credentials that prove it a member on their own endpoints.
type peerHTTP struct {
	tls         *tls.Config // nil: plain HTTP
	credentials func(*http.Request)
	routes      peerroute.Routes // where to connect for an advertised address
}

func (p peerHTTP) scheme() string {
	if p.tls != nil {
		return "https"
	}
	return "http"
}

// prove adds what shows req comes from a member.
func (p peerHTTP) prove(req *http.Request) {
	if p.credentials != nil {
		p.credentials(req)
	}
}

// url is path on the member serving addr.
func (p peerHTTP) url(addr, path string) string { return p.scheme() + "://" + addr + path }

// transport keeps idlePerHost idle connections to each member, so calls
// under load reuse them: http.DefaultTransport keeps 2 per host, and a
// follower then dialled a new connection for most writes it relayed
// (bench/RESULTS.md, "Measurements behind the code"). Members are on the
// cluster's network, never behind an HTTP proxy (a route may send a
// member's connections elsewhere: see internal/peerroute).
func (p peerHTTP) transport(idlePerHost int) *http.Transport {
	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, p.routes.Addr(addr))
		},
		TLSClientConfig:     p.tls,
		TLSHandshakeTimeout: 2 * time.Second,
		MaxIdleConns:        2 * idlePerHost,
		MaxIdleConnsPerHost: idlePerHost,
		IdleConnTimeout:     90 * time.Second,
	}
}
