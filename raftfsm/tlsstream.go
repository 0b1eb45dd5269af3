package raftfsm

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/internal/peerroute"
	"github.com/hashicorp/raft"
)

// tlsStream is the Raft transport's stream layer with mutual TLS: the
// listener takes only connections whose client shows a certificate the
// cluster CA signed, and dialling checks the member's certificate the same
// way. hashicorp/raft's TCP transport has no TLS of its own.
type tlsStream struct {
	net.Listener
	advertise net.Addr
	client    *tls.Config
	routes    peerroute.Routes
}

// handshakeTimeout bounds a connection's TLS handshake, on either side: a
// process that connects and says nothing does not hold a goroutine.
const handshakeTimeout = 5 * time.Second

func newTLSStream(bind string, advertise net.Addr, server, client *tls.Config, routes peerroute.Routes) (*tlsStream, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	return &tlsStream{Listener: tls.NewListener(ln, server), advertise: advertise, client: client, routes: routes}, nil
}

// Accept returns the next connection; its handshake happens on its first
// read, in raft's goroutine for that connection, within handshakeTimeout.
func (s *tlsStream) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeFirst{Conn: c.(*tls.Conn)}, nil
}

// Addr is the address members dial this one at.
func (s *tlsStream) Addr() net.Addr { return s.advertise }

// Dial connects to a member and completes the handshake.
func (s *tlsStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: s.client}
	ctx, cancel := context.WithTimeout(context.Background(), max(timeout, handshakeTimeout))
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", s.routes.Addr(string(address)))
	if err != nil {
		return nil, fmt.Errorf("raft TLS dial %s: %w", address, err)
	}
	return c, nil
}

// routedStream is Raft's plain TCP stream layer, dialling members through
// their routes.
type routedStream struct {
	net.Listener
	advertise net.Addr
	routes    peerroute.Routes
}

func newRoutedStream(bind string, advertise net.Addr, routes peerroute.Routes) (*routedStream, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	return &routedStream{Listener: ln, advertise: advertise, routes: routes}, nil
}

// Addr is the address members dial this one at.
func (s *routedStream) Addr() net.Addr { return s.advertise }

// Dial connects to the member advertised at address, through its route.
func (s *routedStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", s.routes.Addr(string(address)), timeout)
}

// handshakeFirst completes an accepted connection's handshake, bounded
// in time, before its first read or write.
type handshakeFirst struct {
	*tls.Conn
	once sync.Once
	err  error
}

func (c *handshakeFirst) handshake() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		defer cancel()
		c.err = c.Conn.HandshakeContext(ctx)
	})
	return c.err
}

func (c *handshakeFirst) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *handshakeFirst) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
