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
	bare, stop, err := bareHTTP()
	if err != nil {
		return err
	}
	at := farFuture()
	ceil := postLoad(bare+"/goscheduler/schedules", workers, 0, s.p.loadFor, func(i int) []byte { return createBody("bench", at, "http://127.0.0.1:9/cb", i) })
	stop()
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
		r = postLoad(n.URL()+"/goscheduler/schedules", workers, 0, s.p.loadFor, func(i int) []byte { return createBody("bench", at, "http://127.0.0.1:9/cb", i) })
	})
	note := fmt.Sprintf("p50 %v p99 %v (bare HTTP p50 %v p99 %v), %d errors", r.P50.Round(time.Microsecond),
		r.P99.Round(time.Microsecond), ceil.P50.Round(time.Microsecond), ceil.P99.Round(time.Microsecond), r.Errors)
	s.add(Row{Scenario: "create 1 node vs bare HTTP", Figure: r.PerSec, Unit: "creates/s", Ceiling: ceil.PerSec,
		Target: "≥ 25000/s", Verdict: verdict(r.PerSec >= 25000 && r.Errors == 0), Note: note + profiled})
	s.add(Row{Scenario: "create 1 node vs raw Pebble synced", Figure: r.PerSec, Unit: "creates/s", Ceiling: pebbleCeil,
		Note: "64 writers, one synced 400 B batch each"})
	s.add(Row{Scenario: "create 1 node vs raw Raft Apply", Figure: r.PerSec, Unit: "creates/s", Ceiling: raftCeil,
		Note: "one node, our Pebble raftstore, no-op FSM"})
	return nil
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
	_ = os.MkdirAll(s.results, 0o755)
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
	return "; profile " + path + ", trace " + tracePath
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
	bare, stop, err := bareHTTP()
	if err != nil {
		return err
	}
	at := farFuture()
	ceil := postLoad(bare+"/goscheduler/schedules", workers, 0, s.p.loadFor, func(i int) []byte { return createBody("bench", at, "http://127.0.0.1:9/cb", i) })
	stop()
	var r loadResult
	profiled := s.profileDuring(leader, "cluster-create-leader", func() {
		r = postLoad(follower.URL()+"/goscheduler/schedules", workers, 0, s.p.loadFor, func(i int) []byte { return createBody("bench", at, "http://127.0.0.1:9/cb", i) })
	})
	s.add(Row{Scenario: "create 3 nodes via follower vs bare HTTP", Figure: r.PerSec, Unit: "creates/s", Ceiling: ceil.PerSec,
		Target: "≥ 10000/s", Verdict: verdict(r.PerSec >= 10000 && r.Errors == 0),
		Note: fmt.Sprintf("p50 %v p99 %v, %d errors%s", r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Errors, profiled)})
	return nil
}

// fireStats is what one steady-rate firing run measured.
type fireStats struct {
	rate, seconds, delivered, missing, dups int
	p50, p99, max                           time.Duration
	perSec                                  float64
}

// fireAt creates rate runs per second for seconds, due at evenly spread
// milliseconds, on a fresh node, and measures each callback's lateness
// against its own due millisecond.
func (s *suite) fireAt(rate, seconds int) (fireStats, error) {
	st := fireStats{rate: rate, seconds: seconds}
	rc, err := harness.NewReceiver()
	if err != nil {
		return st, err
	}
	defer rc.Close()
	n, err := s.startSingle(fmt.Sprintf("firing-%d", rate), "--timer-window", "30s", "--callback-workers", "256")
	if err != nil {
		return st, err
	}
	defer n.Kill()
	if err := registerApp(n.URL(), "fire", 8); err != nil {
		return st, err
	}
	total := rate * seconds
	// Leave time to create everything before the first run falls due.
	baseMs := (time.Now().Unix() + 5 + int64(total/2500)) * 1000
	logf("  creating %d runs due %d/s from %s", total, rate, time.UnixMilli(baseMs).Format("15:04:05"))
	cr := postLoad(n.URL()+"/goscheduler/schedules", workers, total, time.Hour, func(i int) []byte {
		return createBodyMs("fire", baseMs+int64(i)*1000/int64(rate), rc.URL+"/f", i)
	})
	if cr.Errors > 0 {
		return st, fmt.Errorf("%d creates failed", cr.Errors)
	}
	if time.Now().UnixMilli() >= baseMs {
		return st, fmt.Errorf("creating %d runs took %v: they were due before the load was in", total, cr.Elapsed)
	}
	// Profile the server while it fires (saved beside the results).
	profiled := make(chan error, 1)
	go func() {
		time.Sleep(time.Until(time.UnixMilli(baseMs)))
		profiled <- n.Profile(filepath.Join(s.results, fmt.Sprintf("firing-%d.pprof", rate)), max(1, seconds-2))
	}()
	end := time.UnixMilli(baseMs).Add(time.Duration(seconds)*time.Second + 15*time.Second)
	defer func() { <-profiled }()
	for time.Now().Before(end) && rc.Count() < total {
		time.Sleep(100 * time.Millisecond)
	}
	hits := rc.Hits()
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
	st.perSec = float64(len(hits)) / last.Sub(time.UnixMilli(baseMs)).Seconds()
	st.p50, st.p99, st.max = harness.Percentile(late, 50), harness.Percentile(late, 99), harness.Percentile(late, 100)
	return st, nil
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
		Target: "≥ 10000/s", Verdict: verdict(st.perSec >= 10000), Note: fmt.Sprintf("offered %d/s", st.rate)})
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
	logf("  loading %d pending schedules", s.p.pending)
	lr := postLoad(n.URL()+"/goscheduler/schedules", workers, s.p.pending, time.Hour, func(i int) []byte {
		return createBody("rec", at+int64(i%86400), rc.URL+"/never", i)
	})
	if lr.Errors > 0 {
		return fmt.Errorf("%d creates failed", lr.Errors)
	}
	// One run falls due while the node is down: it must fire on restart.
	due := time.Now().Unix() + 2
	if err := harness.Post(newClient(1), n.URL()+"/goscheduler/schedules", string(createBody("rec", due, rc.URL+"/due", -1))); err != nil {
		return err
	}
	time.Sleep(time.Second)
	rssLoaded, err := n.RSSBytes()
	if err != nil {
		return err
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
	perPending := float64(rssLoaded-rssEmpty) / float64(s.p.pending)
	s.add(Row{Scenario: fmt.Sprintf("recovery with %d pending: healthy after restart", s.p.pending), Figure: healthy.Seconds(), Unit: "s",
		Target: "< 5 s (1M pending)", Verdict: verdict(healthy < 5*time.Second),
		Note: fmt.Sprintf("first overdue callback %.2fs after restart; loaded at %.0f creates/s", firstCallback.Seconds(), lr.PerSec)})
	s.add(Row{Scenario: "RSS per pending schedule", Figure: perPending, Unit: "B", Target: "< 300 B", Verdict: verdict(perPending < 300),
		Note: fmt.Sprintf("RSS empty %d MB, loaded %d MB", rssEmpty>>20, rssLoaded>>20)})
	s.add(Row{Scenario: "data dir per schedule", Figure: float64(dirBytes) / float64(s.p.pending), Unit: "B"})
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
		Events                                      int
		ReplayEventsPerSec, ScanCeilingEventsPerSec float64
		Identical                                   bool
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	s.add(Row{Scenario: fmt.Sprintf("replay %d events vs read+decode", r.Events), Figure: r.ReplayEventsPerSec, Unit: "events/s",
		Ceiling: r.ScanCeilingEventsPerSec, Target: "≥ 200000/s", Verdict: verdict(r.ReplayEventsPerSec >= 200000 && r.Identical),
		Note: fmt.Sprintf("projections identical: %v", r.Identical)})
	return nil
}
