package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chronicle-sched/chronicle/http/openapi/openapitest"
)

// Every answer a test gets from a node is checked against the OpenAPI
// document (http/openapi/openapi.json): the clients the tests call nodes
// with record each answer on its way back, a goroutine validates them,
// and TestMain fails the package on any mismatch. Only answers are
// checked, never requests: tests send bad input on purpose.

// apiClient is how tests reach a node over plain HTTP.
var apiClient = &http.Client{Transport: recording(http.DefaultTransport)}

// The CLI's answers are checked too (its commands run in process in the
// CLI tests).
func init() { wrapCLITransport = recording }

// recording wraps base so that answers from the nodes are validated.
func recording(base http.RoundTripper) http.RoundTripper { return validating{base} }

type validating struct{ base http.RoundTripper }

func (rt validating) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := rt.base.RoundTrip(req)
	if err != nil || !conformance.isNode(req.URL.Host) {
		return res, err
	}
	// The request as the validator needs it: method, URL, headers.
	sent := req.Clone(req.Context())
	sent.Body = http.NoBody
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		// Endless: what the test read of it is checked when it closes.
		res.Body = &streamBody{ReadCloser: res.Body, done: func(b []byte) {
			conformance.add(exchange{req: sent, status: res.StatusCode, header: res.Header.Clone(), body: b})
		}}
		return res, nil
	}
	body, rerr := io.ReadAll(res.Body)
	res.Body.Close()
	if rerr != nil {
		// Cut short (a node killed mid-answer): the test sees the same
		// failure, and there is no whole answer to check.
		res.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{rerr}))
		return res, nil
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	conformance.add(exchange{req: sent, status: res.StatusCode, header: res.Header.Clone(), body: body})
	return res, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// streamBody keeps what is read of an event stream until it is closed
// (the test may read in one goroutine and close in another).
type streamBody struct {
	io.ReadCloser
	mu   sync.Mutex
	read []byte
	once sync.Once
	done func([]byte)
}

func (s *streamBody) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	s.mu.Lock()
	s.read = append(s.read, p[:n]...)
	s.mu.Unlock()
	return n, err
}

func (s *streamBody) Close() error {
	err := s.ReadCloser.Close()
	s.once.Do(func() {
		s.mu.Lock()
		b := bytes.Clone(s.read)
		s.mu.Unlock()
		s.done(b)
	})
	return err
}

// exchange is one answer of a node, and the request it answered.
type exchange struct {
	req    *http.Request
	status int
	header http.Header
	body   []byte
}

// conformance validates the answers recorded, in the background.
var conformance = &conformanceCheck{queue: make(chan exchange, 1024), nodes: map[string]bool{}}

type conformanceCheck struct {
	queue chan exchange
	start sync.Once
	wg    sync.WaitGroup
	// sending guards closed, and the queue's closing against a send.
	sending sync.RWMutex
	closed  bool

	// mu guards the nodes seen and the results.
	mu         sync.Mutex
	nodes      map[string]bool // host:port of every node a test started
	loadErr    error
	validated  int
	leftOut    int // answers of paths the document leaves out (openapitest.LeftOut)
	mismatches []string
	described  []string        // every response the document describes
	seen       map[string]bool // those some answer was
}

// node notes the base URL of a node a test started: answers from it are
// validated (a callback receiver's are not).
func (c *conformanceCheck) node(base string) {
	u, err := url.Parse(base)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.nodes[u.Host] = true
	c.mu.Unlock()
}

func (c *conformanceCheck) isNode(host string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[host]
}

func (c *conformanceCheck) add(e exchange) {
	c.sending.RLock()
	defer c.sending.RUnlock()
	if c.closed {
		return // an answer after the tests ended
	}
	c.start.Do(func() {
		v, err := openapitest.New()
		if err != nil {
			c.mu.Lock()
			c.loadErr = err
			c.mu.Unlock()
		}
		if v != nil {
			c.described, c.seen = v.Responses(), map[string]bool{}
		}
		c.wg.Add(1)
		go c.validate(v)
	})
	c.queue <- e
}

func (c *conformanceCheck) validate(v *openapitest.Validator) {
	defer c.wg.Done()
	for e := range c.queue {
		if v == nil {
			continue
		}
		err := v.Response(e.req, e.status, e.header, e.body)
		described := v.Described(e.req, e.status)
		c.mu.Lock()
		if err == nil && described != "" {
			c.seen[described] = true
		}
		switch {
		case errors.Is(err, openapitest.ErrLeftOut):
			c.leftOut++
		case err != nil:
			// The first line says what is wrong; kin-openapi then prints the
			// whole schema and value.
			reason, _, _ := strings.Cut(err.Error(), "\n")
			c.mismatches = append(c.mismatches, fmt.Sprintf("%s %s → %d: %s", e.req.Method, e.req.URL.RequestURI(), e.status, reason))
			c.validated++
		default:
			c.validated++
		}
		c.mu.Unlock()
	}
}

// report ends the validation and says whether every answer matched the
// document. Tests that started no node (a run of one unit test) have
// nothing to report; tests that started one must have had answers
// validated, or the recording is broken.
func (c *conformanceCheck) report() bool {
	c.sending.Lock()
	c.closed = true
	close(c.queue)
	c.sending.Unlock()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.nodes) == 0 {
		return true
	}
	if c.loadErr != nil {
		fmt.Fprintf(os.Stderr, "openapi: %v\n", c.loadErr)
		return false
	}
	if c.validated == 0 {
		fmt.Fprintf(os.Stderr, "openapi: %d nodes started but no answer of theirs was validated: the recording transport is not in use\n", len(c.nodes))
		return false
	}
	fmt.Fprintf(os.Stderr, "openapi: %d answers validated against http/openapi/openapi.json, %d mismatches (%d answers of paths it leaves out, node-to-node or console files, not checked); they were %d of the %d responses it describes\n",
		c.validated, len(c.mismatches), c.leftOut, len(c.seen), len(c.described))
	if testing.Verbose() {
		for _, r := range c.described {
			if !c.seen[r] {
				fmt.Fprintf(os.Stderr, "  described, no answer seen: %s\n", r)
			}
		}
	}
	const shown = 20
	for i, m := range c.mismatches {
		if i == shown {
			fmt.Fprintf(os.Stderr, "  ... and %d more\n", len(c.mismatches)-shown)
			break
		}
		fmt.Fprintf(os.Stderr, "  %s\n", m)
	}
	return len(c.mismatches) == 0
}
