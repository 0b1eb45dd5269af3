// Command failover measures how long firing stops when the leader of a
// three-node cluster is killed, as a receiver of callbacks feels it.
//
//	go run ./bench/failover [-trials 5] [-quick] [-bin bin/chronicle] [-out bench/results/failover.json]
//
// Each trial starts three real chronicle processes on 127.0.0.1, creates
// one-time schedules due every 10 ms (scheduleTimeMs) through a follower,
// SIGKILLs the leader in the middle of the firing span and waits for
// every run. It reports the gap between the last callback before
// the kill and the first after it, the time from the kill to that first
// callback, runs never delivered (must be 0) and duplicate deliveries
// (allowed, but they must carry the run's own run id).
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
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chronicle-sched/chronicle/internal/freeport"
)

type trialResult struct {
	Gap        time.Duration `json:"gapNs"`
	Resume     time.Duration `json:"resumeNs"`
	Runs       int           `json:"runs"`
	Missing    int           `json:"missing"`
	Duplicates int           `json:"duplicates"`
	Mismatched int           `json:"mismatchedRunIds"`
}

func main() {
	bin := flag.String("bin", "bin/chronicle", "chronicle binary (built if missing)")
	trials := flag.Int("trials", 5, "number of trials")
	quick := flag.Bool("quick", false, "2 short trials (smoke)")
	out := flag.String("out", "bench/results/failover.json", "JSON result file")
	flag.Parse()
	span := 6
	if *quick {
		*trials, span = 2, 4
	}
	path, err := ensureBinary(*bin)
	if err != nil {
		fail(err)
	}
	var results []trialResult
	for i := 1; i <= *trials; i++ {
		r, err := runTrial(path, span)
		if err != nil {
			fail(fmt.Errorf("trial %d: %w", i, err))
		}
		results = append(results, r)
		fmt.Printf("trial %d/%d: gap %v, resumed %v after the kill, %d runs, %d missing, %d duplicates\n",
			i, *trials, r.Gap.Round(time.Millisecond), r.Resume.Round(time.Millisecond), r.Runs, r.Missing, r.Duplicates)
	}
	report(results, *out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "failover:", err)
	os.Exit(1)
}

func ensureBinary(bin string) (string, error) {
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	dir, err := os.MkdirTemp("", "chronicle-bench")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "chronicle")
	if out, err := exec.Command("go", "build", "-o", path, "./cmd/chronicle").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build chronicle: %v\n%s", err, out)
	}
	return path, nil
}

type node struct {
	id, httpAddr, raftAddr, dir string
	cmd                         *exec.Cmd
}

// receiver records every callback: path → deliveries.
type receiver struct {
	mu   sync.Mutex
	hits map[string][]delivery
	srv  *http.Server
	url  string
}

type delivery struct {
	at    time.Time
	runID string
}

func newReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{hits: map[string][]delivery{}, url: "http://" + ln.Addr().String()}
	rc.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.hits[r.URL.Path] = append(rc.hits[r.URL.Path], delivery{time.Now(), r.Header.Get("X-Chronicle-Run-Id")})
		rc.mu.Unlock()
	})}
	go rc.srv.Serve(ln)
	return rc, nil
}

func runTrial(bin string, span int) (trialResult, error) {
	var res trialResult
	nodes, err := startCluster(bin)
	defer func() {
		for _, n := range nodes {
			if n.cmd != nil && n.cmd.Process != nil {
				n.cmd.Process.Kill()
				n.cmd.Wait()
			}
			os.RemoveAll(n.dir)
		}
	}()
	if err != nil {
		return res, err
	}
	leader, follower, err := roles(nodes)
	if err != nil {
		return res, err
	}
	rc, err := newReceiver()
	if err != nil {
		return res, err
	}
	defer rc.srv.Close()
	api := "http://" + follower.httpAddr
	if err := post(api+"/goscheduler/apps", `{"appId":"bench","partitions":4,"active":true}`, nil); err != nil {
		return res, err
	}
	base := time.Now().Unix() + 4
	runIDs, err := createSchedules(api, rc.url, base, span)
	if err != nil {
		return res, err
	}
	res.Runs = len(runIDs)
	time.Sleep(time.Until(time.Unix(base, 0).Add(time.Duration(span) * time.Second / 2).Add(500 * time.Millisecond)))
	killedAt := time.Now()
	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return res, err
	}
	leader.cmd.Wait()
	leader.cmd = nil

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && rc.delivered() < len(runIDs) {
		time.Sleep(50 * time.Millisecond)
	}
	var lastBefore, firstAfter time.Time
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for path, id := range runIDs {
		ds := rc.hits[path]
		if len(ds) == 0 {
			res.Missing++
		} else {
			res.Duplicates += len(ds) - 1
		}
		for _, d := range ds {
			if d.runID != id {
				res.Mismatched++
			}
			if d.at.Before(killedAt) && d.at.After(lastBefore) {
				lastBefore = d.at
			}
			if d.at.After(killedAt) && (firstAfter.IsZero() || d.at.Before(firstAfter)) {
				firstAfter = d.at
			}
		}
	}
	if firstAfter.IsZero() {
		return res, fmt.Errorf("no callback after the leader was killed")
	}
	res.Gap, res.Resume = firstAfter.Sub(lastBefore), firstAfter.Sub(killedAt)
	return res, nil
}

func (rc *receiver) delivered() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.hits)
}

func startCluster(bin string) ([]*node, error) {
	nodes := make([]*node, 3)
	var peers []string
	for i := range nodes {
		h, err := freeport.Addr()
		if err != nil {
			return nil, err
		}
		r, err := freeport.Addr()
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "chronicle-failover")
		if err != nil {
			return nil, err
		}
		nodes[i] = &node{id: fmt.Sprintf("n%d", i+1), httpAddr: h, raftAddr: r, dir: dir}
		peers = append(peers, nodes[i].id+"="+r)
	}
	for _, n := range nodes {
		n.cmd = exec.Command(bin, "serve", "--data-dir", n.dir, "--http-addr", n.httpAddr, "--raft-addr", n.raftAddr,
			"--node-id", n.id, "--peers", strings.Join(peers, ","), "--log-level", "error")
		n.cmd.Stderr = os.Stderr
		if err := n.cmd.Start(); err != nil {
			return nodes, err
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if formed(nodes) {
			return nodes, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nodes, fmt.Errorf("cluster did not form within 30s")
}

type clusterView struct {
	LeaderID string `json:"leaderId"`
	Members  []struct {
		ID          string `json:"id"`
		HTTPAddress string `json:"httpAddress"`
	} `json:"members"`
}

func view(n *node) (clusterView, error) {
	var v clusterView
	res, err := (&http.Client{Timeout: time.Second}).Get("http://" + n.httpAddr + "/cluster")
	if err != nil {
		return v, err
	}
	defer res.Body.Close()
	return v, json.NewDecoder(res.Body).Decode(&v)
}

// formed: every node sees a leader and every member's API address.
func formed(nodes []*node) bool {
	for _, n := range nodes {
		v, err := view(n)
		if err != nil || v.LeaderID == "" || len(v.Members) != 3 {
			return false
		}
		for _, m := range v.Members {
			if m.HTTPAddress == "" {
				return false
			}
		}
	}
	return true
}

func roles(nodes []*node) (leader, follower *node, err error) {
	v, err := view(nodes[0])
	if err != nil {
		return nil, nil, err
	}
	for _, n := range nodes {
		if n.id == v.LeaderID {
			leader = n
		} else if follower == nil {
			follower = n
		}
	}
	if leader == nil {
		return nil, nil, fmt.Errorf("leader %q is not one of the nodes", v.LeaderID)
	}
	return leader, follower, nil
}

// createSchedules creates 100 runs per second over span seconds from base,
// each with its own callback path, with 8 concurrent clients. It returns
// path → run id (a one-time schedule's run id is its schedule id).
func createSchedules(api, receiver string, base int64, span int) (map[string]string, error) {
	type job struct {
		path string
		atMs int64
	}
	jobs := make(chan job)
	var mu sync.Mutex
	ids := map[string]string{}
	var firstErr error
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				body := fmt.Sprintf(`{"appId":"bench","payload":"","scheduleTimeMs":%d,"callback":{"type":"http","details":{"url":%q,"method":"POST"}}}`,
					j.atMs, receiver+j.path)
				var answer struct {
					Data struct {
						Schedule struct {
							ScheduleID string `json:"scheduleId"`
						} `json:"schedule"`
					} `json:"data"`
				}
				err := post(api+"/goscheduler/schedules", body, &answer)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				ids[j.path] = answer.Data.Schedule.ScheduleID
				mu.Unlock()
			}
		}()
	}
	for s := 0; s < span; s++ {
		for k := 0; k < 100; k++ {
			// One run due every 10 ms.
			jobs <- job{fmt.Sprintf("/r/%d/%d", s, k), (base+int64(s))*1000 + int64(k)*10}
		}
	}
	close(jobs)
	wg.Wait()
	return ids, firstErr
}

func post(url, body string, out any) error {
	res, err := (&http.Client{Timeout: 10 * time.Second}).Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: HTTP %d: %s", url, res.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1)+0.5)]
}

func report(results []trialResult, out string) {
	var gaps, resumes []time.Duration
	missing, dups, mismatched := 0, 0, 0
	for _, r := range results {
		gaps, resumes = append(gaps, r.Gap), append(resumes, r.Resume)
		missing, dups, mismatched = missing+r.Missing, dups+r.Duplicates, mismatched+r.Mismatched
	}
	commit, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	summary := map[string]any{
		"machine": map[string]any{"cores": runtime.NumCPU(), "go": runtime.Version(), "commit": strings.TrimSpace(string(commit))},
		"trials":  results, "gapP50Ns": percentile(gaps, 0.5), "gapMaxNs": percentile(gaps, 1),
		"resumeP50Ns": percentile(resumes, 0.5), "resumeMaxNs": percentile(resumes, 1),
		"missing": missing, "duplicates": dups, "mismatchedRunIds": mismatched,
	}
	fmt.Printf("\nfailover (3 nodes, leader SIGKILLed, a run due every 10 ms), %d trials, %d cores, %s, commit %s\n",
		len(results), runtime.NumCPU(), runtime.Version(), strings.TrimSpace(string(commit)))
	fmt.Printf("  %-34s p50 %-8v max %v\n", "firing gap (last before → first after)", percentile(gaps, 0.5).Round(time.Millisecond), percentile(gaps, 1).Round(time.Millisecond))
	fmt.Printf("  %-34s p50 %-8v max %v\n", "kill → first callback of new leader", percentile(resumes, 0.5).Round(time.Millisecond), percentile(resumes, 1).Round(time.Millisecond))
	fmt.Printf("  missing runs %d (must be 0), duplicate deliveries %d, duplicates with another run id %d (must be 0)\n", missing, dups, mismatched)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err == nil {
		if b, err := json.MarshalIndent(summary, "", "  "); err == nil {
			os.WriteFile(out, b, 0o644)
		}
	}
	if missing > 0 || mismatched > 0 {
		os.Exit(1)
	}
}
