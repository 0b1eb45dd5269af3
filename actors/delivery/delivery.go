// Package delivery calls users' HTTP callbacks: one attempt after another
// with exponential backoff, a deterministic run id on every attempt so
// receivers can de-duplicate, and a bounded pool of workers. It knows
// nothing of actors, Raft or storage.
package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// Request is one run's call.
type Request struct {
	AppID         string // the schedule's app (for metrics; not sent)
	ScheduleID    string
	RunID         string    // deterministic; the same on every attempt and re-fire of a run
	ScheduledTime time.Time // the run's scheduled time
	Method        string    // upper-case, validated
	URL           string
	Headers       map[string]string // user headers
	Payload       string            // body for POST, PUT, PATCH, DELETE; other methods send none
	// FollowRedirects lets the call follow up to maxRedirects redirects,
	// each hop checked by the guard; otherwise a 3xx is the answer.
	FollowRedirects bool
	// SigningSecrets sign the call (Standard Webhooks): the app's current
	// secret, and during a rotation's grace period the one before.
	SigningSecrets []string
	// Query, if set ("name=value"), is added to the URL's query after its
	// own parameters, which keep their order.
	Query string
	// StopContract: the receiver may stop the schedule with a JSON body
	// whose "code" is 400; the Outcome then says Stop, and no retry is made.
	StopContract bool
	// FiredBy is the calling leader and its term, "node/term": a receiver
	// (or a test) can tell a call of a deposed leader from its successor's.
	FiredBy string

	// The request's shape, for receivers written for another scheduler
	// (karajo's HTTP jobs): see event.Callback.
	//
	// TimeParam, if set, names a parameter carrying the attempt's time in
	// unix seconds, placed as Params says: "query" (or ""), "form" or
	// "json" (the body, which then replaces Payload).
	TimeParam string
	Params    string
	// HMAC, if set, signs each attempt with a hex HMAC-SHA256 of its
	// parameters' exact bytes (the body, or the query TimeParam adds).
	HMAC *HMAC
	// SuccessStatus, if set, is the one status that counts as success;
	// another 2xx is a failure, final as a 4xx is.
	SuccessStatus int
	// InsecureTLS: the certificate of an https URL is not verified (the
	// guard still checks every address).
	InsecureTLS bool
	// Self: URL is a path on this node's own API (ClientOptions.Self),
	// called on the address it listens on; redirects are not followed.
	Self bool
	// KeepBody, if above 0, keeps up to that many bytes of the last
	// answer's body in the Outcome (a workflow task's response).
	KeepBody int
}

// HMAC is a callback signature of karajo's kind: Header carries the hex
// HMAC-SHA256 of what the call sends, keyed by Secret.
type HMAC struct {
	Header string
	Secret string
}

// Policy bounds the attempts of one run. Out-of-range values are
// normalised by Deliver: Timeout ≤ 0 means the default 10s, MaxAttempts < 1
// means 1, a negative InitialBackoff means 0 (retry at once), MaxBackoff ≤ 0
// means the default 30s.
type Policy struct {
	Timeout        time.Duration // per attempt, redirects included
	MaxAttempts    int           // ≥ 1; 1 = no retry
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	RetryOn4xx     bool // a 4xx is final unless set; 408 and 429 are retried regardless
}

// DefaultPolicy: 10s per attempt, 3 attempts, backoff from 1s doubling up
// to 30s, 4xx final.
func DefaultPolicy() Policy {
	return Policy{Timeout: 10 * time.Second, MaxAttempts: 3, InitialBackoff: time.Second, MaxBackoff: 30 * time.Second}
}

// Normalised is p with out-of-range values replaced as Deliver does.
func (p Policy) Normalised() Policy {
	d := DefaultPolicy()
	if p.Timeout <= 0 {
		p.Timeout = d.Timeout
	}
	if p.MaxAttempts < 1 {
		p.MaxAttempts = 1
	}
	if p.InitialBackoff < 0 {
		p.InitialBackoff = 0
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = d.MaxBackoff
	}
	return p
}

// Outcome is what happened to a run's call.
type Outcome struct {
	Success      bool
	HTTPStatus   int // status of the last attempt's response; 0 if it got none
	Attempts     int // attempts made (requests sent, or tried to be sent)
	ErrorMessage string
	StartedAt    time.Time // first attempt
	FinishedAt   time.Time
	Canceled     bool // stopped by ctx before a final outcome: do not record it
	// Stop: the request had StopContract and the receiver's answer asked
	// to stop (Response is the start of that answer's body).
	Stop     bool
	Response string
	// Body and Location are the last answer's body (up to the request's
	// KeepBody bytes, valid UTF-8) and Location header, when KeepBody is
	// set.
	Body     string
	Location string
}

// Headers Chronicle adds to every call, overriding user headers of the
// same name.
const (
	HeaderScheduleID    = "X-Chronicle-Schedule-Id"
	HeaderRunID         = "X-Chronicle-Run-Id"
	HeaderScheduledTime = "X-Chronicle-Scheduled-Time"
	HeaderAttempt       = "X-Chronicle-Attempt"
	HeaderFiredBy       = "X-Chronicle-Fired-By"
)

// DefaultUserAgent is sent unless the user's headers carry a User-Agent.
const DefaultUserAgent = "Chronicle/1"

const (
	maxDrain     = 64 << 10 // response bytes read (then discarded) per attempt
	maxSnippet   = 200      // response body bytes quoted in an ErrorMessage
	maxRedirects = 5
)

// ClientOptions configures the shared HTTP client.
type ClientOptions struct {
	MaxIdleConnsPerHost int          // default 64
	UserAgent           string       // default DefaultUserAgent
	Logger              *slog.Logger // default slog.Default()
	// Guard checks every address a callback connects to (nil: a guard
	// with DefaultDeny and no own addresses).
	Guard *Guard
	// Resolver resolves callback host names (nil: the system's).
	Resolver *net.Resolver
	// OnAttempt, if set, is told of every attempt: its status (0: no
	// answer) and how long it took.
	OnAttempt func(req Request, status int, took time.Duration)
	// Self, if set, returns the base URL of this node's own API
	// ("http://127.0.0.1:8080"), where calls with Request.Self go: the
	// guard, which keeps callbacks off the cluster's own addresses, does
	// not apply to this one address, which the server chose, not a user.
	Self func() string
}

// Client delivers requests over one keep-alive transport. It is safe for
// concurrent use.
type Client struct {
	http      *http.Client
	insecure  *http.Client // for calls with InsecureTLS: the same guard, no certificate check
	self      *http.Client // for calls with Self: to this node's own listener only
	selfBase  func() string
	userAgent string
	logger    *slog.Logger
	onAttempt func(req Request, status int, took time.Duration)
}

// NewClient builds a client with one shared transport.
func NewClient(o ClientOptions) *Client {
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 64
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Guard == nil {
		o.Guard = NewGuard(DefaultDeny, nil, nil)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: o.Guard.Control,
		Resolver: o.Resolver}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * o.MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	checkRedirect := func(req *http.Request, via []*http.Request) error {
		// Hand back the redirect itself: a final 3xx is a failure with a
		// status the user can read.
		if follow, _ := req.Context().Value(followKey{}).(bool); !follow || len(via) > maxRedirects {
			return http.ErrUseLastResponse
		}
		return nil
	}
	insecure := tr.Clone()
	insecure.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // asked for by the schedule (InsecureTLS)
	c := &Client{
		http:      &http.Client{Transport: tr, CheckRedirect: checkRedirect},
		insecure:  &http.Client{Transport: insecure, CheckRedirect: checkRedirect},
		userAgent: o.UserAgent, logger: o.Logger, onAttempt: o.OnAttempt, selfBase: o.Self,
	}
	if o.Self != nil {
		// Whatever the URL, a self call connects to the node's own
		// listener, named by the server; its certificate is the node's
		// own, so it is not checked against a name the URL does not hold.
		self := &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				u, err := url.Parse(o.Self())
				if err != nil {
					return nil, fmt.Errorf("this node's API address: %w", err)
				}
				return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, u.Host)
			},
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
			MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 5 * time.Second,
		}
		c.self = &http.Client{Transport: self, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect would leave the one address allowed
		}}
	}
	return c
}

// Deliver calls req until an attempt succeeds, a failure is final, the
// attempts run out, or ctx ends (then the Outcome is Canceled and must not
// be recorded). A response received before ctx ended is still reported.
func (c *Client) Deliver(ctx context.Context, req Request, p Policy) Outcome {
	p = p.Normalised()
	out := Outcome{StartedAt: time.Now()}
	canceled := func() Outcome {
		out.Canceled, out.ErrorMessage, out.FinishedAt = true, "delivery canceled before a final outcome", time.Now()
		return out
	}
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return canceled()
		}
		began := time.Now()
		res := c.attempt(ctx, req, p, attempt)
		if c.onAttempt != nil && (res.status != 0 || ctx.Err() == nil) {
			c.onAttempt(req, res.status, time.Since(began))
		}
		out.Attempts, out.HTTPStatus, out.Body, out.Location = attempt, res.status, res.body, res.location
		if res.stop {
			// The receiver answered: the schedule is to stop, this run
			// is over whatever its status says.
			out.Stop, out.Response, res.retryable = true, res.response, false
		}
		if res.ok {
			out.Success, out.FinishedAt = true, time.Now()
			return out
		}
		if res.status == 0 && ctx.Err() != nil {
			return canceled() // the attempt failed because ctx ended
		}
		if !res.retryable || attempt >= p.MaxAttempts {
			out.ErrorMessage, out.FinishedAt = FailureMessage(attempt, res.err), time.Now()
			return out
		}
		wait := backoff(p, attempt)
		if res.hasRetryAfter {
			wait = min(res.retryAfter, p.MaxBackoff)
		}
		c.logger.Debug("callback attempt failed; retrying", "schedule", req.ScheduleID, "run", req.RunID,
			"attempt", attempt, "err", res.err, "wait", wait)
		if !Sleep(ctx, wait) {
			return canceled()
		}
	}
}

// FailureMessage is the error of an outcome that failed after attempts
// attempts, the last failing with err.
func FailureMessage(attempts int, err string) string {
	if attempts > 1 {
		return fmt.Sprintf("after %d attempts: %s", attempts, err)
	}
	return err
}

// Sleep waits d between two attempts, and reports false if ctx ended
// first.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Backoff is how long to wait after the given failed attempt (1-based)
// before the next one, by Deliver's rule below: other senders (such as
// notifications) retry on the same schedule.
func (p Policy) Backoff(attempt int) time.Duration { return backoff(p.Normalised(), attempt) }

// backoff is exponential with full jitter: uniform in [0, d], where d is
// InitialBackoff doubled once per failed attempt before this one, capped at
// MaxBackoff.
func backoff(p Policy, attempt int) time.Duration {
	d := p.InitialBackoff
	for i := 1; i < attempt && d < p.MaxBackoff; i++ {
		if d > p.MaxBackoff/2 {
			d = p.MaxBackoff
			break
		}
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	if d <= 0 {
		return 0
	}
	n := int64(d)
	if n < math.MaxInt64 {
		n++ // [0, d] inclusive
	}
	return time.Duration(rand.Int64N(n))
}

type attemptResult struct {
	ok            bool
	status        int
	err           string // why the attempt failed; "" when ok
	retryable     bool
	retryAfter    time.Duration
	hasRetryAfter bool
	stop          bool   // the answer asked to stop (StopContract)
	response      string // the start of the answer's body, when stop
	body          string // up to KeepBody bytes of the answer's body
	location      string
}

// maxContract is how much of an answer is read for the stop contract.
const maxContract = 4 << 10

// stopAsked reports whether body is JSON whose "code" is 400 (a number,
// or the string "400"): CronHubot's contract to stop a job.
func stopAsked(body []byte) bool {
	var v struct {
		Code json.RawMessage `json:"code"`
	}
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	code := strings.Trim(string(v.Code), `" `)
	n, err := strconv.ParseFloat(code, 64)
	return err == nil && n == 400
}

// followKey marks, in a request's context, a call that may follow
// redirects.
type followKey struct{}

func (c *Client) attempt(ctx context.Context, req Request, p Policy, n int) attemptResult {
	actx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	hr, err := c.newRequest(context.WithValue(actx, followKey{}, req.FollowRedirects), req, n)
	if err != nil {
		return attemptResult{err: err.Error()} // no retry can fix it
	}
	hc := c.http
	switch {
	case req.Self:
		hc = c.self
	case req.InsecureTLS:
		hc = c.insecure
	}
	res, err := hc.Do(hr)
	if err != nil {
		var denied *DeniedError
		if errors.As(err, &denied) {
			return attemptResult{err: denied.Error()} // the rule stands: no retry
		}
		return attemptResult{err: transportMessage(err, actx, p.Timeout), retryable: true}
	}
	defer res.Body.Close()
	limit := int64(maxSnippet + 1) // +1: was it cut?
	if req.StopContract {
		limit = maxContract
	}
	limit = max(limit, int64(req.KeepBody))
	head, _ := io.ReadAll(io.LimitReader(res.Body, limit))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxDrain-int64(len(head))))
	code := res.StatusCode
	var stop bool
	var response, body, location string
	if req.StopContract && stopAsked(head) {
		stop, response = true, strings.ToValidUTF8(string(head), "?")
	}
	if req.KeepBody > 0 {
		body, location = strings.ToValidUTF8(string(head[:min(len(head), req.KeepBody)]), "?"), res.Header.Get("Location")
	}
	if len(head) > maxSnippet+1 {
		head = head[:maxSnippet+1]
	}
	if code >= 200 && code < 300 && (req.SuccessStatus == 0 || code == req.SuccessStatus) {
		return attemptResult{ok: true, status: code, stop: stop, response: response, body: body, location: location}
	}
	r := attemptResult{status: code, err: statusMessage(res, head), stop: stop, response: response, body: body, location: location}
	switch {
	case code >= 200 && code < 300: // not the one status that counts: an answer, final
		r.err = fmt.Sprintf("%s: only %d counts as success", r.err, req.SuccessStatus)
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		r.retryable = true
	case code >= 400 && code < 500:
		r.retryable = p.RetryOn4xx
	default: // 5xx is retryable; 1xx and a final 3xx are not
		r.retryable = code >= 500
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		r.retryAfter, r.hasRetryAfter = parseRetryAfter(res.Header.Get("Retry-After"), time.Now())
	}
	return r
}

func (c *Client) newRequest(ctx context.Context, req Request, n int) (*http.Request, error) {
	if req.Self {
		if c.self == nil || !strings.HasPrefix(req.URL, "/") {
			return nil, fmt.Errorf("invalid callback URL %q: a call to this node's API needs a path and a node that serves one", req.URL)
		}
		req.URL = strings.TrimSuffix(c.selfBase(), "/") + req.URL
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, fmt.Errorf("invalid callback URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid callback URL %q: scheme must be http or https", req.URL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid callback URL %q: no host", req.URL)
	}
	sent, err := shape(req, time.Now())
	if err != nil {
		return nil, err
	}
	var body io.Reader
	if sent.body != nil {
		body = bytes.NewReader(sent.body)
	}
	target := req.URL
	if query := joinQuery(req.Query, sent.query); query != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += query
		target = u.String()
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, target, body)
	if err != nil {
		return nil, fmt.Errorf("invalid callback request: %v", err)
	}
	for k, v := range req.Headers {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("invalid callback header name %q", k)
		}
		if !validHeaderValue(v) {
			return nil, fmt.Errorf("invalid value for callback header %q", k)
		}
		if http.CanonicalHeaderKey(k) == "Host" {
			hr.Host = v // net/http ignores Header["Host"] on requests
			continue
		}
		hr.Header.Set(k, v)
	}
	if hr.Header.Get("User-Agent") == "" {
		hr.Header.Set("User-Agent", c.userAgent)
	}
	if sent.contentType != "" {
		hr.Header.Set("Content-Type", sent.contentType)
	}
	if req.HMAC != nil {
		hr.Header.Set(req.HMAC.Header, SignHMAC(req.HMAC.Secret, sent.signed))
	}
	hr.Header.Set(HeaderScheduleID, req.ScheduleID)
	hr.Header.Set(HeaderRunID, req.RunID)
	signAt := time.Now().Unix()
	hr.Header.Set(HeaderWebhookID, req.RunID)
	hr.Header.Set(HeaderWebhookTimestamp, strconv.FormatInt(signAt, 10))
	if len(req.SigningSecrets) > 0 {
		sig, err := Sign(req.SigningSecrets, req.RunID, signAt, sent.body)
		if err != nil {
			return nil, err
		}
		hr.Header.Set(HeaderWebhookSignature, sig)
	}
	// RFC 3339 in UTC, with milliseconds only for a sub-second due time.
	hr.Header.Set(HeaderScheduledTime, formatScheduled(req.ScheduledTime))
	hr.Header.Set(HeaderAttempt, strconv.Itoa(n))
	if req.FiredBy != "" {
		hr.Header.Set(HeaderFiredBy, req.FiredBy)
	}
	return hr, nil
}

// sentParts is what one attempt sends beside its headers.
type sentParts struct {
	body        []byte // nil: no body
	query       string // parameters added to the URL's query
	contentType string // set for a body of parameters
	signed      []byte // what an HMAC signs: the parameters' bytes
}

// shape builds an attempt's body and parameters at time now. A call sends
// the payload as its body for POST, PUT, PATCH and DELETE and nothing for
// the others; with TimeParam its parameters go in the query, or are the
// body (form or json). The HMAC signs the parameters as sent (the body, or
// the query they add), as karajo does; without parameters, the body.
func shape(req Request, now time.Time) (sentParts, error) {
	var s sentParts
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		s.body = []byte(req.Payload)
	}
	s.signed = s.body
	if req.TimeParam == "" {
		return s, nil
	}
	epoch := now.Unix()
	switch req.Params {
	case "", "query":
		s.query = url.Values{req.TimeParam: {strconv.FormatInt(epoch, 10)}}.Encode()
		s.signed = []byte(s.query)
	case "form":
		s.body = []byte(url.Values{req.TimeParam: {strconv.FormatInt(epoch, 10)}}.Encode())
		s.signed, s.contentType = s.body, "application/x-www-form-urlencoded"
	case "json":
		b, err := json.Marshal(map[string]int64{req.TimeParam: epoch})
		if err != nil {
			return s, fmt.Errorf("callback parameters: %v", err)
		}
		s.body, s.signed, s.contentType = b, b, "application/json"
	default:
		return s, fmt.Errorf("callback params %q: want query, form or json", req.Params)
	}
	return s, nil
}

func joinQuery(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "&" + b
}

// statusMessage is "<code> <reason>", then the start of the body if any,
// then a note when the redirect limit left a 3xx.
func statusMessage(res *http.Response, body []byte) string {
	msg := strconv.Itoa(res.StatusCode)
	if text := http.StatusText(res.StatusCode); text != "" {
		msg += " " + text
	} else if reason := strings.TrimSpace(strings.TrimPrefix(res.Status, msg)); reason != "" {
		msg += " " + snippet([]byte(reason), 60)
	}
	if isRedirect(res.StatusCode) && res.Header.Get("Location") != "" {
		location := snippet([]byte(res.Header.Get("Location")), maxSnippet)
		if follow, _ := res.Request.Context().Value(followKey{}).(bool); !follow {
			return fmt.Sprintf("%s: redirect not followed (Location: %s); the schedule's callback may set followRedirects", msg, location)
		}
		return fmt.Sprintf("%s: stopped after %d redirects (Location: %s)", msg, maxRedirects, location)
	}
	if s := snippet(body, maxSnippet); s != "" {
		msg += ": " + s
	}
	return msg
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// snippet makes at most n bytes of b fit an API response: valid UTF-8 (a
// rune cut at the end is dropped), control characters as spaces, trimmed,
// with "…" when something was cut.
func snippet(b []byte, n int) string {
	cut := len(b) > n
	if cut {
		b = b[:n]
		// Drop a rune cut in half at the end (at most 3 bytes).
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0; i++ {
			if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
				break
			}
			b = b[:len(b)-1]
		}
	}
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), "\uFFFD"))
	s = strings.TrimSpace(s)
	if cut && s != "" {
		s += "…"
	}
	return s
}

// parseRetryAfter reads delay-seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// transportMessage says what went wrong before any answer came back.
func transportMessage(err error, attemptCtx context.Context, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // drop `Get "http://…": `; the user knows the URL
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var netErr net.Error
	switch {
	case errors.Is(attemptCtx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("callback timed out after %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: " + err.Error()
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset: " + err.Error()
	case errors.As(err, &dnsErr):
		return "host not found: " + err.Error()
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostnameErr):
		return "TLS certificate error: " + err.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without a response: " + err.Error()
	case errors.As(err, &netErr) && netErr.Timeout():
		return "connect timed out: " + err.Error()
	}
	return err.Error()
}

// validHeaderName: an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue: no control characters other than tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// formatScheduled writes a scheduled time in RFC 3339, UTC, with exactly
// three fraction digits when it is not a whole second.
func formatScheduled(t time.Time) string {
	t = t.UTC().Truncate(time.Millisecond)
	if t.Nanosecond() == 0 {
		return t.Format(time.RFC3339)
	}
	return t.Format("2006-01-02T15:04:05.000Z07:00")
}
