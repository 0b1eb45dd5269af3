package main

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rssBytes is a process's resident set size, from /proc.
func rssBytes(t testing.TB, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read RSS: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// Receivers that answer with a 1 GB body, or never answer, do not grow
// Chronicle's memory: it reads a capped part of each answer and gives up
// on a silent one at the callback timeout. The node is the real binary;
// its RSS is sampled throughout and compared with its level before.
func TestHostileReceiversDoNotGrowMemory(t *testing.T) {
	const gig = 1 << 30
	var streamed atomic.Int64
	chunk := make([]byte, 64<<10)
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(gig))
		w.WriteHeader(200)
		for sent := 0; sent < gig; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the caller stopped reading
			}
			streamed.Add(int64(len(chunk)))
		}
	}))
	defer huge.Close()
	release := make(chan struct{})
	var hangOnce sync.Once
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer func() { hangOnce.Do(func() { close(release) }); silent.Close() }()
	rc := newReceiver(t)

	cfg := testConfig(t, t.TempDir())
	tn := startChild(t, cfg, nil, "--callback-timeout", "3s", "--callback-attempts", "2", "--callback-backoff", "100ms")
	pid := tn.proc.Process.Pid
	tn.registerApp("hostile", 4)
	// Warm up: the delivery pool, connections, the timers.
	var warm []string
	for i := range 50 {
		warm = append(warm, tn.createOnce("hostile", time.Now().Unix()+1, rc.url(fmt.Sprintf("/warm/%d", i)), "POST", "w").ScheduleID)
	}
	for _, id := range warm {
		tn.waitStatus(id, "SUCCESS", 15*time.Second)
	}
	time.Sleep(500 * time.Millisecond)
	before := rssBytes(t, pid)

	due := time.Now().Unix() + 2
	var bigs, silents []string
	for i := range 20 {
		bigs = append(bigs, tn.createOnce("hostile", due, huge.URL+fmt.Sprintf("/big/%d", i), "GET", "").ScheduleID)
		silents = append(silents, tn.createOnce("hostile", due, silent.URL+fmt.Sprintf("/silent/%d", i), "POST", "").ScheduleID)
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := rssBytes(t, pid); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	for _, id := range bigs {
		s := tn.waitStatus(id, "SUCCESS", 30*time.Second)
		if s.Status != "SUCCESS" {
			t.Fatalf("big answer: %+v", s)
		}
	}
	for _, id := range silents {
		s := tn.waitStatus(id, "FAILURE", 30*time.Second)
		if !strings.Contains(s.ErrorMessage, "timed out") {
			t.Fatalf("a silent receiver's run ended with %q, want a timeout", s.ErrorMessage)
		}
	}
	close(stop)
	<-sampled
	growth := peak.Load() - before
	t.Logf("RSS before %.1f MB, peak %.1f MB while 20 runs met 1 GB answers and 20 met silence (grew %.1f MB); the big receiver sent %.1f MB in all before being cut off",
		float64(before)/(1<<20), float64(peak.Load())/(1<<20), float64(growth)/(1<<20), float64(streamed.Load())/(1<<20))
	if growth > 50<<20 {
		t.Fatalf("RSS grew by %.1f MB, want at most 50 MB", float64(growth)/(1<<20))
	}
	if streamed.Load() > 20*64<<20 {
		t.Fatalf("Chronicle took %d MB of the big answers: it reads more than a capped part", streamed.Load()>>20)
	}
}
