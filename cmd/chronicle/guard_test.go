package main

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/internal/fakedns"
)

// Callbacks cannot reach a cloud metadata address, nor the cluster
// itself: named literally they are refused at create (400); by a host
// name that resolves there, or through a redirect, the run ends FAILURE
// with the rule in its errorMessage. Loopback receivers keep working.
func TestCallbacksCannotReachMetadataOrTheClusterItself(t *testing.T) {
	dns, err := fakedns.Start(netip.MustParseAddr("169.254.169.254"))
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()
	cfg := testConfig(t, t.TempDir())
	cfg.resolver = dns.Resolver()
	tn := startTestNode(t, cfg)
	tn.registerApp("guarded", 1)
	rc := newReceiver(t)
	redirector := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go redirector.Serve(ln)
	t.Cleanup(func() { redirector.Close() })
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(tn.base, "http://"))
	create := func(url string, follow bool) (int, resp) {
		return tn.call("POST", "/goscheduler/schedules", map[string]any{"appId": "guarded", "payload": "{}",
			"scheduleTime": time.Now().Unix() + 1, "callback": map[string]any{"type": "http",
				"details": map[string]any{"url": url, "method": "POST", "followRedirects": follow}}})
	}
	for url, want := range map[string]string{
		"http://169.254.169.254/latest/meta-data/":      "169.254.0.0/16",
		"http://[fd00:ec2::254]/latest/":                "fd00:ec2::254/128",
		"http://127.0.0.1:" + port + "/cluster/members": "this Chronicle cluster",
		"http://user:secret@127.0.0.1:9/x":              "must not carry a user name or password",
	} {
		if code, r := create(url, false); code != 400 || !strings.Contains(r.Status.StatusMessage, want) {
			t.Errorf("create with %s: %d %s, want 400 naming %q", url, code, r.raw, want)
		}
	}
	failed := map[string]string{ // schedule id → what its errorMessage must say
	}
	for url, c := range map[string]struct {
		follow bool
		want   string
	}{
		"http://metadata.internal.test/latest/":         {false, "callback to 169.254.169.254:80 refused"},
		"http://" + ln.Addr().String() + "/":            {true, "callback to 169.254.169.254:80 refused"},
		"http://localhost:" + port + "/cluster/members": {false, "this Chronicle cluster"},
	} {
		code, r := create(url, c.follow)
		if code != 200 {
			t.Fatalf("create with %s: %d %s", url, code, r.raw)
		}
		failed[decodeData[struct{ Schedule schedule }](t, r).Schedule.ScheduleID] = c.want
	}
	ok := tn.createOnce("guarded", time.Now().Unix()+1, rc.url("/fine"), "POST", "")
	for id, want := range failed {
		s := tn.waitStatus(id, "FAILURE", 10*time.Second)
		if !strings.Contains(s.ErrorMessage, want) {
			t.Errorf("schedule %s failed with %q, want it to name %q", id, s.ErrorMessage, want)
		}
	}
	tn.waitStatus(ok.ScheduleID, "SUCCESS", 10*time.Second)
	if v := tn.cluster(); len(v.Members) != 1 || v.LeaderID != "node1" {
		t.Fatalf("the cluster after a callback aimed at it: %+v", v)
	}
}

// A credential given as a callback header is sent to the receiver but
// never shown: not by the schedule's reads, nor its history, nor /events.
func TestSecretCallbackHeadersAreMaskedWhereverShown(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	tn.registerApp("secrets", 1)
	rc := newReceiver(t)
	r := tn.must(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "secrets", "payload": "{}",
		"scheduleTime": time.Now().Unix() + 1, "callback": map[string]any{"type": "http", "details": map[string]any{
			"url": rc.url("/s"), "method": "POST", "secretHeaders": []string{"x-token"},
			"headers": map[string]string{"Authorization": "Bearer hunter2", "X-Token": "t0ken", "Content-Type": "application/json"}}}})
	id := decodeData[struct{ Schedule schedule }](t, r).Schedule.ScheduleID
	tn.waitStatus(id, "SUCCESS", 10*time.Second)
	h := rc.hitsFor("/s")[0]
	if h.Header.Get("Authorization") != "Bearer hunter2" || h.Header.Get("X-Token") != "t0ken" {
		t.Fatalf("the receiver did not get the real values: %v", h.Header)
	}
	for _, path := range []string{"/goscheduler/schedules/" + id, "/goscheduler/schedules/" + id + "/events",
		"/goscheduler/apps/secrets/events", "/events?types=ScheduleCreated"} {
		_, got := tn.call("GET", path, nil)
		body := string(got.raw)
		if strings.Contains(body, "hunter2") || strings.Contains(body, "t0ken") || !strings.Contains(body, `"***"`) ||
			!strings.Contains(body, "application/json") {
			t.Errorf("GET %s shows secrets or masks too much: %s", path, body)
		}
	}
	if !strings.Contains(string(r.raw), `"Authorization":"***"`) {
		t.Errorf("the create answer shows the secret: %s", r.raw)
	}
}
