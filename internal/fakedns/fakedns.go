// Package fakedns is a DNS server for tests: every A query is answered
// with one address, so a test can make any host name resolve where it
// needs (say, to a cloud metadata address) without touching the machine's
// resolver.
package fakedns

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
)

// Server answers A queries with Addr, AAAA queries with nothing.
type Server struct {
	conn net.PacketConn
	addr netip.Addr
}

// Start serves on a loopback UDP port until Close.
func Start(answer netip.Addr) (*Server, error) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{conn: conn, addr: answer.Unmap()}
	go s.serve()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.conn.Close() }

// Resolver resolves every name through this server.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
	}}
}

func (s *Server) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if out := s.answer(buf[:n]); out != nil {
			_, _ = s.conn.WriteTo(out, from)
		}
	}
}

// answer builds the response to one query: its header and question, and
// for an A question one record.
func (s *Server) answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	end := 12
	for end < len(q) && q[end] != 0 { // the question's name, label by label
		end += int(q[end]) + 1
	}
	end += 5 // the root label, type, class
	if end > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[end-4 : end-2])
	out := append([]byte(nil), q[:end]...)
	binary.BigEndian.PutUint16(out[2:4], 0x8180) // a response, recursion available, no error
	binary.BigEndian.PutUint16(out[8:10], 0)     // no authority records
	binary.BigEndian.PutUint16(out[10:12], 0)    // no additional records
	if qtype != 1 || !s.addr.Is4() {
		binary.BigEndian.PutUint16(out[6:8], 0)
		return out
	}
	binary.BigEndian.PutUint16(out[6:8], 1)
	ip := s.addr.As4()
	out = append(out, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4) // name at 12, A, IN, TTL 60, 4 bytes
	return append(out, ip[:]...)
}
