package cluster

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// peerHTTP is how this member calls the others' HTTP APIs (forwarded
// events, relayed requests, probes, announcements): plain HTTP, or HTTPS
// showing this member's certificate when the cluster runs TLS; and with
// the credentials that prove it a member on their own endpoints.
type peerHTTP struct {
	tls         *tls.Config // nil: plain HTTP
	credentials func(*http.Request)
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
// cluster's network, never behind a proxy.
func (p peerHTTP) transport(idlePerHost int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     p.tls,
		TLSHandshakeTimeout: 2 * time.Second,
		MaxIdleConns:        2 * idlePerHost,
		MaxIdleConnsPerHost: idlePerHost,
		IdleConnTimeout:     90 * time.Second,
	}
}
