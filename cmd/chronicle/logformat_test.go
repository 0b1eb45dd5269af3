package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/internal/syncbuf"
)

// --log-format json makes every line a node writes one JSON object, Raft's
// and the server's own alike; an unknown format is refused at start.
func TestLogFormatJSONCoversEveryComponent(t *testing.T) {
	var logs syncbuf.Buffer
	cfg := testConfig(t, t.TempDir())
	cfg.logLevel = "info"
	tn := startChild(t, cfg, &logs, "--log-format", "json")
	tn.waitHealthy()
	tn.stop()
	libs := map[string]bool{}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec struct{ Time, Level, Msg, Lib string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level == "" || rec.Msg == "" {
			t.Fatalf("not a JSON log record: %q (%v)", line, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, rec.Time); err != nil {
			t.Fatalf("record time %q: %v", rec.Time, err)
		}
		libs[rec.Lib] = true
		msgs = append(msgs, rec.Msg)
	}
	all := strings.Join(msgs, "|")
	if !libs["raft"] || !strings.Contains(all, "chronicle serving") || !strings.Contains(all, "stopped") {
		t.Fatalf("want Raft's records and the node's own (serving, stopped), got libraries %v and %s", libs, all)
	}

	out, err := exec.Command(chronicleBinary(t), "serve", "--data-dir", t.TempDir(), "--log-format", "yaml").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `--log-format "yaml": text or json`) {
		t.Fatalf("--log-format yaml: %v\n%s", err, out)
	}
}
