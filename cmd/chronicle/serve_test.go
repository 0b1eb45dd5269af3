package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestFlagsFallBackToEnvironment(t *testing.T) {
	t.Setenv("CHRONICLE_DATA_DIR", "/from/env")
	t.Setenv("CHRONICLE_NODE_ID", "env-node")
	t.Setenv("CHRONICLE_MISFIRE_THRESHOLD", "5s")
	c, err := parseServe([]string{"--node-id", "flag-node"})
	if err != nil {
		t.Fatal(err)
	}
	if c.dataDir != "/from/env" || c.nodeID != "flag-node" || c.misfire != 5*time.Second || c.httpAddr != "127.0.0.1:8080" || c.raftAddr != "127.0.0.1:7000" {
		t.Fatalf("config: %+v", c)
	}
	t.Setenv("CHRONICLE_CALLBACK_ATTEMPTS", "many")
	if _, err := parseServe(nil); err == nil || !strings.Contains(err.Error(), "CHRONICLE_CALLBACK_ATTEMPTS") {
		t.Fatalf("bad env value: %v", err)
	}
	t.Setenv("CHRONICLE_CALLBACK_ATTEMPTS", "3")
	if c, err := parseServe([]string{"--event-retention", "720h"}); err != nil || c.retention != 720*time.Hour || c.retentionInterval != time.Minute {
		t.Fatalf("retention flags: %+v %v", c, err)
	}
	if _, err := parseServe([]string{"--event-retention", "-1h"}); err == nil || !strings.Contains(err.Error(), "--event-retention") {
		t.Fatalf("negative retention: %v", err)
	}
	if c, err := parseServe([]string{"--state-cache-mb", "512"}); err != nil || c.stateCacheMB != 512 {
		t.Fatalf("state cache flag: %+v %v", c, err)
	}
	if _, err := parseServe([]string{"--state-cache-mb", "0"}); err == nil || !strings.Contains(err.Error(), "--state-cache-mb") {
		t.Fatalf("zero state cache: %v", err)
	}
	if _, err := parsePeers("n1=127.0.0.1:1,broken"); err == nil {
		t.Fatal("bad peer accepted")
	}
	peers, err := parsePeers("n1=127.0.0.1:1, n2=127.0.0.1:2")
	if err != nil || len(peers) != 2 || peers[1].ID != "n2" {
		t.Fatalf("peers: %+v %v", peers, err)
	}
}

// TestSIGTERMShutsDownCleanly runs the binary, stops it with SIGTERM and
// expects exit status 0 and its data intact on the next start.
func TestSIGTERMShutsDownCleanly(t *testing.T) {
	bin := chronicleBinary(t)
	dir := t.TempDir()
	httpAddr := freeAddr(t)
	env := append(os.Environ(), "CHRONICLE_DATA_DIR="+dir, "CHRONICLE_HTTP_ADDR="+httpAddr,
		"CHRONICLE_RAFT_ADDR="+freeAddr(t), "CHRONICLE_LOG_LEVEL=warn")
	run := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve") // every setting from the environment
		cmd.Env, cmd.Stderr = env, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		(&testNode{t: t, base: "http://" + httpAddr}).waitHealthy()
		return cmd
	}
	cmd := run()
	tn := &testNode{t: t, base: "http://" + httpAddr}
	tn.registerApp("term", 1)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit 15s after SIGTERM")
	}
	if _, err := http.Get("http://" + httpAddr + "/goscheduler/healthcheck"); err == nil {
		t.Fatal("still serving after SIGTERM")
	}
	run()
	r := tn.must(200, "GET", "/goscheduler/apps?app_id=term", nil)
	if !strings.Contains(string(r.Data), `"appId":"term"`) {
		t.Fatalf("app lost across a clean restart: %s", r.raw)
	}
}

// TestRunsBeyondTheWindowFireOnTime: timers hold only the near window in
// memory; a run due later is read in by a later window load and must
// still fire at its second.
func TestRunsBeyondTheWindowFireOnTime(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.window = time.Second
	tn := startTestNode(t, cfg)
	rc := newReceiver(t)
	tn.registerApp("far", 1)
	at := time.Now().Unix() + 4
	s := tn.createOnce("far", at, rc.url("/far"), "GET", "")
	tn.waitStatus(s.ScheduleID, "SUCCESS", 10*time.Second)
	h := rc.hitsFor("/far")
	if len(h) != 1 {
		t.Fatalf("%d calls", len(h))
	}
	if late := h[0].At.Sub(time.Unix(at, 0)); late < 0 || late > time.Second {
		t.Fatalf("run beyond the window fired %v after its time", late)
	}
}

// FuzzCreateSchedule sends arbitrary bodies to a real node: the answer is
// always a JSON envelope, 200 or 4xx, never a 5xx.
func FuzzCreateSchedule(f *testing.F) {
	for _, seed := range []string{
		`{"appId":"fz","payload":"{}","scheduleTime":2687947561,"callback":{"type":"http","details":{"url":"http://127.0.0.1:1/","method":"GET"}}}`,
		`{"appId":"fz","cronExpression":"5-3 * * * *","callback":{"details":{"url":"http://x/","method":"get"}}}`,
		`{"appId":"fz","cronExpression":"@every 1s","timeZone":"\u0000","callback":{"details":{"url":"http://x/","method":"POST"}}}`,
		`{"appId":"fz","scheduleTime":-1}`, `{"appId":1}`, `null`, `"str"`, `{}`, `{"appId":"fz","retry":{"maxAttempts":-5}}`,
		`{"appId":"fz","scheduleTime":9223372036854775807,"callback":{}}`, `{"appId":"fz","httpCallback":{"url":"http://[::1]:99999/","method":"PATCH"},"scheduleTime":2687947561}`,
	} {
		f.Add([]byte(seed))
	}
	tn := startTestNode(f, testConfig(f, f.TempDir()))
	tn.registerApp("fz", 1)
	f.Fuzz(func(t *testing.T, body []byte) {
		code, r := callURL(t, "POST", tn.base+"/goscheduler/schedules", body)
		if code >= 500 || code == 0 {
			t.Fatalf("HTTP %d for %q: %s", code, body, r.raw)
		}
		if code != 200 && (r.Status.StatusType != "Fail" || r.Status.StatusMessage == "") {
			t.Fatalf("HTTP %d without a Fail envelope for %q: %s", code, body, r.raw)
		}
	})
}

// TestRunsCreatedWhileTheWindowLoadsFireOnce: with a window of 400 ms the
// timers load ahead in the background every 200 ms, while creates keep
// arriving due 200-400 ms ahead: inside the part of the window a load in
// flight is reading. Every run must fire exactly once, never before its
// millisecond, and none may wait for a later window.
func TestRunsCreatedWhileTheWindowLoadsFireOnce(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.window = 400 * time.Millisecond
	tn := startTestNode(t, cfg)
	rc := newReceiver(t)
	tn.registerApp("slide", 2)
	const runs = 600
	due := map[string]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < runs; i += 6 {
				at := time.Now().UnixMilli() + 200 + int64(i*37%200)
				path := fmt.Sprintf("/s/%d", i)
				code, r := tn.call("POST", "/goscheduler/schedules", map[string]any{
					"appId": "slide", "payload": "", "scheduleTimeMs": at,
					"callback": map[string]any{"type": "http", "details": map[string]any{"url": rc.url(path), "method": "POST"}}})
				if code != 200 {
					t.Errorf("create %d: %d %s", i, code, r.raw)
					return
				}
				mu.Lock()
				due[path] = at
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}(w)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	worst := rc.deliveredOnceEach(t, tn, runs, 20*time.Second, func(path string) time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.UnixMilli(due[path])
	})
	t.Logf("latest callback %v after its millisecond", worst)
	if worst > 2*time.Second {
		t.Fatalf("a run waited %v: it missed its window", worst)
	}
}

// A client that sends its headers a byte at a time is cut off by the
// header timeout; a body over --max-body-bytes is answered 413 JSON.
func TestSlowHeadersAreCutOffAndLargeBodiesRefused(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.readHeaderTimeout, cfg.maxBodyBytes = 500*time.Millisecond, 4096
	tn := startTestNode(t, cfg)
	conn, err := net.Dial("tcp", strings.TrimPrefix(tn.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	request := "GET /goscheduler/healthcheck HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100) + "\r\n\r\n"
	cut := false
	for i := 0; i < len(request) && time.Since(start) < 10*time.Second; i++ {
		if _, err := conn.Write([]byte{request[i]}); err != nil {
			cut = true
			break
		}
		time.Sleep(50 * time.Millisecond)
		_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := conn.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			cut = true // the server closed the connection
			break
		}
	}
	if !cut || time.Since(start) > 3*time.Second {
		t.Fatalf("a client trickling headers kept its connection for %v (cut: %v)", time.Since(start), cut)
	}
	code, r := tn.call("POST", "/goscheduler/apps", `{"appId":"big","pad":"`+strings.Repeat("x", 5000)+`"}`)
	if code != 413 || !strings.Contains(r.Status.StatusMessage, "larger than 4096 bytes") {
		t.Fatalf("a body over --max-body-bytes: %d %s", code, r.raw)
	}
	tn.registerApp("small", 1) // and one under it is taken
}
