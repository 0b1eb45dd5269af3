// Command soak runs one node of the real binary at a steady mix for a long
// time (an hour by default) and reports, every minute, what would show a
// leak: RSS, the Go heap, goroutines, open files, the data dir, and the
// firing lateness of the minute. At the end it flags any series that is
// still growing over the last third of the run (a leak levels off never;
// caches and memtables level off).
//
//	go run ./bench/soak -minutes 60 [-rate 1000]
//
// The mix: one-time schedules created at -rate per second, each due 20 s
// later (so -rate runs fire every second once it is under way), a cron
// firing every second, and a read of a recent schedule for every ten
// creates. Results in bench/results/soak.json; figures go into
// bench/RESULTS.md by hand.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronicle-sched/chronicle/bench/internal/harness"
)

// sample is one minute of the soak.
type sample struct {
	Minute     int     `json:"minute"`
	RSSMB      float64 `json:"rssMB"`
	HeapMB     float64 `json:"heapMB"`
	Goroutines int     `json:"goroutines"`
	OpenFiles  int     `json:"openFiles"`
	DataDirMB  float64 `json:"dataDirMB"`
	// What the data dir holds: the state store (event log and
	// projections), the Raft log store, and the Raft snapshots (full
	// copies of the state, two kept).
	StateMB     float64 `json:"stateMB"`
	RaftLogMB   float64 `json:"raftLogMB"`
	SnapshotsMB float64 `json:"snapshotsMB"`
	// What RSS holds besides the Go heap: the Pebble block caches and
	// memtables (bounded by configuration).
	BlockCacheMB float64 `json:"blockCacheMB"`
	MemtablesMB  float64 `json:"memtablesMB"`
	Created      int64   `json:"created"` // this minute
	Fired        int     `json:"fired"`   // first deliveries this minute
	LatenessP50  float64 `json:"latenessP50Ms"`
	LatenessP99  float64 `json:"latenessP99Ms"`
	Errors       int64   `json:"errors"` // failed requests this minute
}

func main() {
	minutes := flag.Int("minutes", 60, "how long to run")
	rate := flag.Int("rate", 1000, "one-time schedules created (and fired) per second")
	bin := flag.String("bin", "bin/chronicle", "chronicle binary (built if missing)")
	out := flag.String("out", "bench/results/soak.json", "where the samples go")
	flag.Parse()
	if err := run(*minutes, *rate, *bin, *out); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(minutes, rate int, bin, out string) error {
	root, err := os.MkdirTemp("", "chronicle-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	path, err := harness.EnsureBinary(bin, root)
	if err != nil {
		return err
	}
	node, err := harness.NewNode(path, root, "soak1", "--event-retention", "10m", "--retention-check-interval", "30s")
	if err != nil {
		return err
	}
	if err := node.Start(); err != nil {
		return err
	}
	defer node.Kill()
	if _, err := node.WaitHealthy(30 * time.Second); err != nil {
		return err
	}
	rc, err := newLatencyReceiver()
	if err != nil {
		return err
	}
	defer rc.close()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	if err := harness.Post(client, node.URL()+"/goscheduler/apps", `{"appId":"soak","partitions":8}`); err != nil {
		return err
	}
	if err := harness.Post(client, node.URL()+"/goscheduler/schedules", fmt.Sprintf(`{"appId":"soak","payload":"c",
		"cronExpression":"* * * * * *","callback":{"type":"http","details":{"url":%q,"method":"POST"}}}`, rc.url+"/cron")); err != nil {
		return err
	}
	var created, errs atomic.Int64
	var recent atomic.Value // a schedule id to read back
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const workers = 8
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tick := time.NewTicker(time.Second / time.Duration(max(rate/workers, 1)))
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				due := time.Now().Add(20 * time.Second).Unix()
				body := fmt.Sprintf(`{"appId":"soak","payload":"p","scheduleTime":%d,"callback":{"type":"http","details":{"url":%q,"method":"POST"}}}`,
					due, rc.url+"/o")
				res, err := client.Post(node.URL()+"/goscheduler/schedules", "application/json", strings.NewReader(body))
				if err != nil {
					errs.Add(1)
					continue
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					errs.Add(1)
					continue
				}
				created.Add(1)
				var a struct {
					Data struct {
						Schedule struct {
							ScheduleID string `json:"scheduleId"`
						} `json:"schedule"`
					} `json:"data"`
				}
				if json.Unmarshal(b, &a) == nil && n%10 == 0 {
					if id, ok := recent.Load().(string); ok {
						if r, err := client.Get(node.URL() + "/goscheduler/schedules/" + id); err == nil {
							_, _ = io.Copy(io.Discard, r.Body)
							r.Body.Close()
						} else {
							errs.Add(1)
						}
					}
					recent.Store(a.Data.Schedule.ScheduleID)
				}
			}
		}(w)
	}
	var samples []sample
	for m := 1; m <= minutes; m++ {
		time.Sleep(time.Minute)
		s := sample{Minute: m, Created: created.Swap(0), Errors: errs.Swap(0)}
		if rss, err := node.RSSBytes(); err == nil {
			s.RSSMB = float64(rss) / 1e6
		}
		s.DataDirMB = float64(node.DirBytes()) / 1e6
		s.StateMB = float64(node.SubdirBytes("state")) / 1e6
		s.RaftLogMB = float64(node.SubdirBytes("raft")) / 1e6
		s.SnapshotsMB = float64(node.SubdirBytes("snapshots")) / 1e6
		s.OpenFiles = openFiles(node.PID())
		s.Goroutines = goroutines(node)
		if mem, err := node.Memory(); err == nil {
			s.HeapMB = float64(mem.GoHeapInuseBytes) / 1e6
			s.BlockCacheMB = float64(mem.BlockCacheBytes) / 1e6
			s.MemtablesMB = float64(mem.MemtableBytes) / 1e6
		}
		late := rc.drain()
		s.Fired = len(late)
		s.LatenessP50, s.LatenessP99 = ms(harness.Percentile(late, 50)), ms(harness.Percentile(late, 99))
		samples = append(samples, s)
		fmt.Printf("minute %3d: RSS %6.1f MB (heap %5.1f, block cache %5.1f, memtables %5.1f), %5d goroutines, %4d files, "+
			"data %7.1f MB (state %7.1f, raft log %6.1f, snapshots %7.1f), %6d created, %6d fired, lateness p50 %5.1f ms p99 %6.1f ms, %d errors\n",
			s.Minute, s.RSSMB, s.HeapMB, s.BlockCacheMB, s.MemtablesMB, s.Goroutines, s.OpenFiles,
			s.DataDirMB, s.StateMB, s.RaftLogMB, s.SnapshotsMB, s.Created, s.Fired, s.LatenessP50, s.LatenessP99, s.Errors)
	}
	close(stop)
	wg.Wait()
	for _, line := range growth(samples) {
		fmt.Println(line)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err == nil {
		b, _ := json.MarshalIndent(map[string]any{"machine": harness.ThisMachine(), "rate": rate, "samples": samples}, "", "  ")
		_ = os.WriteFile(out, b, 0o644)
	}
	return nil
}

// growth reports, for each series, its start, end and slope over the last
// third of the run, and flags one still rising by more than 10% an hour
// there (a leak: caches, memtables and a bounded retention level off).
func growth(samples []sample) []string {
	if len(samples) < 6 {
		return []string{"too short to judge growth (want at least 6 minutes)"}
	}
	series := map[string]func(sample) float64{
		"RSS MB":      func(s sample) float64 { return s.RSSMB },
		"heap MB":     func(s sample) float64 { return s.HeapMB },
		"goroutines":  func(s sample) float64 { return float64(s.Goroutines) },
		"open files":  func(s sample) float64 { return float64(s.OpenFiles) },
		"data dir MB": func(s sample) float64 { return s.DataDirMB },
		"state MB":    func(s sample) float64 { return s.StateMB },
	}
	var names []string
	for n := range series {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	tail := samples[len(samples)*2/3:]
	for _, name := range names {
		f := series[name]
		slope := slopePerMinute(tail, f)
		end := f(samples[len(samples)-1])
		verdict := "levels off"
		if end > 0 && slope*60 > 0.10*end {
			verdict = "STILL GROWING"
		}
		out = append(out, fmt.Sprintf("%-12s start %8.1f end %8.1f, last third %+.3f/min: %s", name, f(samples[0]), end, slope, verdict))
	}
	return out
}

// slopePerMinute is the least-squares slope of f over samples.
func slopePerMinute(samples []sample, f func(sample) float64) float64 {
	var sx, sy, sxx, sxy float64
	n := float64(len(samples))
	for _, s := range samples {
		x, y := float64(s.Minute), f(s)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	if d := n*sxx - sx*sx; d != 0 {
		return (n*sxy - sx*sy) / d
	}
	return 0
}

func openFiles(pid int) int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(entries)
}

// goroutines reads the node's goroutine count from its pprof endpoint.
func goroutines(n *harness.Node) int {
	res, err := http.Get("http://" + n.PprofAddr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	line, _ := io.ReadAll(io.LimitReader(res.Body, 200))
	first, _, _ := bytes.Cut(line, []byte("\n"))
	v, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(string(first), "goroutine profile: total")))
	if err != nil {
		return -1
	}
	return v
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// latencyReceiver records the lateness of each run's first delivery.
type latencyReceiver struct {
	url  string
	srv  *http.Server
	mu   sync.Mutex
	seen map[string]bool
	late []time.Duration
}

func newLatencyReceiver() (*latencyReceiver, error) {
	rc := &latencyReceiver{seen: map[string]bool{}}
	rc.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		_, _ = io.Copy(io.Discard, r.Body)
		due, err := time.Parse(time.RFC3339Nano, r.Header.Get("X-Chronicle-Scheduled-Time"))
		id := r.Header.Get("X-Chronicle-Run-Id")
		rc.mu.Lock()
		if err == nil && !rc.seen[id] {
			rc.seen[id] = true
			rc.late = append(rc.late, now.Sub(due))
		}
		rc.mu.Unlock()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc.url = "http://" + ln.Addr().String()
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

// drain returns the lateness recorded since the last drain, and forgets
// the runs seen more than a minute ago.
func (rc *latencyReceiver) drain() []time.Duration {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := rc.late
	rc.late = nil
	rc.seen = map[string]bool{} // a re-delivery after a minute is not expected on a quiet single node
	return out
}

func (rc *latencyReceiver) close() { _ = rc.srv.Close() }
