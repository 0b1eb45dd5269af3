package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// scrape reads a node's /metrics with token ("": none) as Prometheus
// would, and parses it.
func (tn *testNode) scrape(token string) map[string]*dto.MetricFamily {
	tn.t.Helper()
	res, body := rawCall(tn.t, tn, token, "GET", "/metrics", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		tn.t.Fatalf("GET /metrics: HTTP %d %s: %.300s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		tn.t.Fatalf("parse /metrics: %v\n%.2000s", err, body)
	}
	return fams
}

// value is the value of family name's series with labels (a subset), or
// -1 if there is none; for a histogram, its count.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
series:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return -1
}

// TestMetricsAfterCreatesAndFires: after a run of creates and fires,
// /metrics has every family an operator's dashboard and alerts use, with
// the values the runs explain: the lateness histogram counts every fired
// run, attempts and outcomes by class and app, retries, commands by API,
// requests by route pattern, Raft and apply progress, the stores, and the
// Go and process collectors.
func TestMetricsAfterCreatesAndFires(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	rc.answer("/fail", 500)
	tn.registerApp("billing", 2)
	tn.registerApp("search", 1)

	const ok, failing = 12, 3
	at := time.Now().Add(2 * time.Second).Unix()
	var ids []string
	for i := range ok {
		ids = append(ids, tn.createOnce("billing", at, rc.url(fmt.Sprintf("/ok/%d", i)), "POST", "{}").ScheduleID)
	}
	for range failing {
		ids = append(ids, tn.createOnce("search", at, rc.url("/fail"), "POST", "{}").ScheduleID)
	}
	// One more create through CronHubot's API (a cron: it does not fire here).
	if code, r := tn.call("POST", "/cronjobs", map[string]any{"name": "nightly", "url": rc.url("/nightly"),
		"expression": "0 0 3 * * *", "status": 1}); code != 201 {
		t.Fatalf("cronhubot create: HTTP %d %s", code, r.raw)
	}
	for i, id := range ids {
		want := "SUCCESS"
		if i >= ok {
			want = "FAILURE"
		}
		tn.waitStatus(id, want, 15*time.Second)
	}
	if code, r := tn.call("POST", "/goscheduler/schedules/"+ids[0]+"/pause", nil); code != 409 {
		t.Fatalf("pause of a finished run: HTTP %d %s", code, r.raw)
	}
	if code, _ := tn.call("GET", "/goscheduler/schedules/no-such-id", nil); code != 404 {
		t.Fatalf("unknown schedule: HTTP %d", code)
	}

	fams := tn.scrape("")
	check := func(what string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	atLeast := func(what string, got, floor float64) {
		t.Helper()
		if got < floor {
			t.Errorf("%s = %v, want at least %v", what, got, floor)
		}
	}
	check("lateness histogram count (every fired run)", value(fams, "chronicle_firing_lateness_seconds"), ok+failing)
	lateness := fams["chronicle_firing_lateness_seconds"].Metric[0].Histogram
	if mean := lateness.GetSampleSum() / float64(lateness.GetSampleCount()); mean < 0 || mean > 5 {
		t.Errorf("mean lateness %.3fs: not a sane figure for runs due 1-2 s after their create", mean)
	}
	check("2xx attempts of billing", value(fams, "chronicle_callback_attempts_total", "app", "billing", "class", "2xx"), ok)
	check("5xx attempts of search (2 attempts each)", value(fams, "chronicle_callback_attempts_total", "app", "search", "class", "5xx"), 2*failing)
	check("retries of search", value(fams, "chronicle_callback_retries_total", "app", "search"), failing)
	check("billing successes", value(fams, "chronicle_runs_completed_total", "app", "billing", "status", "SUCCESS"), ok)
	check("search failures", value(fams, "chronicle_runs_completed_total", "app", "search", "status", "FAILURE"), failing)
	check("delivery durations", value(fams, "chronicle_delivery_duration_seconds"), ok+failing)
	check("attempt durations (5xx)", value(fams, "chronicle_callback_attempt_duration_seconds", "class", "5xx"), 2*failing)
	check("creates through the native API", value(fams, "chronicle_schedule_commands_total", "api", "goscheduler", "command", "create", "result", "ok"), ok+failing)
	check("creates through CronHubot's API", value(fams, "chronicle_schedule_commands_total", "api", "cronhubot", "command", "create", "result", "ok"), 1)
	check("refused pause", value(fams, "chronicle_schedule_commands_total", "api", "goscheduler", "command", "pause", "result", "error"), 1)
	check("POST /goscheduler/schedules answered 200", value(fams, "chronicle_http_requests_total",
		"route", "/goscheduler/schedules", "method", "POST", "code", "200"), ok+failing)
	atLeast("GET /goscheduler/schedules/:id answered 200 (the status polls)", value(fams, "chronicle_http_requests_total",
		"route", "/goscheduler/schedules/:id", "method", "GET", "code", "200"), ok+failing)
	check("GET /goscheduler/schedules/:id answered 404", value(fams, "chronicle_http_requests_total",
		"route", "/goscheduler/schedules/:id", "method", "GET", "code", "404"), 1)
	atLeast("request latency histogram", value(fams, "chronicle_http_request_duration_seconds", "route", "/goscheduler/schedules", "method", "POST"), ok+failing)
	for _, f := range fams["chronicle_http_requests_total"].Metric {
		for _, l := range f.Label {
			if l.GetName() == "route" && strings.Contains(l.GetValue(), ids[0]) {
				t.Errorf("a route label holds a schedule id: %s", l.GetValue())
			}
		}
	}
	check("raft state (leader)", value(fams, "chronicle_raft_state"), 2)
	check("has a leader", value(fams, "chronicle_raft_has_leader"), 1)
	atLeast("raft term", value(fams, "chronicle_raft_term"), 1)
	applied, commit := value(fams, "chronicle_raft_applied_index"), value(fams, "chronicle_raft_commit_index")
	atLeast("applied index", applied, 10)
	atLeast("last index", value(fams, "chronicle_raft_last_index"), commit)
	check("commit lag", value(fams, "chronicle_raft_commit_lag_entries"), commit-min(applied, commit))
	atLeast("leader changes", value(fams, "chronicle_raft_leader_changes_total"), 1)
	atLeast("apply batches", value(fams, "chronicle_apply_batch_entries"), 10)
	atLeast("apply durations", value(fams, "chronicle_apply_duration_seconds"), 10)
	atLeast("events in the log (creates, fires, outcomes)", value(fams, "chronicle_eventlog_last_seq"), 3*(ok+failing))
	atLeast("state store bytes", value(fams, "chronicle_state_store_bytes"), 1)
	check("runs in flight once all are done", value(fams, "chronicle_runs_in_flight"), 0)
	check("runs queued once all are done", value(fams, "chronicle_runs_queued"), 0)
	check("ready", value(fams, "chronicle_ready"), 1)
	check("build info", value(fams, "chronicle_build_info"), 1)
	atLeast("goroutines", value(fams, "go_goroutines"), 10)
	atLeast("resident memory", value(fams, "process_resident_memory_bytes"), 1<<20)
}

// TestMetricsNeedAnUnscopedToken: with auth on, /metrics takes a token
// like every API (a scraper's bearer token), but not one limited to some
// apps, since it names every app.
func TestMetricsNeedAnUnscopedToken(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.adminTokenFile = writeSecret(t, "admin-token", strings.Repeat("m", 32))
	tn := startTestNode(t, cfg)
	reader := tn.issueToken("prometheus", "reader")
	scoped := tn.issueToken("billing only", "reader", "billing")

	if res, body := rawCall(t, tn, "", "GET", "/metrics", nil); res.StatusCode != 401 {
		t.Fatalf("no token: HTTP %d %s", res.StatusCode, body)
	}
	if res, body := rawCall(t, tn, scoped.Token, "GET", "/metrics", nil); res.StatusCode != 403 || !strings.Contains(body, "limited to some apps") {
		t.Fatalf("app-scoped token: HTTP %d %s", res.StatusCode, body)
	}
	fams := tn.scrape(reader.Token)
	if value(fams, "chronicle_http_requests_total", "route", "/metrics", "code", "403") != 1 ||
		value(fams, "chronicle_http_requests_total", "route", "/metrics", "code", "401") != 1 {
		t.Fatalf("the refused scrapes are not counted: %v", fams["chronicle_http_requests_total"])
	}
}

// TestRoutePatternsAreBounded: a route label is the router's pattern
// whatever the path holds, including a parameter equal to a fixed
// segment, and an unknown path is "unmatched".
func TestRoutePatternsAreBounded(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	tn.registerApp("apps", 1)
	codes := map[string]int{}
	// A method net/http takes but no route has: counted as "other", so a
	// caller without a token cannot add series by inventing methods.
	if res, body := rawCall(t, tn, "", "AAAA", "/goscheduler/apps", nil); res.StatusCode != 405 {
		t.Fatalf("AAAA: HTTP %d %s", res.StatusCode, body)
	}
	for _, p := range []string{"/goscheduler/apps/apps/deactivate", "/goscheduler/no/such/path/x1", "/goscheduler/no/such/path/x2"} {
		res, body := rawCall(t, tn, "", "POST", p, nil)
		codes[p] = res.StatusCode
		if p == "/goscheduler/apps/apps/deactivate" && res.StatusCode != 200 {
			t.Fatalf("POST %s: HTTP %d %s", p, res.StatusCode, body)
		}
	}
	fams := tn.scrape("")
	if v := value(fams, "chronicle_http_requests_total", "route", "/goscheduler/apps/:appId/deactivate", "method", "POST", "code", "200"); v != 1 {
		t.Errorf("POST /goscheduler/apps/apps/deactivate counted %v times under its pattern", v)
	}
	if v := value(fams, "chronicle_http_requests_total", "route", "unmatched", "method", "POST",
		"code", strconv.Itoa(codes["/goscheduler/no/such/path/x1"])); v != 2 {
		t.Errorf("unknown paths counted %v times as unmatched", v)
	}
	for _, f := range fams["chronicle_http_requests_total"].Metric {
		for _, l := range f.Label {
			if l.GetName() == "method" && l.GetValue() == "AAAA" {
				t.Error("an invented method is a label value")
			}
		}
	}
	if v := value(fams, "chronicle_http_requests_total", "method", "other", "code", "405"); v != 1 {
		t.Errorf("the invented method counted %v times as other", v)
	}
}

// TestDeployFilesUseTheMetricsWeServe: the Grafana dashboard is JSON
// Grafana can import and the alert rules are a Prometheus rule file, and
// every metric either names is one a node serves (after a run of each
// kind), so a renamed metric cannot leave a blank panel or a silent alert.
func TestDeployFilesUseTheMetricsWeServe(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	rc.answer("/fail", 500)
	tn.registerApp("billing", 1)
	at := time.Now().Add(2 * time.Second).Unix()
	okRun, failedRun := tn.createOnce("billing", at, rc.url("/ok"), "POST", ""), tn.createOnce("billing", at, rc.url("/fail"), "POST", "")
	tn.waitStatus(okRun.ScheduleID, "SUCCESS", 15*time.Second)
	tn.waitStatus(failedRun.ScheduleID, "FAILURE", 15*time.Second)
	served := tn.scrape("")

	var dashboard struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	raw, err := os.ReadFile("../../deploy/grafana/chronicle-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &dashboard); err != nil || dashboard.Title == "" || dashboard.UID == "" {
		t.Fatalf("dashboard: %v (title %q, uid %q)", err, dashboard.Title, dashboard.UID)
	}
	var exprs []string
	for _, p := range dashboard.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}

	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	raw, err = os.ReadFile("../../deploy/prometheus/chronicle-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil || len(rules.Groups) == 0 {
		t.Fatalf("alert rules: %v", err)
	}
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v lacks an alert name, expr, severity or summary", r)
			}
			alerts[r.Alert] = true
			exprs = append(exprs, r.Expr)
		}
	}
	for _, want := range []string{"ChronicleFiringLate", "ChronicleCallbackFailureRatio", "ChronicleNoLeader"} {
		if !alerts[want] {
			t.Errorf("no %s alert", want)
		}
	}

	names := regexp.MustCompile(`\b(chronicle|go|process)_[a-z0-9_]+`)
	used := 0
	for _, e := range exprs {
		for _, name := range names.FindAllString(e, -1) {
			used++
			family := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if f, ok := strings.CutSuffix(name, suffix); ok && served[f] != nil && served[f].GetType() == dto.MetricType_HISTOGRAM {
					family = f
				}
			}
			if served[family] == nil {
				t.Errorf("%q uses %s, which /metrics does not serve", e, name)
			}
		}
	}
	if used < 30 {
		t.Fatalf("only %d metric names in the deploy files", used)
	}
}
