package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/karajoconf"
)

func loadConf(t *testing.T, body string) *karajoconf.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "karajo.conf")
	if err := os.WriteFile(path, []byte("[karajo]\ndir_base = "+dir+"\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := karajoconf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Each HTTP job calls as karajo does: the epoch in the query for a GET
// (karajo's form and json apply to POST and PUT), one attempt, success on
// 200, its headers and signature; a calendar becomes a union of crons.
func TestKarajoHTTPJobsAsSchedules(t *testing.T) {
	jobs, err := KarajoJobs(loadConf(t, `
[job.http "Get json"]
schedule = daily@08:15,17:45
http_url = https://ci.example/hook
http_request_type = json
http_header = X-A: b
secret = s
header_sign = X-Sign
http_timeout = -1s

[job.http "post form"]
interval = 90s
http_url = /karajo/api/job_exec/run/x
http_method = PUT
http_request_type = form
http_timeout = 20s
http_insecure = true
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Fatalf("%d jobs", len(jobs))
	}
	get, put := jobs[0], jobs[1]
	if get.Name != "job_http/get_json" || get.Labels[LabelKarajoKind] != KindHTTP || get.Labels[LabelKarajoID] != "get_json" {
		t.Errorf("name %q labels %v", get.Name, get.Labels)
	}
	if get.Cron.Expression() != "0 15 8 * * *; 0 45 17 * * *" || put.Cron.Expression() != "@every 90s" {
		t.Errorf("expressions %q and %q", get.Cron.Expression(), put.Cron.Expression())
	}
	want := event.RequestShape{TimeParam: "_karajo_epoch", Params: "query", SuccessStatus: 200,
		Signature: &event.HMACSignature{Header: "X-Sign", Secret: "s"}}
	if got, sh := get.Callback, get.Callback.Shaping(); sh.Params != want.Params || got.Method != "GET" ||
		*sh.Signature != *want.Signature || got.Headers["X-A"] != "b" || sh.SuccessStatus != 200 || sh.TimeParam != want.TimeParam {
		t.Errorf("GET job's callback %+v, want %+v", got, want)
	}
	if get.Retry.MaxAttempts != 1 || get.Retry.TimeoutMs != 3_600_000 {
		t.Errorf("no timeout: retry %+v, want one attempt and the longest timeout", *get.Retry)
	}
	if sh := put.Callback.Shaping(); sh.Params != "form" || !sh.InsecureTLS || !put.Callback.Local() || sh.Signature != nil ||
		put.Retry.TimeoutMs != 20_000 {
		t.Errorf("PUT job: %+v, retry %+v", put.Callback, *put.Retry)
	}
}

// A command job runs its commands in its own directory with its counter;
// one with only a path is @manual; both counted, exclusive, keeping
// log_retention outputs.
func TestKarajoCommandJobsAsSchedules(t *testing.T) {
	jobs, err := KarajoJobs(loadConf(t, `
[job "Deploy web"]
path = /deploy
secret = s
command = git pull
command = make deploy
log_retention = 3

[job "nightly"]
schedule = daily@02:00
command = ./backup.sh
`))
	if err != nil {
		t.Fatal(err)
	}
	deploy, nightly := jobs[0], jobs[1]
	if deploy.Name != "job/deploy_web" || !deploy.Cron.Manual() || deploy.Options.KeepOutputs != 3 || !deploy.Options.Counted ||
		deploy.Options.Overlap != event.OverlapBufferOne || deploy.Labels[LabelKarajoKind] != KindCommand {
		t.Errorf("deploy: %+v", deploy)
	}
	if c := deploy.Callback; c.Type != event.CallbackCommand || c.Command.Dir != "karajo/job/deploy_web" ||
		c.Command.CounterEnv != "KARAJO_JOB_COUNTER" || len(c.Command.Lines) != 2 || c.Command.Lines[1] != "make deploy" {
		t.Errorf("deploy's callback: %+v %+v", c, c.Command)
	}
	if nightly.Cron.Expression() != "0 0 2 * * *" || nightly.Options.KeepOutputs != 5 {
		t.Errorf("nightly: %q keeps %d", nightly.Cron.Expression(), nightly.Options.KeepOutputs)
	}
}

func TestKarajoJobsThatCannotRunAreRefused(t *testing.T) {
	for name, c := range map[string]struct{ conf, want string }{
		"timeout over an hour": {"[job.http \"slow\"]\ninterval = 1m\nhttp_url = /x\nhttp_timeout = 2h\n", "http_timeout 2h0m0s: at most 1h0m0s"},
	} {
		_, err := KarajoJobs(loadConf(t, c.conf))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "karajo.conf:") {
			t.Errorf("%s: %v, want the file and %q", name, err, c.want)
		}
	}
}
