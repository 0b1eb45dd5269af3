package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/internal/syncbuf"
)

// --access-log writes a line per request, refused ones included, with the
// token that made it and never the token itself; without it, none.
func TestAccessLogHasALinePerRequest(t *testing.T) {
	var logs syncbuf.Buffer
	cfg := testConfig(t, t.TempDir())
	cfg.adminTokenFile = writeSecret(t, "admin-token", strings.Repeat("s", 32))
	tn := startChild(t, cfg, &logs, "--access-log", "--log-level", "error")
	tn.waitHealthy()
	tn.registerApp("seen", 1)
	req, err := http.NewRequest("GET", tn.base+"/goscheduler/schedules?appId=seen", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := apiClient.Do(req) // no token
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	waitFor(t, 5*time.Second, "access lines", func() bool {
		return hasLine(logs.String(), "msg=access", "method=POST", "path=/goscheduler/apps", "status=200", "token=admin") &&
			hasLine(logs.String(), "msg=access", "method=GET", "path=/goscheduler/schedules", "status=401", "token=-")
	})
	if strings.Contains(logs.String(), tn.token) {
		t.Fatal("the admin token's secret is in the log")
	}

	var quiet syncbuf.Buffer
	off := startChild(t, testConfig(t, t.TempDir()), &quiet, "--log-level", "info")
	off.waitHealthy()
	off.registerApp("unseen", 1)
	if strings.Contains(quiet.String(), "msg=access") {
		t.Fatalf("access lines without --access-log:\n%s", quiet.String())
	}
}
