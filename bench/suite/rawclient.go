package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawPoster is one keep-alive HTTP/1.1 connection that POSTs a body and
// reads the answer, and nothing more: a closed-loop load generator in the
// manner of wrk. The benchmark's clients share two cores with the server
// they measure, and Go's net/http client spent 46 µs of CPU per request
// there (a third of all CPU at 12k creates/s, measured with /proc stat
// times), CPU the server then did not get. A remote client does not take
// the server's cores, so the lighter client measures the server more
// truly; the bare-HTTP ceiling uses the same client, so ratios stay fair.
// It speaks only what a server answering our POSTs needs: a status line,
// headers, and a body by Content-Length or chunked.
type rawPoster struct {
	addr   string
	header []byte // request line and headers up to Content-Length's value
	conn   net.Conn
	r      *bufio.Reader
	req    []byte
}

func newRawPoster(target string) (*rawPoster, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("load target %q: %w", target, err)
	}
	path := u.RequestURI()
	h := "POST " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: application/json\r\nContent-Length: "
	return &rawPoster{addr: u.Host, header: []byte(h)}, nil
}

// post sends body and returns the answer's status code. A failed exchange
// closes the connection; the next post dials again.
func (p *rawPoster) post(body []byte) (int, error) {
	if p.conn == nil {
		c, err := net.DialTimeout("tcp", p.addr, 10*time.Second)
		if err != nil {
			return 0, err
		}
		p.conn, p.r = c, bufio.NewReaderSize(c, 4096)
	}
	_ = p.conn.SetDeadline(time.Now().Add(30 * time.Second))
	p.req = append(p.req[:0], p.header...)
	p.req = strconv.AppendInt(p.req, int64(len(body)), 10)
	p.req = append(p.req, "\r\n\r\n"...)
	p.req = append(p.req, body...)
	status, keep, err := p.exchange()
	if err != nil || !keep {
		p.close()
	}
	return status, err
}

func (p *rawPoster) exchange() (status int, keepAlive bool, err error) {
	if _, err := p.conn.Write(p.req); err != nil {
		return 0, false, err
	}
	line, err := p.line()
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 201 Created"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, keepAlive := -1, false, true
	for {
		h, err := p.line()
		if err != nil {
			return status, false, err
		}
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return status, false, fmt.Errorf("bad header %q", h)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return status, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keepAlive = !bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		err = p.discardChunked()
	case length >= 0:
		_, err = p.r.Discard(length)
	default:
		return status, false, errors.New("answer without length: cannot keep the connection")
	}
	return status, keepAlive && err == nil, err
}

// line reads one CRLF-terminated line without its terminator.
func (p *rawPoster) line() ([]byte, error) {
	l, err := p.r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(l, "\r\n"), nil
}

func (p *rawPoster) discardChunked() error {
	for {
		l, err := p.line()
		if err != nil {
			return err
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(l, []byte(";"), 2)[0])), 16, 64)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", l)
		}
		if size == 0 {
			for { // trailers, then the blank line
				if t, err := p.line(); err != nil || len(t) == 0 {
					return err
				}
			}
		}
		if _, err := p.r.Discard(int(size) + 2); err != nil {
			return err
		}
	}
}

func (p *rawPoster) close() {
	if p.conn != nil {
		_ = p.conn.Close()
		p.conn, p.r = nil, nil
	}
}
