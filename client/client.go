// Package client is a typed Go client of a Chronicle node's API: the
// native (GoScheduler) API with its schedule lifecycle and histories, the
// cluster endpoints and the token endpoints.
//
// Any node of a cluster serves every call: a follower relays writes to the
// leader and answers reads from its own projections, so a client needs
// only one address (behind a load balancer, or a list it picks from).
//
// Every method takes a context, which bounds the call; the client sets no
// timeout of its own (pass an *http.Client with one, or a context with a
// deadline). A call the server refused returns an *APIError carrying the
// HTTP status and the server's message, so callers can tell "not found"
// from "no leader, retry" with errors.As; a call that got no answer
// returns the transport's error, wrapped. The package imports nothing of
// the server's: a program that schedules jobs does not link Raft or Pebble.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultUserAgent is sent unless WithUserAgent says otherwise.
const DefaultUserAgent = "chronicle-go-client"

// Client calls one node's API. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	ua    string
}

// Option configures a Client.
type Option func(*Client)

// WithToken authenticates every call with a bearer token (the admin token
// or an issued one). Without it calls are anonymous, which a node accepts
// only with auth off.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient sends the calls through hc: a client that trusts the
// cluster's CA, has a timeout, or records requests in a test. The default
// is http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent header, so a node's access log can
// tell which program called.
func WithUserAgent(ua string) Option { return func(c *Client) { c.ua = ua } }

// New returns a client of the node at baseURL (http:// or https://, with
// or without a path prefix under which a proxy serves the API).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("server URL %q: not a URL", redact(baseURL))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://host:port or https://host:port", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("server URL %q: give no query, fragment or credentials (use WithToken)", u.Redacted())
	}
	c := &Client{base: u, hc: http.DefaultClient, ua: DefaultUserAgent}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	return c, nil
}

// redact cuts what may be credentials out of a URL that did not parse:
// everything before the last '@' of its authority.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	authority, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		authority = "xxxxx" + authority[i:]
	}
	if path != "" {
		return scheme + "://" + authority + "/" + path
	}
	return scheme + "://" + authority
}

// BaseURL is the node's address the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// APIError is an answer of the server that is not a success: the HTTP
// status and what the server said about it.
type APIError struct {
	Method string // of the request, e.g. "GET"
	Path   string // of the request, e.g. "/goscheduler/schedules/x"
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the native envelope's statusCode, which GoScheduler's API
	// sets apart from the HTTP status for some errors (4001: unregistered
	// app; 4002: app exists; 4003/4004: already (de)activated). It is the
	// HTTP status when the answer has no envelope.
	Code int
	// Message is the server's explanation (the envelope's statusMessage,
	// or a health check's reason); for an answer not from a Chronicle node
	// (a proxy's error page), the start of its body.
	Message string
	// RetryAfter is the server's Retry-After (on 503, 429 and 507): how
	// long to wait before the same call may succeed. Zero if absent.
	RetryAfter time.Duration
}

// Error reads "404 not found: Schedule with id: x not found".
func (e *APIError) Error() string {
	text := strings.ToLower(http.StatusText(e.StatusCode))
	if text == "" {
		text = "status"
	}
	if e.Message == "" {
		return fmt.Sprintf("%d %s", e.StatusCode, text)
	}
	return fmt.Sprintf("%d %s: %s", e.StatusCode, text, e.Message)
}

// Temporary reports whether the same call may succeed later unchanged: no
// leader (503), rate limited (429), disk nearly full (507). A write that
// got a 503 may or may not have taken effect: read before writing again.
func (e *APIError) Temporary() bool {
	switch e.StatusCode {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusInsufficientStorage:
		return true
	}
	return false
}

// IsNotFound reports whether err is an API answer of 404.
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// status is the native envelope's status object.
type status struct {
	StatusCode    int    `json:"statusCode"`
	StatusMessage string `json:"statusMessage"`
	StatusType    string `json:"statusType"`
	TotalCount    *int   `json:"totalCount"`
}

// envelope is the native API's answer; Data is decoded by the caller.
type envelope struct {
	Status status          `json:"status"`
	Data   json.RawMessage `json:"data"`
}

// maxErrorBody bounds how much of an error answer is read: a Chronicle
// node's are small, a proxy's page need not be.
const maxErrorBody = 64 << 10

// do sends the call and returns the answer's body on a 2xx; anything else
// is an *APIError. body, if not nil, is sent as JSON.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode the request: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	// path is escaped already (ids go through seg), so it is appended as
	// it is: an id holding "/" or "?" stays one segment.
	target := c.base.String() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.ua != "" {
		req.Header.Set("User-Agent", c.ua)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		// url.Error repeats method and URL, which the caller's wrapping
		// names: say which node was not reached, and why, once.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("cannot reach %s: %w", c.base.Redacted(), err)
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		return nil, apiError(method, path, res, raw)
	}
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	return raw, nil
}

// apiError builds the error of a non-2xx answer from whatever shape the
// body has: the native envelope, a health check's {statusMessage,
// reason}, or something that is not a Chronicle node's at all.
func apiError(method, path string, res *http.Response, raw []byte) *APIError {
	e := &APIError{Method: method, Path: path, StatusCode: res.StatusCode, Code: res.StatusCode}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	var body struct {
		Status        *status `json:"status"`
		StatusMessage string  `json:"statusMessage"`
		Reason        string  `json:"reason"`
		Message       string  `json:"message"`
	}
	if json.Unmarshal(raw, &body) == nil {
		switch {
		case body.Status != nil && body.Status.StatusMessage != "":
			e.Message = body.Status.StatusMessage
			if body.Status.StatusCode != 0 {
				e.Code = body.Status.StatusCode
			}
			return e
		case body.Reason != "":
			e.Message = body.Reason
			return e
		case body.Message != "":
			e.Message = body.Message
			return e
		case body.StatusMessage != "":
			e.Message = body.StatusMessage
			return e
		}
	}
	msg := strings.Join(strings.Fields(string(raw)), " ")
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	e.Message = msg
	return e
}

// native calls an endpoint of the native API and decodes the envelope's
// data into out (nil: ignore it).
func (c *Client) native(ctx context.Context, method, path string, query url.Values, body, out any) error {
	raw, err := c.do(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%s %s: the answer is not the native envelope: %w", method, path, err)
	}
	if out == nil {
		return nil
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return fmt.Errorf("%s %s: the answer has no data", method, path)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("%s %s: decode the answer's data: %w", method, path, err)
	}
	return nil
}

// plain calls an endpoint that answers bare JSON (cluster, tokens) and
// decodes it into out (nil: ignore it).
func (c *Client) plain(ctx context.Context, method, path string, query url.Values, body, out any) error {
	raw, err := c.do(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// seg escapes one path segment (an id), so an id can never name another
// route.
func seg(s string) string { return url.PathEscape(s) }
