package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronicle-sched/chronicle/bench/internal/harness"
)

// loadResult is what a closed-loop load of POSTs measured.
type loadResult struct {
	OK      int           `json:"ok"`
	Errors  int           `json:"errors"`
	PerSec  float64       `json:"perSec"`
	P50     time.Duration `json:"p50Ns"`
	P99     time.Duration `json:"p99Ns"`
	Elapsed time.Duration `json:"elapsedNs"`
}

// newClient is Go's client with a keep-alive connection per worker: the
// goClient load and the harness's single requests (registering apps).
func newClient(workers int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: workers, MaxIdleConnsPerHost: workers, IdleConnTimeout: time.Minute}}
}

// clientKind picks the load client: the lean one for the server
// scenarios and their ceilings, Go's own where a ceiling stands for what
// the server's Go client can do.
type clientKind int

const (
	rawClient clientKind = iota // rawPoster: one keep-alive connection per worker
	goClient                    // net/http.Client, shared by the workers
)

// sender posts one body and returns the answer's status code.
type sender func(body []byte) (int, error)

func newSender(kind clientKind, url string, shared *http.Client) (sender, func(), error) {
	if kind == rawClient {
		p, err := newRawPoster(url)
		if err != nil {
			return nil, nil, err
		}
		return p.post, p.close, nil
	}
	return func(body []byte) (int, error) {
		res, err := shared.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}, func() {}, nil
}

// postLoad runs `workers` keep-alive clients of the given kind, each
// POSTing body(i) to url back to back, until total requests were sent
// (total > 0) or d passed.
func postLoad(kind clientKind, url string, workers, total int, d time.Duration, body func(i int) []byte) loadResult {
	var client *http.Client // shared by goClient workers; rawClient workers own a connection
	if kind == goClient {
		client = newClient(workers)
	}
	var next atomic.Int64
	var okN, errN atomic.Int64
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	var firstErr atomic.Value
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			send, closeSender, err := newSender(kind, url, client)
			if err != nil {
				errN.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			defer closeSender()
			for {
				i := int(next.Add(1)) - 1
				if (total > 0 && i >= total) || (total == 0 && time.Now().After(deadline)) {
					return
				}
				t0 := time.Now()
				status, err := send(body(i))
				if err == nil && status/100 != 2 {
					err = fmt.Errorf("HTTP %d", status)
				}
				if err != nil {
					errN.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
				okN.Add(1)
			}
		}(w)
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	el := time.Since(start)
	r := loadResult{OK: int(okN.Load()), Errors: int(errN.Load()), Elapsed: el,
		PerSec: float64(okN.Load()) / el.Seconds(), P50: harness.Percentile(all, 50), P99: harness.Percentile(all, 99)}
	if e := firstErr.Load(); e != nil {
		logf("  %d errors, first: %s", r.Errors, e)
	}
	return r
}

// createBody is a one-time schedule create for app at unix second at.
func createBody(app string, at int64, url string, i int) []byte {
	return []byte(fmt.Sprintf(`{"appId":%q,"payload":"{\"n\":%d}","scheduleTime":%d,"callback":{"type":"http","details":{"url":%q,"method":"POST","headers":{}}}}`,
		app, i, at, url))
}

// createBodyMs is a one-time schedule create due at unix millisecond atMs.
func createBodyMs(app string, atMs int64, url string, i int) []byte {
	return []byte(fmt.Sprintf(`{"appId":%q,"payload":"{\"n\":%d}","scheduleTimeMs":%d,"callback":{"type":"http","details":{"url":%q,"method":"POST","headers":{}}}}`,
		app, i, atMs, url))
}
