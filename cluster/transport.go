package cluster

import (
	"net"
	"net/http"
	"time"
)

// transport is what one member uses to call another (forwarded events,
// relayed requests, probes). It keeps idlePerHost idle connections to
// each member, so calls under load reuse them: http.DefaultTransport keeps
// 2 per host, and a follower then dialled a new connection for most writes
// it relayed (bench/RESULTS.md, "Measurements behind the code"). Members are on the cluster's network, never behind a
// proxy.
func transport(idlePerHost int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * idlePerHost,
		MaxIdleConnsPerHost: idlePerHost,
		IdleConnTimeout:     90 * time.Second,
	}
}
