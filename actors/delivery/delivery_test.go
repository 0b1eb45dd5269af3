package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chronicle-sched/chronicle/internal/freeport"
	"github.com/chronicle-sched/chronicle/internal/syncbuf"
)

// ---- helpers ---------------------------------------------------------------

type call struct {
	Method, RequestURI, Host, Body string
	Header                         http.Header
	At                             time.Time
}

// receiver is a real HTTP server that records every call and the highest
// number of calls it had in progress at once.
type receiver struct {
	*httptest.Server
	mu           sync.Mutex
	calls        []call
	active, peak atomic.Int64
}

// newReceiver answers the n-th call (0-based) with handle.
func newReceiver(t testing.TB, handle func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := rc.active.Add(1)
		defer rc.active.Add(-1)
		for p := rc.peak.Load(); a > p && !rc.peak.CompareAndSwap(p, a); p = rc.peak.Load() {
		}
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.calls)
		rc.calls = append(rc.calls, call{r.Method, r.RequestURI, r.Host, string(b), r.Header.Clone(), time.Now()})
		rc.mu.Unlock()
		handle(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// codes answers the n-th call with codes[n] (the last one repeats) and a
// body padded with spaces, which the error message must trim.
func codes(t testing.TB, cs ...int) *receiver {
	return newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		code := cs[min(n, len(cs)-1)]
		if code == 429 || code == 503 {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(code)
		fmt.Fprint(w, "  \n body of the answer \n ")
	})
}

// gated blocks every call until release is called (or the client gives up).
func gated(t testing.TB) (rc *receiver, release func()) {
	ch := make(chan struct{})
	rc = newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-ch:
		case <-r.Context().Done():
		}
	})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(release) // runs before rc.Close
	return rc, release
}

func (rc *receiver) Calls() []call {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]call(nil), rc.calls...)
}

func quietClient() *Client { return NewClient(ClientOptions{Logger: slog.New(slog.DiscardHandler)}) }

// fast is a policy with millisecond backoffs.
func fast() Policy {
	return Policy{Timeout: 10 * time.Second, MaxAttempts: 3, InitialBackoff: 2 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}
}

var scheduled = time.Date(2023, 11, 14, 23, 13, 20, 987654321, time.FixedZone("CET", 3600))

func request(url, method string) Request {
	return Request{
		ScheduleID: "sched-1", RunID: "run-1", ScheduledTime: scheduled, Method: method, URL: url,
		Headers: map[string]string{"X-Custom": "v", "x-chronicle-run-id": "spoofed", HeaderAttempt: "99"},
		Payload: `{"a":1}`,
	}
}

func waitUntil(t testing.TB, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// returnsWithin waits for ch up to d and reports whether it was closed or
// received from.
func returnsWithin[T any](ch <-chan T, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// ---- Deliver ---------------------------------------------------------------

func TestDeliverSendsWhatTheScheduleSays(t *testing.T) {
	t.Parallel()
	c := quietClient()
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE", "GET", "HEAD", "OPTIONS"} {
		rc := codes(t, 200)
		before := time.Now()
		out := c.Deliver(context.Background(), request(rc.URL+"/hook?x=1&y=two", method), fast())
		got := rc.Calls()
		if !out.Success || out.Canceled || out.Attempts != 1 || out.HTTPStatus != 200 || out.ErrorMessage != "" || len(got) != 1 {
			t.Fatalf("%s: %+v, %d calls", method, out, len(got))
		}
		if out.StartedAt.Before(before) || out.FinishedAt.Before(out.StartedAt) {
			t.Fatalf("%s: times %v..%v", method, out.StartedAt, out.FinishedAt)
		}
		s := got[0]
		wantBody := `{"a":1}`
		if method == "GET" || method == "HEAD" || method == "OPTIONS" {
			wantBody = ""
			if s.Header.Get("Content-Length") != "" || s.Header.Get("Transfer-Encoding") != "" {
				t.Fatalf("%s must not carry a body: %v", method, s.Header)
			}
		}
		h := s.Header
		if s.Method != method || s.RequestURI != "/hook?x=1&y=two" || s.Body != wantBody {
			t.Fatalf("%s: received %s %s %q", method, s.Method, s.RequestURI, s.Body)
		}
		if h.Get("X-Custom") != "v" || h.Get(HeaderScheduleID) != "sched-1" || h.Get("User-Agent") != "Chronicle/1" ||
			h.Get(HeaderScheduledTime) != "2023-11-14T22:13:20.987Z" {
			t.Fatalf("%s: headers %v", method, h)
		}
		// Chronicle's own headers override the user's, once each.
		if v := h.Values(HeaderRunID); len(v) != 1 || v[0] != "run-1" {
			t.Fatalf("%s: run id %q", method, v)
		}
		if v := h.Values(HeaderAttempt); len(v) != 1 || v[0] != "1" {
			t.Fatalf("%s: attempt %q", method, v)
		}
	}
}

func TestUserAgentAndHostFromTheUser(t *testing.T) {
	t.Parallel()
	rc := codes(t, 204)
	r := request(rc.URL, "POST")
	r.Headers = map[string]string{"user-agent": "billing-hooks/2", "Host": "hooks.example.test", "Content-Type": "application/json"}
	if out := quietClient().Deliver(context.Background(), r, fast()); !out.Success || out.HTTPStatus != 204 {
		t.Fatalf("%+v", out)
	}
	s := rc.Calls()[0]
	if s.Header.Get("User-Agent") != "billing-hooks/2" || s.Host != "hooks.example.test" || s.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("UA %q host %q headers %v", s.Header.Get("User-Agent"), s.Host, s.Header)
	}
	custom := NewClient(ClientOptions{UserAgent: "Chronicle-test/9", Logger: slog.New(slog.DiscardHandler)})
	custom.Deliver(context.Background(), request(rc.URL, "GET"), fast())
	if ua := rc.Calls()[1].Header.Get("User-Agent"); ua != "Chronicle-test/9" {
		t.Fatalf("ClientOptions.UserAgent: %q", ua)
	}
}

func TestRetryKeepsTheRunID(t *testing.T) {
	t.Parallel()
	rc := codes(t, 500, 200)
	out := quietClient().Deliver(context.Background(), request(rc.URL, "POST"), fast())
	got := rc.Calls()
	if !out.Success || out.Attempts != 2 || out.HTTPStatus != 200 || out.ErrorMessage != "" || len(got) != 2 {
		t.Fatalf("%+v, %d calls", out, len(got))
	}
	for i, s := range got {
		if s.Header.Get(HeaderRunID) != "run-1" || s.Header.Get(HeaderAttempt) != fmt.Sprint(i+1) ||
			s.Body != `{"a":1}` || s.Header.Get(HeaderScheduledTime) != "2023-11-14T22:13:20.987Z" {
			t.Fatalf("call %d: %+v", i, s)
		}
	}
}

func TestFailureAfterAllAttempts(t *testing.T) {
	t.Parallel()
	rc := codes(t, 500)
	out := quietClient().Deliver(context.Background(), request(rc.URL, "POST"), fast())
	if out.Success || out.Canceled || out.Attempts != 3 || out.HTTPStatus != 500 || len(rc.Calls()) != 3 ||
		out.ErrorMessage != "after 3 attempts: 500 Internal Server Error: body of the answer" {
		t.Fatalf("%+v", out)
	}
	one := fast()
	one.MaxAttempts = 1
	rc = codes(t, 502)
	if out = quietClient().Deliver(context.Background(), request(rc.URL, "POST"), one); out.Attempts != 1 ||
		out.ErrorMessage != "502 Bad Gateway: body of the answer" {
		t.Fatalf("one attempt: %+v", out)
	}
}

func TestClientErrorsAreFinalUnlessConfigured(t *testing.T) {
	t.Parallel()
	c := quietClient()
	rc := codes(t, 404)
	out := c.Deliver(context.Background(), request(rc.URL, "GET"), fast())
	if out.Success || out.Attempts != 1 || out.HTTPStatus != 404 || len(rc.Calls()) != 1 || out.ErrorMessage != "404 Not Found: body of the answer" {
		t.Fatalf("404 must be final: %+v", out)
	}
	p := fast()
	p.RetryOn4xx = true
	rc = codes(t, 404)
	out = c.Deliver(context.Background(), request(rc.URL, "GET"), p)
	if out.Attempts != 3 || len(rc.Calls()) != 3 || out.ErrorMessage != "after 3 attempts: 404 Not Found: body of the answer" {
		t.Fatalf("404 with RetryOn4xx: %+v", out)
	}
	rc = codes(t, 404, 200)
	if out = c.Deliver(context.Background(), request(rc.URL, "GET"), p); !out.Success || out.Attempts != 2 {
		t.Fatalf("404 then 200 with RetryOn4xx: %+v", out)
	}
	rc = codes(t, 408, 200) // 408 is retried without RetryOn4xx
	if out = c.Deliver(context.Background(), request(rc.URL, "GET"), fast()); !out.Success || out.Attempts != 2 {
		t.Fatalf("408: %+v", out)
	}
}

func TestRetryAfterIsHonouredAndCapped(t *testing.T) {
	t.Parallel()
	for _, code := range []int{429, 503} {
		rc := codes(t, code, 200) // Retry-After: 1 (second)
		p := fast()
		p.InitialBackoff, p.MaxBackoff = time.Millisecond, 150*time.Millisecond
		out := quietClient().Deliver(context.Background(), request(rc.URL, "POST"), p)
		got := rc.Calls()
		if !out.Success || out.Attempts != 2 || len(got) != 2 {
			t.Fatalf("%d: %+v", code, out)
		}
		// Without Retry-After the jittered wait would be at most 1ms; with
		// it, exactly MaxBackoff (1s capped at 150ms).
		if gap := got[1].At.Sub(got[0].At); gap < 150*time.Millisecond || gap > 900*time.Millisecond {
			t.Fatalf("%d: second attempt after %v, want 150ms (Retry-After capped at MaxBackoff)", code, gap)
		}
	}
	rc := codes(t, 429)
	p := fast()
	p.MaxAttempts = 2
	if out := quietClient().Deliver(context.Background(), request(rc.URL, "GET"), p); out.ErrorMessage !=
		"after 2 attempts: 429 Too Many Requests: body of the answer" {
		t.Fatalf("429 forever: %+v", out)
	}
}

func TestSlowReceiverTimesOut(t *testing.T) {
	t.Parallel()
	rc, _ := gated(t)
	p := fast()
	p.Timeout, p.MaxAttempts = 100*time.Millisecond, 1
	start := time.Now()
	out := quietClient().Deliver(context.Background(), request(rc.URL, "POST"), p)
	if out.Success || out.Canceled || out.HTTPStatus != 0 || out.ErrorMessage != "callback timed out after 100ms" {
		t.Fatalf("%+v", out)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	p.MaxAttempts = 2
	out = quietClient().Deliver(context.Background(), request(rc.URL, "POST"), p)
	if out.ErrorMessage != "after 2 attempts: callback timed out after 100ms" || len(rc.Calls()) != 3 {
		t.Fatalf("%+v", out)
	}
}

func TestConnectionRefusedIsNamed(t *testing.T) {
	t.Parallel()
	addr, err := freeport.Addr() // below the ephemeral range: nobody takes it meanwhile
	if err != nil {
		t.Fatal(err)
	}
	p := fast()
	p.MaxAttempts = 2
	out := quietClient().Deliver(context.Background(), request("http://"+addr+"/x", "POST"), p)
	want := "after 2 attempts: connection refused: dial tcp " + addr + ": connect: connection refused"
	if out.Success || out.Canceled || out.Attempts != 2 || out.HTTPStatus != 0 || out.ErrorMessage != want {
		t.Fatalf("got %+v\nwant %q", out, want)
	}
}

func TestUnknownHostIsNamed(t *testing.T) {
	t.Parallel()
	p := fast()
	p.MaxAttempts = 1
	out := quietClient().Deliver(context.Background(), request("http://no-such-host.invalid/x", "GET"), p)
	if out.Success || !strings.HasPrefix(out.ErrorMessage, "host not found: dial tcp: lookup no-such-host.invalid") {
		t.Fatalf("%+v", out)
	}
}

func TestRequestsThatCannotWorkAreNotRetried(t *testing.T) {
	t.Parallel()
	rc := codes(t, 200)
	c := quietClient()
	for _, tc := range []struct {
		mutate func(*Request)
		want   string
	}{
		{func(r *Request) { r.URL = "ftp://example.test/x" }, `invalid callback URL "ftp://example.test/x": scheme must be http or https`},
		{func(r *Request) { r.URL = "http:///nohost" }, `invalid callback URL "http:///nohost": no host`},
		{func(r *Request) { r.Headers = map[string]string{"X-Bad": "a\r\nInjected: 1"} }, `invalid value for callback header "X-Bad"`},
		{func(r *Request) { r.Headers = map[string]string{"Bad Name": "v"} }, `invalid callback header name "Bad Name"`},
	} {
		r := request(rc.URL, "POST")
		tc.mutate(&r)
		out := c.Deliver(context.Background(), r, fast())
		if out.Success || out.Attempts != 1 || out.ErrorMessage != tc.want {
			t.Fatalf("got %+v, want %q", out, tc.want)
		}
	}
	if n := len(rc.Calls()); n != 0 {
		t.Fatalf("%d calls reached the receiver", n)
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a":
			http.Redirect(w, r, "/b", http.StatusFound)
		case "/b":
			http.Redirect(w, r, "/ok", http.StatusTemporaryRedirect)
		case "/ok":
			w.WriteHeader(200)
		default: // /loop
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	})
	c := quietClient()
	// Not followed unless the schedule asks: the 3xx is the answer.
	p := fast()
	p.MaxAttempts = 1
	out := c.Deliver(context.Background(), request(rc.URL+"/a", "POST"), p)
	if out.Success || out.HTTPStatus != 302 || !strings.Contains(out.ErrorMessage, "redirect not followed (Location: /b)") ||
		len(rc.Calls()) != 1 {
		t.Fatalf("redirect without followRedirects: %+v, %d calls", out, len(rc.Calls()))
	}
	follow := func(path, method string) Request {
		r := request(rc.URL+path, method)
		r.FollowRedirects = true
		return r
	}
	out = c.Deliver(context.Background(), follow("/a", "POST"), fast())
	if !out.Success || out.Attempts != 1 || len(rc.Calls()) != 4 {
		t.Fatalf("redirect chain: %+v, %d calls", out, len(rc.Calls()))
	}
	for _, s := range rc.Calls() {
		if s.Header.Get(HeaderRunID) != "run-1" {
			t.Fatalf("redirected call lost the run id: %+v", s)
		}
	}
	out = c.Deliver(context.Background(), follow("/loop", "GET"), p)
	if out.Success || out.HTTPStatus != 302 || out.ErrorMessage != "302 Found: stopped after 5 redirects (Location: /loop)" {
		t.Fatalf("redirect loop: %+v", out)
	}
	if n := len(rc.Calls()) - 4; n != 6 { // the call and 5 redirects
		t.Fatalf("redirect loop made %d requests, want 6", n)
	}
}

func TestErrorBodyIsQuotedSafely(t *testing.T) {
	t.Parallel()
	// 150 two-byte runes: byte 200 falls mid-way through a rune only if
	// the start is offset, so lead with one ASCII byte.
	body := "x" + strings.Repeat("é", 150) + "\x00\ttail"
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, body)
		io.WriteString(w, strings.Repeat("z", 200<<10)) // more than the drain limit
	})
	p := fast()
	p.MaxAttempts = 1
	out := quietClient().Deliver(context.Background(), request(rc.URL, "GET"), p)
	const prefix = "500 Internal Server Error: "
	snip := strings.TrimPrefix(out.ErrorMessage, prefix)
	if !strings.HasPrefix(out.ErrorMessage, prefix) || !utf8.ValidString(out.ErrorMessage) ||
		!strings.HasSuffix(snip, "…") || len(strings.TrimSuffix(snip, "…")) > 200 || len(strings.TrimSuffix(snip, "…")) < 198 {
		t.Fatalf("%q (%d bytes)", out.ErrorMessage, len(snip))
	}
	if snippet([]byte("a\x00b\nc\xff"), 200) != "a b c\uFFFD" {
		t.Fatalf("control/invalid bytes: %q", snippet([]byte("a\x00b\nc\xff"), 200))
	}
}

func TestCancelStopsDuringBackoff(t *testing.T) {
	t.Parallel()
	rc := codes(t, 500)
	p := fast()
	p.InitialBackoff, p.MaxBackoff, p.MaxAttempts = time.Hour, time.Hour, 5
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan Outcome, 1)
	go func() { done <- quietClient().Deliver(ctx, request(rc.URL, "POST"), p) }()
	waitUntil(t, "the first attempt", func() bool { return len(rc.Calls()) == 1 })
	// The first attempt has answered (or is about to); cancel during the
	// hour-long backoff.
	cancel()
	start := time.Now()
	var out Outcome
	select {
	case out = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Deliver did not return after cancel")
	}
	if !out.Canceled || out.Success || out.Attempts != 1 || len(rc.Calls()) != 1 || time.Since(start) > time.Second {
		t.Fatalf("%+v after %v", out, time.Since(start))
	}
}

func TestCancelStopsDuringAttempt(t *testing.T) {
	t.Parallel()
	rc, _ := gated(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan Outcome, 1)
	go func() { done <- quietClient().Deliver(ctx, request(rc.URL, "POST"), DefaultPolicy()) }()
	waitUntil(t, "the call to arrive", func() bool { return rc.active.Load() == 1 })
	cancel()
	select {
	case out := <-done:
		if !out.Canceled || out.Success || out.Attempts != 1 {
			t.Fatalf("%+v", out)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Deliver did not return after cancel")
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if out := quietClient().Deliver(ctx, request(rc.URL, "POST"), fast()); !out.Canceled || out.Attempts != 0 {
		t.Fatalf("already canceled: %+v", out)
	}
}

func TestBackoffIsCappedFullJitter(t *testing.T) {
	t.Parallel()
	p := Policy{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for attempt, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		var lo, hi time.Duration = ceiling, 0
		for range 2000 {
			d := backoff(p, attempt)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: %v outside [0, %v]", attempt, d, ceiling)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo > ceiling/4 || hi < ceiling*3/4 {
			t.Fatalf("attempt %d: jitter spans only [%v, %v] of [0, %v]", attempt, lo, hi, ceiling)
		}
	}
	huge := Policy{InitialBackoff: time.Hour, MaxBackoff: 1<<63 - 1}
	if d := backoff(huge, 200); d < 0 {
		t.Fatalf("overflow: %v", d)
	}
	if d := backoff(Policy{MaxBackoff: time.Second}, 3); d != 0 {
		t.Fatalf("zero initial backoff: %v", d)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"1": time.Second, " 120 ": 2 * time.Minute, "0": 0,
		"Fri, 02 Jan 2026 03:04:35 GMT": 30 * time.Second, "Fri, 02 Jan 2026 03:00:00 GMT": 0,
	} {
		if d, ok := parseRetryAfter(in, now); !ok || d != want {
			t.Fatalf("%q: %v %v, want %v", in, d, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "soon", "1.5"} {
		if _, ok := parseRetryAfter(in, now); ok {
			t.Fatalf("%q accepted", in)
		}
	}
}

func TestPolicyDefaults(t *testing.T) {
	t.Parallel()
	if d := DefaultPolicy(); d != (Policy{Timeout: 10 * time.Second, MaxAttempts: 3, InitialBackoff: time.Second, MaxBackoff: 30 * time.Second}) {
		t.Fatalf("%+v", d)
	}
	// A zero Policy still delivers: one attempt with the default timeout.
	rc := codes(t, 500)
	out := quietClient().Deliver(context.Background(), request(rc.URL, "GET"), Policy{})
	if out.Attempts != 1 || out.ErrorMessage != "500 Internal Server Error: body of the answer" {
		t.Fatalf("%+v", out)
	}
}

// ---- Pool ------------------------------------------------------------------

func TestPoolBoundsConcurrency(t *testing.T) {
	t.Parallel()
	const workers, jobs = 4, 20
	rc, release := gated(t)
	pool := NewPool(quietClient(), workers, jobs)
	defer pool.Close()
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range jobs {
		wg.Add(1)
		err := pool.Submit(context.Background(), Job{Req: request(rc.URL, "POST"), Policy: fast(), Done: func(o Outcome) {
			defer wg.Done()
			if o.Success {
				ok.Add(1)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "all workers busy", func() bool { return rc.active.Load() == workers && pool.InFlight() == workers })
	// Give extra deliveries a chance to (wrongly) start before releasing.
	time.Sleep(30 * time.Millisecond)
	if a := rc.active.Load(); a != workers {
		t.Fatalf("%d calls in progress with %d workers", a, workers)
	}
	release()
	wg.Wait()
	if ok.Load() != jobs || rc.peak.Load() != workers || len(rc.Calls()) != jobs {
		t.Fatalf("%d of %d succeeded, %d calls, peak concurrency %d (workers %d)", ok.Load(), jobs, len(rc.Calls()), rc.peak.Load(), workers)
	}
	waitUntil(t, "in-flight to drain", func() bool { return pool.InFlight() == 0 })
}

func TestPoolCloseWaitsForRunningAndCancelsQueued(t *testing.T) {
	t.Parallel()
	rc, release := gated(t)
	pool := NewPool(quietClient(), 2, 10)
	var mu sync.Mutex
	var outcomes []Outcome
	done := func(o Outcome) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }
	for range 7 {
		if err := pool.Submit(context.Background(), Job{Req: request(rc.URL, "POST"), Policy: fast(), Done: done}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "two running calls", func() bool { return rc.active.Load() == 2 })
	closed := make(chan struct{})
	go func() { pool.Close(); close(closed) }()
	waitUntil(t, "Close to begin", func() bool {
		select {
		case <-pool.closed:
			return true
		default:
			return false
		}
	})
	if err := pool.Submit(context.Background(), Job{Req: request(rc.URL, "GET")}); err != ErrPoolClosed {
		t.Fatalf("Submit after Close: %v", err)
	}
	if returnsWithin(closed, 50*time.Millisecond) {
		t.Fatal("Close returned while deliveries were running")
	}
	release()
	if !returnsWithin(closed, 5*time.Second) {
		t.Fatal("Close did not return")
	}
	mu.Lock()
	defer mu.Unlock()
	var ok, canceled int
	for _, o := range outcomes {
		switch {
		case o.Success:
			ok++
		case o.Canceled:
			canceled++
		}
	}
	if len(outcomes) != 7 || ok != 2 || canceled != 5 || len(rc.Calls()) != 2 {
		t.Fatalf("%d outcomes: %d ok, %d canceled; %d calls", len(outcomes), ok, canceled, len(rc.Calls()))
	}
	pool.Close() // idempotent
	if pool.InFlight() != 0 {
		t.Fatalf("in flight after Close: %d", pool.InFlight())
	}
}

func TestPoolSubmitBlocksWhileQueueIsFull(t *testing.T) {
	t.Parallel()
	rc, release := gated(t)
	pool := NewPool(quietClient(), 1, 1)
	defer pool.Close()
	var finished atomic.Int64
	job := Job{Req: request(rc.URL, "POST"), Policy: fast(), Done: func(Outcome) { finished.Add(1) }}
	if err := pool.Submit(context.Background(), job); err != nil { // runs
		t.Fatal(err)
	}
	waitUntil(t, "the first call", func() bool { return rc.active.Load() == 1 })
	if err := pool.Submit(context.Background(), job); err != nil { // queued
		t.Fatal(err)
	}

	// A Submit with a deadline gives up with the deadline's error.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := pool.Submit(ctx, job); err != context.DeadlineExceeded {
		t.Fatalf("deadline: %v", err)
	}
	// A Submit blocks until its ctx is canceled...
	ctx, cancel = context.WithCancel(context.Background())
	canceledErr := make(chan error, 1)
	go func() { canceledErr <- pool.Submit(ctx, job) }()
	// ...or until there is room.
	roomErr := make(chan error, 1)
	go func() { roomErr <- pool.Submit(context.Background(), job) }()
	if returnsWithin(canceledErr, 50*time.Millisecond) || returnsWithin(roomErr, time.Millisecond) {
		t.Fatal("Submit returned while the queue was full")
	}
	cancel()
	if err := <-canceledErr; err != context.Canceled {
		t.Fatalf("canceled: %v", err)
	}
	release()
	if err := <-roomErr; err != nil {
		t.Fatalf("room: %v", err)
	}
	waitUntil(t, "three deliveries", func() bool { return finished.Load() == 3 })
	// A ctx that has already ended is refused even with room in the queue.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := pool.Submit(ctx, job); !errors.Is(err, context.Canceled) {
		t.Fatalf("ended ctx: %v", err)
	}
	if got := len(rc.Calls()); got != 3 {
		t.Fatalf("%d calls, want 3", got)
	}
}

func TestPoolCloseReleasesBlockedSubmit(t *testing.T) {
	t.Parallel()
	rc, release := gated(t)
	pool := NewPool(quietClient(), 1, 1)
	job := Job{Req: request(rc.URL, "POST"), Policy: fast()}
	_ = pool.Submit(context.Background(), job)
	waitUntil(t, "the first call", func() bool { return rc.active.Load() == 1 })
	_ = pool.Submit(context.Background(), job)
	blocked := make(chan error, 1)
	go func() { blocked <- pool.Submit(context.Background(), job) }()
	closed := make(chan struct{})
	go func() { pool.Close(); close(closed) }()
	select {
	case err := <-blocked:
		if err != ErrPoolClosed {
			t.Fatalf("blocked Submit: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close left Submit blocked")
	}
	release()
	if !returnsWithin(closed, 5*time.Second) {
		t.Fatal("Close did not return")
	}
}

func TestPoolCancelsWithTheSubmitContext(t *testing.T) {
	t.Parallel()
	rc, _ := gated(t)
	pool := NewPool(quietClient(), 1, 1)
	defer pool.Close()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan Outcome, 1)
	if err := pool.Submit(ctx, Job{Req: request(rc.URL, "POST"), Policy: DefaultPolicy(), Done: func(o Outcome) { got <- o }}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the call", func() bool { return rc.active.Load() == 1 })
	cancel() // e.g. leadership lost
	select {
	case o := <-got:
		if !o.Canceled {
			t.Fatalf("%+v", o)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("delivery not canceled with its Submit ctx")
	}
	// Job.Ctx, when set, governs instead.
	if err := pool.Submit(context.Background(), Job{Ctx: ctx, Req: request(rc.URL, "POST"), Policy: fast(), Done: func(o Outcome) { got <- o }}); err != nil {
		t.Fatal(err)
	}
	if o := <-got; !o.Canceled || o.Attempts != 0 {
		t.Fatalf("Job.Ctx: %+v", o)
	}
}

func TestPoolSurvivesPanics(t *testing.T) {
	t.Parallel()
	rc := codes(t, 200)
	var logs syncbuf.Buffer
	client := NewClient(ClientOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	pool := NewPool(client, 1, 4) // one worker: it must survive each panic
	defer pool.Close()
	job := func(done func(Outcome)) Job { return Job{Req: request(rc.URL, "POST"), Policy: fast(), Done: done} }

	if err := pool.Submit(context.Background(), job(func(Outcome) { panic("outcome handler bug") })); err != nil {
		t.Fatal(err)
	}
	after := make(chan Outcome, 1)
	if err := pool.Submit(context.Background(), job(func(o Outcome) { after <- o })); err != nil {
		t.Fatal(err)
	}
	if o := <-after; !o.Success {
		t.Fatalf("after a panicking Done: %+v", o)
	}
	waitUntil(t, "the Done panic logged", func() bool {
		return strings.Contains(logs.String(), "panic in delivery outcome handler") && strings.Contains(logs.String(), "outcome handler bug")
	})

	// A panic inside the delivery itself becomes a failed outcome. (The
	// worker's last read of pool.run came before the send on after.)
	pool.run = func(context.Context, Request, Policy) Outcome { panic("delivery bug") }
	if err := pool.Submit(context.Background(), job(func(o Outcome) { after <- o })); err != nil {
		t.Fatal(err)
	}
	o := <-after
	if o.Success || o.Canceled || o.Attempts != 1 || o.ErrorMessage != "internal error delivering callback: delivery bug" ||
		o.StartedAt.IsZero() || o.FinishedAt.Before(o.StartedAt) {
		t.Fatalf("after a panicking delivery: %+v", o)
	}
	if !strings.Contains(logs.String(), "panic delivering callback") {
		t.Fatalf("delivery panic not logged: %s", logs.String())
	}
	// Both panics at once: the worker still lives. (Done hands its
	// outcome over before panicking, which also orders the next write of
	// pool.run after the worker's read.)
	if err := pool.Submit(context.Background(), job(func(o Outcome) {
		defer func() { after <- o }()
		panic("again")
	})); err != nil {
		t.Fatal(err)
	}
	if o := <-after; o.ErrorMessage != "internal error delivering callback: delivery bug" {
		t.Fatalf("double panic: %+v", o)
	}
	pool.run = client.Deliver
	if err := pool.Submit(context.Background(), job(func(o Outcome) { after <- o })); err != nil {
		t.Fatal(err)
	}
	if o := <-after; !o.Success {
		t.Fatalf("worker dead after a double panic: %+v", o)
	}
}

// ---- Benchmarks ------------------------------------------------------------

func BenchmarkPoolDeliver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	client := NewClient(ClientOptions{MaxIdleConnsPerHost: 64, Logger: slog.New(slog.DiscardHandler)})
	pool := NewPool(client, 64, 1024)
	defer pool.Close()
	var wg sync.WaitGroup
	var failed atomic.Int64
	done := func(o Outcome) {
		if !o.Success {
			failed.Add(1)
		}
		wg.Done()
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		wg.Add(1)
		if err := pool.Submit(context.Background(), Job{Req: request(srv.URL, "POST"), Policy: fast(), Done: done}); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d deliveries failed", n)
	}
}
