// Package delivery calls users' HTTP callbacks: one attempt after another
// with exponential backoff, a deterministic run id on every attempt so
// receivers can de-duplicate, and a bounded pool of workers. It knows
// nothing of actors, Raft or storage.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Request is one run's call.
type Request struct {
	ScheduleID    string
	RunID         string
	ScheduledTime time.Time
	Method        string // upper-case, validated
	URL           string
	Headers       map[string]string
	Payload       string // body for POST, PUT, PATCH, DELETE
}

// Policy bounds the attempts of one run.
type Policy struct {
	Timeout        time.Duration // per attempt
	MaxAttempts    int           // ≥ 1; 1 = no retry
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	RetryOn4xx     bool // 408 and 429 are retried regardless
}

// DefaultPolicy: 10s per attempt, 3 attempts, backoff 1s doubling to 30s.
func DefaultPolicy() Policy {
	return Policy{Timeout: 10 * time.Second, MaxAttempts: 3, InitialBackoff: time.Second, MaxBackoff: 30 * time.Second}
}

// Outcome is what happened to a run's call.
type Outcome struct {
	Success      bool
	HTTPStatus   int
	Attempts     int
	ErrorMessage string
	StartedAt    time.Time
	FinishedAt   time.Time
	Canceled     bool // stopped by ctx before a final outcome: do not record it
}

// Headers Chronicle adds to every call.
const (
	HeaderScheduleID    = "X-Chronicle-Schedule-Id"
	HeaderRunID         = "X-Chronicle-Run-Id"
	HeaderScheduledTime = "X-Chronicle-Scheduled-Time"
	HeaderAttempt       = "X-Chronicle-Attempt"
)

const maxDrain = 64 << 10

// ClientOptions configures the shared HTTP client.
type ClientOptions struct {
	MaxIdleConnsPerHost int
	UserAgent           string
	Logger              *slog.Logger
}

// Client delivers requests over one keep-alive transport.
type Client struct {
	http      *http.Client
	userAgent string
	logger    *slog.Logger
}

// NewClient builds a client.
func NewClient(o ClientOptions) *Client {
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 64
	}
	if o.UserAgent == "" {
		o.UserAgent = "Chronicle/1"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * o.MaxIdleConnsPerHost,
		MaxIdleConnsPerHost: o.MaxIdleConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	return &Client{http: &http.Client{Transport: tr}, userAgent: o.UserAgent, logger: o.Logger}
}

// Deliver calls req until an attempt succeeds, a failure is final, the
// attempts run out, or ctx ends.
func (c *Client) Deliver(ctx context.Context, req Request, p Policy) Outcome {
	if p.MaxAttempts < 1 {
		p.MaxAttempts = 1
	}
	out := Outcome{StartedAt: time.Now()}
	for attempt := 1; ; attempt++ {
		res := c.attempt(ctx, req, p, attempt)
		out.Attempts, out.HTTPStatus = attempt, res.status
		if ctx.Err() != nil {
			out.Canceled, out.FinishedAt = true, time.Now()
			return out
		}
		if res.err == "" {
			out.Success, out.FinishedAt = true, time.Now()
			return out
		}
		if !res.retryable || attempt >= p.MaxAttempts {
			out.ErrorMessage = res.err
			if attempt > 1 {
				out.ErrorMessage = fmt.Sprintf("after %d attempts: %s", attempt, res.err)
			}
			out.FinishedAt = time.Now()
			return out
		}
		wait := backoff(p, attempt)
		if res.retryAfter > 0 {
			wait = min(res.retryAfter, max(p.MaxBackoff, p.InitialBackoff))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			out.Canceled, out.FinishedAt = true, time.Now()
			return out
		case <-t.C:
		}
	}
}

// backoff is exponential with full jitter: uniform in [d/2, d], where d
// doubles from InitialBackoff and is capped at MaxBackoff.
func backoff(p Policy, attempt int) time.Duration {
	d := p.InitialBackoff
	for i := 1; i < attempt && d < p.MaxBackoff; i++ {
		d *= 2
	}
	if p.MaxBackoff > 0 && d > p.MaxBackoff {
		d = p.MaxBackoff
	}
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

type attemptResult struct {
	status     int
	err        string // "" on success
	retryable  bool
	retryAfter time.Duration
}

func (c *Client) attempt(ctx context.Context, req Request, p Policy, n int) attemptResult {
	actx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	var body io.Reader
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		body = strings.NewReader(req.Payload)
	}
	hr, err := http.NewRequestWithContext(actx, req.Method, req.URL, body)
	if err != nil {
		return attemptResult{err: fmt.Sprintf("invalid callback request: %v", err)}
	}
	for k, v := range req.Headers {
		hr.Header.Set(k, v)
	}
	if hr.Header.Get("User-Agent") == "" {
		hr.Header.Set("User-Agent", c.userAgent)
	}
	hr.Header.Set(HeaderScheduleID, req.ScheduleID)
	hr.Header.Set(HeaderRunID, req.RunID)
	hr.Header.Set(HeaderScheduledTime, req.ScheduledTime.UTC().Format(time.RFC3339))
	hr.Header.Set(HeaderAttempt, strconv.Itoa(n))
	res, err := c.http.Do(hr)
	if err != nil {
		return attemptResult{err: transportMessage(err, p.Timeout, ctx), retryable: true}
	}
	defer res.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(res.Body, maxDrain))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return attemptResult{status: res.StatusCode}
	}
	msg := res.Status
	if s := strings.TrimSpace(string(snippet)); s != "" {
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		msg += ": " + s
	}
	r := attemptResult{status: res.StatusCode, err: msg}
	switch {
	case res.StatusCode == http.StatusRequestTimeout, res.StatusCode == http.StatusTooManyRequests:
		r.retryable = true
	case res.StatusCode >= 400 && res.StatusCode < 500:
		r.retryable = p.RetryOn4xx
	default: // 5xx, and a 3xx left after following redirects
		r.retryable = res.StatusCode >= 500
	}
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && secs > 0 {
			r.retryAfter = time.Duration(secs) * time.Second
		}
	}
	return r
}

// transportMessage says what went wrong before any answer came back.
func transportMessage(err error, timeout time.Duration, parent context.Context) string {
	switch {
	case parent.Err() != nil:
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("callback timed out after %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: " + err.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "host not found: " + err.Error()
	}
	return err.Error()
}
