package delivery

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type seen struct {
	method, body, runID, attempt, schedID, schedTime, custom, ua string
}

// server answers with codes[i] for the i-th call (the last code repeats).
func server(t *testing.T, codes ...int) (*httptest.Server, func() []seen) {
	var mu sync.Mutex
	var calls []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		n := len(calls)
		calls = append(calls, seen{r.Method, string(b), r.Header.Get(HeaderRunID), r.Header.Get(HeaderAttempt),
			r.Header.Get(HeaderScheduleID), r.Header.Get(HeaderScheduledTime), r.Header.Get("X-Custom"), r.Header.Get("User-Agent")})
		mu.Unlock()
		code := codes[min(n, len(codes)-1)]
		if code == 429 || code == 503 {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(code)
		fmt.Fprint(w, "  body of the answer  ")
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen { mu.Lock(); defer mu.Unlock(); return append([]seen(nil), calls...) }
}

func fast() Policy {
	return Policy{Timeout: time.Second, MaxAttempts: 3, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
}

func req(url, method string) Request {
	return Request{ScheduleID: "s1", RunID: "run-1", ScheduledTime: time.Unix(1700000000, 0), Method: method, URL: url,
		Headers: map[string]string{"X-Custom": "v", HeaderRunID: "spoofed"}, Payload: `{"a":1}`}
}

func TestDeliverSendsWhatTheScheduleSays(t *testing.T) {
	c := NewClient(ClientOptions{})
	for _, method := range []string{"POST", "PUT", "GET"} {
		srv, calls := server(t, 200)
		out := c.Deliver(context.Background(), req(srv.URL+"/hook", method), fast())
		got := calls()
		if !out.Success || out.Attempts != 1 || out.HTTPStatus != 200 || out.ErrorMessage != "" || len(got) != 1 {
			t.Fatalf("%s: %+v, %d calls", method, out, len(got))
		}
		wantBody := `{"a":1}`
		if method == "GET" {
			wantBody = ""
		}
		s := got[0]
		if s.method != method || s.body != wantBody || s.runID != "run-1" || s.attempt != "1" || s.schedID != "s1" ||
			s.schedTime != "2023-11-14T22:13:20Z" || s.custom != "v" || s.ua != "Chronicle/1" {
			t.Fatalf("%s: received %+v", method, s)
		}
	}
}

func TestRetriesKeepTheRunID(t *testing.T) {
	c := NewClient(ClientOptions{})
	srv, calls := server(t, 500, 200)
	out := c.Deliver(context.Background(), req(srv.URL, "POST"), fast())
	got := calls()
	if !out.Success || out.Attempts != 2 || len(got) != 2 || got[0].runID != got[1].runID || got[1].attempt != "2" {
		t.Fatalf("%+v %+v", out, got)
	}
}

func TestFinalFailures(t *testing.T) {
	c := NewClient(ClientOptions{})
	srv, calls := server(t, 500)
	out := c.Deliver(context.Background(), req(srv.URL, "GET"), fast())
	if out.Success || out.Attempts != 3 || len(calls()) != 3 ||
		out.ErrorMessage != "after 3 attempts: 500 Internal Server Error: body of the answer" {
		t.Fatalf("500 forever: %+v", out)
	}
	srv, calls = server(t, 404)
	out = c.Deliver(context.Background(), req(srv.URL, "GET"), fast())
	if out.Attempts != 1 || out.ErrorMessage != "404 Not Found: body of the answer" || len(calls()) != 1 {
		t.Fatalf("404 must be final: %+v", out)
	}
	p := fast()
	p.RetryOn4xx = true
	srv, calls = server(t, 404)
	if out = c.Deliver(context.Background(), req(srv.URL, "GET"), p); out.Attempts != 3 || len(calls()) != 3 {
		t.Fatalf("404 with RetryOn4xx: %+v", out)
	}
	srv, calls = server(t, 429, 200)
	start := time.Now()
	out = c.Deliver(context.Background(), req(srv.URL, "GET"), fast())
	if !out.Success || len(calls()) != 2 || time.Since(start) > 2*time.Second {
		t.Fatalf("429 must be retried (Retry-After capped at MaxBackoff): %+v in %v", out, time.Since(start))
	}
}

func TestTransportErrorsNameTheProblem(t *testing.T) {
	c := NewClient(ClientOptions{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	p := fast()
	p.Timeout, p.MaxAttempts = 100*time.Millisecond, 1
	if out := c.Deliver(context.Background(), req(slow.URL, "GET"), p); out.ErrorMessage != "callback timed out after 100ms" {
		t.Fatalf("timeout: %+v", out)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	out := c.Deliver(context.Background(), req("http://"+addr+"/x", "GET"), p)
	if !strings.HasPrefix(out.ErrorMessage, "connection refused: ") || out.Success {
		t.Fatalf("refused: %+v", out)
	}
}

func TestCancelStopsDuringBackoff(t *testing.T) {
	c := NewClient(ClientOptions{})
	srv, _ := server(t, 500)
	p := fast()
	p.InitialBackoff, p.MaxBackoff, p.MaxAttempts = 10*time.Second, 10*time.Second, 5
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	out := c.Deliver(ctx, req(srv.URL, "GET"), p)
	if !out.Canceled || time.Since(start) > 2*time.Second {
		t.Fatalf("cancel during backoff: %+v after %v", out, time.Since(start))
	}
}

func TestPoolBoundsConcurrency(t *testing.T) {
	var now, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		now.Add(-1)
	}))
	defer srv.Close()
	pool := NewPool(NewClient(ClientOptions{}), 4, 8)
	var done sync.WaitGroup
	var ok atomic.Int64
	for i := 0; i < 40; i++ {
		done.Add(1)
		err := pool.Submit(context.Background(), Job{Req: req(srv.URL, "GET"), Policy: fast(), Done: func(o Outcome) {
			if o.Success {
				ok.Add(1)
			}
			done.Done()
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	done.Wait()
	if ok.Load() != 40 || peak.Load() > 4 || peak.Load() < 2 {
		t.Fatalf("%d succeeded, peak concurrency %d (workers 4)", ok.Load(), peak.Load())
	}
	pool.Close()
	if err := pool.Submit(context.Background(), Job{Req: req(srv.URL, "GET")}); err != ErrPoolClosed {
		t.Fatalf("submit after close: %v", err)
	}
}

func TestPoolSubmitHonoursContextAndSurvivesPanics(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	pool := NewPool(NewClient(ClientOptions{}), 1, 1)
	defer pool.Close()
	panicked := make(chan struct{})
	_ = pool.Submit(context.Background(), Job{Req: req(srv.URL, "GET"), Policy: fast(), Done: func(Outcome) {
		defer close(panicked)
		panic("outcome handler bug")
	}})
	_ = pool.Submit(context.Background(), Job{Req: req(srv.URL, "GET"), Policy: fast()}) // fills the queue
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := pool.Submit(ctx, Job{Req: req(srv.URL, "GET"), Policy: fast()}); err != context.DeadlineExceeded {
		t.Fatalf("submit to a full queue: %v", err)
	}
	block <- struct{}{} // release the first call; its Done panics, the worker survives
	<-panicked
	block <- struct{}{}
	waitUntil(t, func() bool { return pool.InFlight() == 0 })
}

func waitUntil(t *testing.T, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !f(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
	}
}

func BenchmarkPoolDeliver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	pool := NewPool(NewClient(ClientOptions{MaxIdleConnsPerHost: 64}), 64, 1024)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < b.N; i++ {
		wg.Add(1)
		_ = pool.Submit(context.Background(), Job{Req: req(srv.URL, "POST"), Policy: fast(), Done: func(Outcome) { wg.Done() }})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
	pool.Close()
}
