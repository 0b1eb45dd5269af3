package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/chronicle-sched/chronicle/bench/internal/harness"
)

const workers = 64

// farFuture keeps created schedules from firing during the create scenarios.
func farFuture() int64 { return time.Now().Unix() + 30*24*3600 }

func (s *suite) startSingle(name string, extra ...string) (*harness.Node, error) {
	n, err := harness.NewNode(s.bin, filepath.Join(s.tmp, name), "node1", extra...)
	if err != nil {
		return nil, err
	}
	if err := n.Start(); err != nil {
		return nil, err
	}
	if _, err := n.WaitHealthy(30 * time.Second); err != nil {
		n.Kill()
		return nil, err
	}
	return n, nil
}

func registerApp(url, app string, partitions int) error {
	return harness.Post(newClient(1), url+"/goscheduler/apps",
		fmt.Sprintf(`{"appId":%q,"partitions":%d,"active":true}`, app, partitions))
}

// create: creates/s and latency of one-time schedules on one node, vs the
// bare-HTTP and raw durable-write ceilings.
func (s *suite) create() error {
	at := farFuture()
	body := func(i int) []byte { return createBody("bench", at, "http://127.0.0.1:9/cb", i) }
	ceil, err := s.createCeiling(bareHTTP, body)
	if err != nil {
		return err
	}
	durableCeil, err := s.createCeiling(func() (string, func(), error) { return durableHTTP(s.tmp) }, body)
	if err != nil {
		return err
	}
	pebbleCeil, err := pebbleSyncedCeiling(s.tmp, workers, s.p.loadFor)
	if err != nil {
		return err
	}
	raftCeil, err := raftApplyCeiling(s.tmp, workers, s.p.loadFor)
	if err != nil {
		return err
	}
	n, err := s.startSingle("create")
	if err != nil {
		return err
	}
	defer n.Kill()
	if err := registerApp(n.URL(), "bench", 8); err != nil {
		return err
	}
	var r loadResult
	profiled := s.profileDuring(n, "create", func() {
		r = postLoad(rawClient, n.URL()+"/goscheduler/schedules", workers, 0, s.p.loadFor, body)
	})
	note := fmt.Sprintf("p50 %v p99 %v (bare HTTP p50 %v p99 %v), %d errors", r.P50.Round(time.Microsecond),
		r.P99.Round(time.Microsecond), ceil.P50.Round(time.Microsecond), ceil.P99.Round(time.Microsecond), r.Errors)
	s.add(Row{Scenario: "create 1 node vs bare HTTP", Figure: r.PerSec, Unit: "creates/s", Ceiling: ceil.PerSec,
		Target: "≥ 25000/s", Verdict: verdict(r.PerSec >= 25000 && r.Errors == 0), Note: note + profiled})
	s.add(Row{Scenario: "create 1 node vs bare HTTP + synced write", Figure: r.PerSec, Unit: "creates/s",
		Ceiling: durableCeil.PerSec, Note: fmt.Sprintf("the bare handler also commits each body in a synced Pebble batch "+
			"(the least a durable create does); its p50 %v p99 %v, %d errors", durableCeil.P50.Round(time.Microsecond),
			durableCeil.P99.Round(time.Microsecond), durableCeil.Errors)})
	s.add(Row{Scenario: "create 1 node vs raw Pebble synced", Figure: r.PerSec, Unit: "creates/s", Ceiling: pebbleCeil,
		Note: "64 writers, one synced 400 B batch each"})
	s.add(Row{Scenario: "create 1 node vs raw Raft Apply", Figure: r.PerSec, Unit: "creates/s", Ceiling: raftCeil,
		Note: "one node, our Pebble raftstore, no-op FSM"})
	return nil
}

// createCeiling starts a ceiling's server, loads it as the create
// scenarios load Chronicle (the same client, workers, duration and bodies)
// and stops it.
func (s *suite) createCeiling(serve func() (url string, stop func(), err error), body func(i int) []byte) (loadResult, error) {
	url, stop, err := serve()
	if err != nil {
		return loadResult{}, err
	}
	defer stop()
	return postLoad(rawClient, url+"/goscheduler/schedules", workers, 0, s.p.loadFor, body), nil
}

// profileDuring runs load while fetching a CPU profile of n, and returns a
// note naming the saved profile.
func (s *suite) profileDuring(n *harness.Node, name string, load func()) string {
	secs := int(s.p.loadFor.Seconds() * 0.8)
	if secs < 1 {
		load()
		return ""
	}
	path := filepath.Join(s.results, name+".pprof")
	done := make(chan error, 2)
	go func() { done <- n.Profile(path, secs) }()
	// A short execution trace beside the profile shows where requests
	// wait, which a CPU profile cannot when the server is not CPU-bound.
	tracePath := filepath.Join(s.results, name+".trace")
	go func() {
		time.Sleep(time.Second)
		done <- n.Trace(tracePath, 2)
	}()
	load()
	if err := errors.Join(<-done, <-done); err != nil {
		logf("profile %s: %v", name, err)
		return ""
	}
	// Pebble's own account of the load: flushes, compactions and their
	// write amplification, which the CPU profile shows only as time.
	storesPath := filepath.Join(s.results, name+"-stores.txt")
	if err := n.StoreMetrics(storesPath); err != nil {
		logf("store metrics %s: %v", name, err)
		return "; profile " + path + ", trace " + tracePath
	}
	return "; profile " + path + ", trace " + tracePath + ", store metrics " + storesPath
}

// clusterCreate: the same load through a follower of a three-node cluster.
func (s *suite) clusterCreate() error {
	nodes, err := harness.StartCluster(s.bin, filepath.Join(s.tmp, "cluster"))
	defer func() {
		for _, n := range nodes {
			n.Kill()
		}
	}()
	if err != nil {
		return err
	}
	leader, err := harness.Leader(nodes)
	if err != nil {
		return err
	}
	var follower *harness.Node
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	if err := registerApp(follower.URL(), "bench", 8); err != nil {
		return err
	}
	at := farFuture()
	body := func(i int) []byte { return createBody("bench", at, "http://127.0.0.1:9/cb", i) }
	ceil, err := s.createCeiling(bareHTTP, body)
	if err != nil {
		return err
	}
	replicatedCeil, err := s.createCeiling(func() (string, func(), error) { return replicatedHTTP(s.tmp) }, body)
	if err != nil {
		return err
	}
	var r loadResult
	// Profile both ends of a forwarded write: the follower the clients
	// call and the leader it forwards to.
	var followerProfiled string
	profiled := s.profileDuring(leader, "cluster-create-leader", func() {
		followerProfiled = s.profileDuring(follower, "cluster-create-follower", func() {
			r = postLoad(rawClient, follower.URL()+"/goscheduler/schedules", workers, 0, s.p.loadFor, body)
		})
	})
	profiled += followerProfiled
	s.add(Row{Scenario: "create 3 nodes via follower vs bare HTTP", Figure: r.PerSec, Unit: "creates/s", Ceiling: ceil.PerSec,
		Target: "≥ 10000/s", Verdict: verdict(r.PerSec >= 10000 && r.Errors == 0),
		Note: fmt.Sprintf("p50 %v p99 %v, %d errors%s", r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Errors, profiled)})
	s.add(Row{Scenario: "create 3 nodes via follower vs bare HTTP + 3-node Raft", Figure: r.PerSec, Unit: "creates/s",
		Ceiling: replicatedCeil.PerSec, Note: fmt.Sprintf("the bare handler on a leader also applies each body through "+
			"three Raft nodes (TCP on loopback, synced raftstores, no-op FSMs, no follower hop); its p50 %v p99 %v, %d errors",
			replicatedCeil.P50.Round(time.Microsecond), replicatedCeil.P99.Round(time.Microsecond), replicatedCeil.Errors)})

	// What one client creating schedules one after another waits for,
	// through the follower and on the leader: a follower answers once it
	// applied the create, and learns of the commit from the leader.
	const oneByOne = 300
	viaFollower := postLoad(rawClient, follower.URL()+"/goscheduler/schedules", 1, oneByOne, time.Minute, body)
	onLeader := postLoad(rawClient, leader.URL()+"/goscheduler/schedules", 1, oneByOne, time.Minute, body)
	s.add(Row{Scenario: "create 3 nodes, one client: latency via follower", Figure: float64(viaFollower.P50.Microseconds()) / 1000, Unit: "ms p50",
		Note: fmt.Sprintf("p99 %v; on the leader p50 %v p99 %v; %d creates each, one at a time, %d errors",
			viaFollower.P99.Round(time.Microsecond), onLeader.P50.Round(time.Microsecond), onLeader.P99.Round(time.Microsecond),
			oneByOne, viaFollower.Errors+onLeader.Errors)})
	return nil
}

// fireStats is what one steady-rate firing run measured.
type fireStats struct {
	rate, seconds, delivered, missing, dups int
	p50, p99, max                           time.Duration
	perSec                                  float64
}

// callbackWorkers is the server's delivery concurrency in the firing
// scenarios, and the bare client's in their ceiling.
const callbackWorkers = 256

// fireLoad creates total runs on a fresh node, run i due at unix
// millisecond dueMs(base, i), with base far enough ahead to create them
// all first, profiles the server while they fire and waits (up to span +
// 15 s after base) for their callbacks.
func (s *suite) fireLoad(name string, total int, span time.Duration, dueMs func(base int64, i int) int64) (map[string][]harness.Hit, int64, error) {
	rc, err := harness.NewReceiver()
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	n, err := s.startSingle(name, "--timer-window", "30s", "--callback-workers", fmt.Sprint(callbackWorkers))
	if err != nil {
		return nil, 0, err
	}
	defer n.Kill()
	if err := registerApp(n.URL(), "fire", 8); err != nil {
		return nil, 0, err
	}
	// Leave time to create everything before the first run falls due.
	base := (time.Now().Unix() + 5 + int64(total/2500)) * 1000
	logf("  creating %d runs, the first due at %s", total, time.UnixMilli(base).Format("15:04:05"))
	cr := postLoad(rawClient, n.URL()+"/goscheduler/schedules", workers, total, time.Hour, func(i int) []byte {
		return createBodyMs("fire", dueMs(base, i), rc.URL+"/f", i)
	})
	if cr.Errors > 0 {
		return nil, 0, fmt.Errorf("%d creates failed", cr.Errors)
	}
	if time.Now().UnixMilli() >= base {
		return nil, 0, fmt.Errorf("creating %d runs took %v: they were due before the load was in", total, cr.Elapsed)
	}
	profiled := make(chan error, 1)
	go func() {
		time.Sleep(time.Until(time.UnixMilli(base)))
		profiled <- n.Profile(filepath.Join(s.results, name+".pprof"), max(1, int(span.Seconds())-1))
	}()
	defer func() { <-profiled }()
	end := time.UnixMilli(base).Add(span + 15*time.Second)
	for time.Now().Before(end) && rc.Count() < total {
		time.Sleep(20 * time.Millisecond)
	}
	return rc.Hits(), base, nil
}

// fireAt creates rate runs per second for seconds, due at evenly spread
// milliseconds, and measures each callback's lateness against its own due
// millisecond.
func (s *suite) fireAt(rate, seconds int) (fireStats, error) {
	st := fireStats{rate: rate, seconds: seconds}
	total := rate * seconds
	hits, base, err := s.fireLoad(fmt.Sprintf("firing-%d-for-%ds", rate, seconds), total, time.Duration(seconds)*time.Second,
		func(base int64, i int) int64 { return base + int64(i)*1000/int64(rate) })
	if err != nil {
		return st, err
	}
	var late []time.Duration
	var last time.Time
	st.missing = total
	for _, hs := range hits {
		st.missing--
		st.dups += len(hs) - 1
		late = append(late, hs[0].At.Sub(hs[0].Scheduled))
		if hs[0].At.After(last) {
			last = hs[0].At
		}
	}
	st.delivered = len(hits)
	st.perSec = float64(len(hits)) / last.Sub(time.UnixMilli(base)).Seconds()
	st.p50, st.p99, st.max = harness.Percentile(late, 50), harness.Percentile(late, 99), harness.Percentile(late, 100)
	return st, nil
}

// fireBurst makes total runs due at the same millisecond (the top of the
// hour every team picks) and measures how fast the backlog drains:
// callbacks/s from the due time to the last callback.
func (s *suite) fireBurst(total int) error {
	ceil, err := bareCallbackCeiling(total, callbackWorkers)
	if err != nil {
		return err
	}
	hits, base, err := s.fireLoad("firing-burst", total, time.Duration(total/5000+1)*time.Second,
		func(base int64, _ int) int64 { return base })
	if err != nil {
		return err
	}
	var last time.Time
	dups := 0
	for _, hs := range hits {
		dups += len(hs) - 1
		if hs[0].At.After(last) {
			last = hs[0].At
		}
	}
	drain := last.Sub(time.UnixMilli(base))
	perSec := float64(len(hits)) / drain.Seconds()
	s.add(Row{Scenario: fmt.Sprintf("firing capacity: %d runs due at once", total), Figure: perSec, Unit: "callbacks/s",
		Ceiling: ceil, Target: "≥ 10000/s", Verdict: verdict(perSec >= 10000 && len(hits) == total),
		Note: fmt.Sprintf("drained in %v; %d delivered, %d missing, %d duplicates; ceiling: a bare client, %d workers, same receiver",
			drain.Round(time.Millisecond), len(hits), total-len(hits), dups, callbackWorkers)})
	return nil
}

// firing: runs due at a steady rate; callbacks/s and lateness, then (full
// profile) the highest rate whose lateness p99 stays under 100 ms.
func (s *suite) firing() error {
	st, err := s.fireAt(s.p.fireRate, s.p.fireSeconds)
	if err != nil {
		return err
	}
	s.add(Row{Scenario: fmt.Sprintf("firing %d/s for %ds: lateness p99", st.rate, st.seconds),
		Figure: float64(st.p99.Milliseconds()), Unit: "ms", Target: "p99 < 50 ms at 5000/s",
		Verdict: verdict(st.p99 < 50*time.Millisecond && st.missing == 0 && st.rate >= 5000),
		Note: fmt.Sprintf("p50 %v max %v; %d delivered, %d missing, %d duplicates", st.p50.Round(time.Millisecond),
			st.max.Round(time.Millisecond), st.delivered, st.missing, st.dups)})
	s.add(Row{Scenario: fmt.Sprintf("firing %d/s: callbacks/s over the span", st.rate), Figure: st.perSec, Unit: "callbacks/s",
		Note: fmt.Sprintf("offered %d/s (capacity: next row)", st.rate)})
	if err := s.fireBurst(s.p.burstRuns); err != nil {
		return err
	}
	best := 0
	for _, rate := range s.p.searchFireRates {
		st, err := s.fireAt(rate, 10)
		if err != nil {
			return err
		}
		logf("  %d/s: p99 %v, %d missing", rate, st.p99, st.missing)
		if st.p99 >= 100*time.Millisecond || st.missing > 0 {
			break
		}
		best = rate
	}
	if len(s.p.searchFireRates) > 0 {
		s.add(Row{Scenario: "highest rate with lateness p99 < 100 ms", Figure: float64(best), Unit: "runs/s",
			Note: fmt.Sprintf("rates tried: %v", s.p.searchFireRates)})
	}
	return nil
}

// recovery: N pending schedules, kill -9, restart.
func (s *suite) recovery() error {
	n, err := s.startSingle("recovery")
	if err != nil {
		return err
	}
	defer n.Kill()
	time.Sleep(time.Second)
	rssEmpty, err := n.RSSBytes()
	if err != nil {
		return err
	}
	if err := registerApp(n.URL(), "rec", 8); err != nil {
		return err
	}
	rc, err := harness.NewReceiver()
	if err != nil {
		return err
	}
	defer rc.Close()
	at := farFuture()
	// Load in quarters and read RSS, and the stores' cache sizes, after
	// each: the cost per pending schedule is the slope of RSS minus those
	// caches over the four points (least squares, so one point caught
	// just before a memtable flush does not decide it).
	type sample struct {
		pending int
		rss     int64
		mem     harness.Memory
	}
	var samples []sample
	var loadRate float64
	for q := 0; q < 4; q++ {
		from, to := s.p.pending*q/4, s.p.pending*(q+1)/4
		logf("  loading pending schedules %d..%d", from, to)
		lr := postLoad(rawClient, n.URL()+"/goscheduler/schedules", workers, to-from, time.Hour, func(i int) []byte {
			return createBody("rec", at+int64((from+i)%86400), rc.URL+"/never", from+i)
		})
		if lr.Errors > 0 {
			return fmt.Errorf("%d creates failed", lr.Errors)
		}
		loadRate = lr.PerSec
		time.Sleep(time.Second)
		rss, err := n.RSSBytes()
		if err != nil {
			return err
		}
		mem, err := n.Memory()
		if err != nil {
			return err
		}
		samples = append(samples, sample{to, rss, mem})
	}
	// One run falls due while the node is down: it must fire on restart.
	due := time.Now().Unix() + 2
	if err := harness.Post(newClient(1), n.URL()+"/goscheduler/schedules", string(createBody("rec", due, rc.URL+"/due", -1))); err != nil {
		return err
	}
	last := samples[len(samples)-1]
	rssLoaded, memLoaded := last.rss, last.mem
	heapPath := filepath.Join(s.results, "recovery-heap.pprof")
	if err := n.HeapProfile(heapPath); err != nil {
		logf("  heap profile: %v", err)
	}
	n.Kill()
	for time.Now().Unix() <= due {
		time.Sleep(50 * time.Millisecond)
	}
	dirBytes := n.DirBytes()
	restart := time.Now()
	if err := n.Start(); err != nil {
		return err
	}
	healthy, err := n.WaitHealthy(2 * time.Minute)
	if err != nil {
		return err
	}
	var firstCallback time.Duration
	for time.Since(restart) < 2*time.Minute {
		if rc.Count() > 0 {
			firstCallback = time.Since(restart)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The block caches (256 MB by default) and memtables fill as the load
	// goes on, whatever the number of schedules: they are the working set
	// the target excludes, and the node reports their size. What grows
	// beyond them is the cost per pending schedule.
	stores := func(m harness.Memory) int64 { return m.BlockCacheBytes + m.MemtableBytes }
	var xs, beyond, raw, heap []float64
	for _, p := range samples {
		xs = append(xs, float64(p.pending))
		beyond = append(beyond, float64(p.rss-stores(p.mem)))
		raw = append(raw, float64(p.rss))
		heap = append(heap, float64(p.mem.GoHeapInuseBytes))
	}
	marginal, marginalRaw, marginalHeap := slope(xs, beyond), slope(xs, raw), slope(xs, heap)
	average := float64(rssLoaded-rssEmpty) / float64(s.p.pending)
	first := samples[0]
	recoveryRow := Row{Scenario: fmt.Sprintf("recovery with %d pending: healthy after restart", s.p.pending), Figure: healthy.Seconds(), Unit: "s",
		Note: fmt.Sprintf("first overdue callback %.2fs after restart; loaded at %.0f creates/s", firstCallback.Seconds(), loadRate)}
	rssRow := Row{Scenario: "RSS per pending schedule, beyond caches (slope)", Figure: marginal, Unit: "B",
		Note: fmt.Sprintf("slope of RSS minus block caches and memtables over 4 points of the load (%d..%d pending); "+
			"RSS empty %d MB, at %d pending %d MB, loaded %d MB, of which caches+memtables %d MB and %d MB, Go heap %d MB and %d MB; "+
			"slope of raw RSS %.0f B, of the Go heap %.0f B per pending; %.0f B per pending on average, caches included; heap profile %s",
			first.pending, last.pending, rssEmpty>>20, first.pending, first.rss>>20, rssLoaded>>20, stores(first.mem)>>20, stores(memLoaded)>>20,
			first.mem.GoHeapInuseBytes>>20, memLoaded.GoHeapInuseBytes>>20, marginalRaw, marginalHeap, average, heapPath)}
	// Both targets are stated for 1M pending schedules: report smaller
	// loads, do not judge them.
	if s.p.pending >= 1_000_000 {
		recoveryRow.Target, recoveryRow.Verdict = "< 5 s with 1M pending", verdict(healthy < 5*time.Second)
		rssRow.Target, rssRow.Verdict = "< 300 B", verdict(marginal < 300)
	} else {
		recoveryRow.Note += "; the target (< 5 s) is for 1M pending: full profile"
		rssRow.Note += "; the target (< 300 B) is for 1M pending: full profile"
	}
	s.add(recoveryRow)
	s.add(rssRow)
	s.add(Row{Scenario: "data dir per schedule", Figure: float64(dirBytes) / float64(s.p.pending), Unit: "B"})
	return nil
}

// apps: what 100 apps of 1024 partitions each cost in Go heap while they
// hold no runs, once registered and after a restart (the leader's take-
// over used to start a timer per partition: 190 MB, 277 MB after a
// restart). Target: under 20 MB, each.
func (s *suite) apps() error {
	const apps, partitions = 100, 1024
	n, err := s.startSingle("apps")
	if err != nil {
		return err
	}
	defer n.Kill()
	time.Sleep(time.Second)
	empty, err := n.LiveMemory()
	if err != nil {
		return err
	}
	for i := 0; i < apps; i++ {
		if err := registerApp(n.URL(), fmt.Sprintf("wide-%03d", i), partitions); err != nil {
			return err
		}
	}
	time.Sleep(time.Second)
	registered, err := n.LiveMemory()
	if err != nil {
		return err
	}
	n.Kill()
	if err := n.Start(); err != nil {
		return err
	}
	if _, err := n.WaitHealthy(time.Minute); err != nil {
		return err
	}
	time.Sleep(time.Second)
	restarted, err := n.LiveMemory()
	if err != nil {
		return err
	}
	mb := func(m harness.Memory) float64 {
		return float64(int64(m.GoHeapInuseBytes)-int64(empty.GoHeapInuseBytes)) / (1 << 20)
	}
	note := fmt.Sprintf("live Go heap (after a GC) minus the empty node's %.1f MB", float64(empty.GoHeapInuseBytes)/(1<<20))
	for _, r := range []struct {
		when string
		m    harness.Memory
	}{{"registered", registered}, {"after a restart (kill -9)", restarted}} {
		s.add(Row{Scenario: fmt.Sprintf("heap of %d apps x %d empty partitions, %s", apps, partitions, r.when),
			Figure: mb(r.m), Unit: "MB", Target: "< 20 MB", Verdict: verdict(mb(r.m) < 20), Note: note})
	}
	return nil
}

// failover runs bench/failover and reports its summary.
func (s *suite) failover() error {
	if s.p.failoverTrials == 0 {
		return nil
	}
	out := filepath.Join(s.tmp, "failover.json")
	cmd := exec.Command("go", "run", "github.com/chronicle-sched/chronicle/bench/failover", "-trials", fmt.Sprint(s.p.failoverTrials), "-bin", s.bin, "-out", out)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	var r struct {
		GapP50Ns, GapMaxNs  int64
		Missing, Duplicates int
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("failover result: %w", err)
	}
	p50, max := time.Duration(r.GapP50Ns), time.Duration(r.GapMaxNs)
	s.add(Row{Scenario: fmt.Sprintf("failover gap over %d trials (p50)", s.p.failoverTrials), Figure: p50.Seconds(), Unit: "s",
		Target: "p50 < 1 s, max < 2 s, 0 missing", Verdict: verdict(p50 < time.Second && max < 2*time.Second && r.Missing == 0),
		Note: fmt.Sprintf("max %.2fs, %d missing, %d duplicates", max.Seconds(), r.Missing, r.Duplicates)})
	return nil
}

// replay runs bench/replay and reports its figure and ceiling.
func (s *suite) replay() error {
	out := filepath.Join(s.tmp, "replay.json")
	cmd := exec.Command("go", "run", "github.com/chronicle-sched/chronicle/bench/replay", "-events", fmt.Sprint(s.p.replayEvents), "-bin", s.bin, "-out", out)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	var r struct {
		Events                                                                int
		ReplayEventsPerSec, ScanCeilingEventsPerSec, WriteCeilingEventsPerSec float64
		Identical                                                             bool
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	s.add(Row{Scenario: fmt.Sprintf("replay %d events vs read+decode", r.Events), Figure: r.ReplayEventsPerSec, Unit: "events/s",
		Ceiling: r.ScanCeilingEventsPerSec, Target: "≥ 200000/s", Verdict: verdict(r.ReplayEventsPerSec >= 200000 && r.Identical),
		Note: fmt.Sprintf("projections identical: %v", r.Identical)})
	s.add(Row{Scenario: fmt.Sprintf("replay %d events vs its writes alone", r.Events), Figure: r.ReplayEventsPerSec, Unit: "events/s",
		Ceiling: r.WriteCeilingEventsPerSec, Note: "the rebuild's projection writes, recorded, into the same store without apply or decoding"})
	return nil
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy = sx+xs[i], sy+ys[i]
		sxx, sxy = sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}
