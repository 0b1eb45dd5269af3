package karajoconf

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeTree writes files (paths relative to a new directory, "/" as the
// separator) and gives the directory. "$BASE" in a file's text is the
// directory, for dir_base.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	base := t.TempDir()
	for name, text := range files {
		p := filepath.Join(base, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(text, "$BASE", base)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

const mainConf = "etc/karajo/karajo.conf"

// A deployment as karajo's own examples lay it out: the main file, command
// jobs in job.d and HTTP jobs in job_http.d.
var fullTree = map[string]string{
	mainConf: `## karajo.conf
[karajo]
name = My karajo
listen_address = 127.0.0.1:31937
http_timeout = 2m
dir_base = $BASE
dir_public = $BASE/srv/karajo
secret = s3cret
max_job_running = 2

[notif "email-to-ops"]
kind = email
smtp_server = smtps://mail.example.org
smtp_user = $SMTP_USER
smtp_password = $SMTP_PASS
from = Karajo <karajo@example.org>
to = ops@example.org
to = oncall@example.org

[notif "chat"]
kind = webhook
url = https://chat.example.org/hooks/karajo
secret = $CHAT_SECRET

[job "Test manual run"]
description = The job to test manual run.
path = /test-manual-run
command = echo "Test job manual run"
command = echo "Counter is $KARAJO_JOB_COUNTER"
`,
	"etc/karajo/job.d/deploy.conf": `# Deploy the site when GitHub says so.
[job "Deploy site"]
description = Pull and build the site <b>on push</b>.
path = deploy/
auth_kind = GitHub
secret = gh-s3cret
command = git -C /srv/site pull --ff-only
command = "make -C /srv/site build; make -C /srv/site install"
notif_on_failed = email-to-ops
notif_on_failed = chat
log_retention = 10
`,
	"etc/karajo/job.d/interval-1m.conf": `[job "Test interval 1m"]
interval = 1m
command = echo "Test job interval 1m"
notif_on_success = chat
`,
	"etc/karajo/job.d/schedule.conf": `[job "Backup"]
schedule = daily@02:30,14:30
header_sign = X-Backup-Sign
command = /usr/local/bin/backup
`,
	// Not read, as karajo does not read them.
	"etc/karajo/job.d/.hidden.conf":      "[job \"hidden\"]\ninterval = 1m\ncommand = true\n",
	"etc/karajo/job.d/old.conf.bak":      "this is not INI",
	"etc/karajo/job.d/notes.ini":         "[job \"ini\"]\ninterval = 1m\ncommand = true\n",
	"etc/karajo/job.d/sub.conf/x.conf":   "[job \"sub\"]\ninterval = 1m\ncommand = true\n",
	"etc/karajo/job_http.d/.off.conf":    "[job.http \"off\"]\ninterval = 1m\nhttp_url = /x\n",
	"etc/karajo/job_http.d/ping.conf":    pingConf,
	"etc/karajo/job_http.d/hourly.conf":  "[job.http \"Schedule hourly 6m\"]\nschedule = hourly@6,36\nhttp_url = /karajo/api/job_exec/run/test-manual-run\nhttp_method = post\nhttp_request_type = JSON\nsecret = s3cret\nhttp_timeout = -1s\n",
	"etc/karajo/user.conf":               "[user \"admin\"]\npassword = x\n", // the web console's users: not ours
	"etc/karajo/job_http.d/zz-long.conf": "[job.http \"Test long running\"]\ninterval = 2m\nhttp_url = /karajo/api/job_exec/run/test-long-running\n",
}

const pingConf = `[job.http "Ping upstream"]
description = Keep the upstream warm.
interval = 90s
http_method = GET
http_url = https://upstream.example.org:8443/ping?from=karajo
http_header = Authorization: Bearer t0ken
http_header = X-Trace:  on
http_insecure = yes
http_timeout = 10s
notif_on_failed = email-to-ops
`

func setFullEnv(t *testing.T) {
	t.Setenv("SMTP_USER", "karajo-smtp")
	t.Setenv("SMTP_PASS", "smtp pass word")
	t.Setenv("CHAT_SECRET", "chat-s3cret")
}

func TestLoadFullConfiguration(t *testing.T) {
	setFullEnv(t)
	base := writeTree(t, fullTree)
	cfg, err := Load(filepath.Join(base, mainConf))
	if err != nil {
		t.Fatal(err)
	}
	at := func(name string, line int) Source {
		return Source{File: filepath.Join(base, filepath.FromSlash(name)), Line: line}
	}

	if cfg.Name != "My karajo" || cfg.ListenAddress != "127.0.0.1:31937" || cfg.DirBase != base ||
		cfg.DirPublic != base+"/srv/karajo" || cfg.Secret != "s3cret" || cfg.HTTPTimeout != 2*time.Minute ||
		cfg.MaxJobRunning != 2 || cfg.IsDevelopment {
		t.Errorf("[karajo] read as %+v", cfg)
	}
	if cfg.JobDir != filepath.Join(base, "etc/karajo/job.d") || cfg.JobHTTPDir != filepath.Join(base, "etc/karajo/job_http.d") {
		t.Errorf("dirs %q %q", cfg.JobDir, cfg.JobHTTPDir)
	}

	wantJobs := []*Job{
		{
			JobBase: JobBase{ID: "backup", Name: "Backup", Schedule: "daily@02:30,14:30",
				Cron: []string{"0 30 2 * * *", "0 30 14 * * *"}, LogRetention: 5, Source: at("etc/karajo/job.d/schedule.conf", 1)},
			AuthKind: AuthHMACSHA256, HeaderSign: "X-Backup-Sign", Secret: "s3cret",
			Commands: []string{"/usr/local/bin/backup"},
		},
		{
			JobBase: JobBase{ID: "deploy_site", Name: "Deploy site", Description: "Pull and build the site <b>on push</b>.",
				LogRetention: 10, NotifOnFailed: []string{"email-to-ops", "chat"}, Source: at("etc/karajo/job.d/deploy.conf", 2)},
			Path: "/deploy", AuthKind: AuthGitHub, HeaderSign: DefaultHeaderSign, Secret: "gh-s3cret",
			Commands: []string{"git -C /srv/site pull --ff-only", "make -C /srv/site build; make -C /srv/site install"},
		},
		{
			JobBase: JobBase{ID: "test_interval_1m", Name: "Test interval 1m", Interval: time.Minute, LogRetention: 5,
				NotifOnSuccess: []string{"chat"}, Source: at("etc/karajo/job.d/interval-1m.conf", 1)},
			AuthKind: AuthHMACSHA256, HeaderSign: DefaultHeaderSign, Secret: "s3cret",
			Commands: []string{"echo Test job interval 1m"},
		},
		{
			JobBase: JobBase{ID: "test_manual_run", Name: "Test manual run", Description: "The job to test manual run.",
				LogRetention: 5, Source: at(mainConf, 25)},
			Path: "/test-manual-run", AuthKind: AuthHMACSHA256, HeaderSign: DefaultHeaderSign, Secret: "s3cret",
			Commands: []string{"echo Test job manual run", "echo Counter is $KARAJO_JOB_COUNTER"},
		},
	}
	if !reflect.DeepEqual(cfg.Jobs, wantJobs) {
		for i := range max(len(cfg.Jobs), len(wantJobs)) {
			var got, want *Job
			if i < len(cfg.Jobs) {
				got = cfg.Jobs[i]
			}
			if i < len(wantJobs) {
				want = wantJobs[i]
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("job %d:\n got %+v\nwant %+v", i, got, want)
			}
		}
	}

	wantHTTP := []*HTTPJob{
		{
			JobBase: JobBase{ID: "ping_upstream", Name: "Ping upstream", Description: "Keep the upstream warm.",
				Interval: 90 * time.Second, LogRetention: 5, NotifOnFailed: []string{"email-to-ops"},
				Source: at("etc/karajo/job_http.d/ping.conf", 1)},
			HeaderSign: DefaultHeaderSign, Method: "GET", URL: "https://upstream.example.org:8443/ping?from=karajo",
			RequestType: "query", Headers: [][2]string{{"Authorization", "Bearer t0ken"}, {"X-Trace", "on"}},
			Timeout: 10 * time.Second, Insecure: true,
		},
		{
			JobBase: JobBase{ID: "schedule_hourly_6m", Name: "Schedule hourly 6m", Schedule: "hourly@6,36",
				Cron: []string{"0 6,36 * * * *"}, LogRetention: 5, Source: at("etc/karajo/job_http.d/hourly.conf", 1)},
			Secret: "s3cret", HeaderSign: DefaultHeaderSign, Method: "POST", URL: "/karajo/api/job_exec/run/test-manual-run",
			RequestType: "json", Timeout: 0,
		},
		{
			JobBase: JobBase{ID: "test_long_running", Name: "Test long running", Interval: 2 * time.Minute, LogRetention: 5,
				Source: at("etc/karajo/job_http.d/zz-long.conf", 1)},
			HeaderSign: DefaultHeaderSign, Method: "GET", URL: "/karajo/api/job_exec/run/test-long-running",
			RequestType: "query", Timeout: 2 * time.Minute,
		},
	}
	for i := range max(len(cfg.HTTPJobs), len(wantHTTP)) {
		var got, want *HTTPJob
		if i < len(cfg.HTTPJobs) {
			got = cfg.HTTPJobs[i]
		}
		if i < len(wantHTTP) {
			want = wantHTTP[i]
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("http job %d:\n got %+v\nwant %+v", i, got, want)
		}
	}

	wantNotifs := []*Notif{
		{Name: "chat", Kind: NotifWebhook, URL: "https://chat.example.org/hooks/karajo", Secret: "chat-s3cret", Source: at(mainConf, 20)},
		{Name: "email-to-ops", Kind: NotifEmail, SMTPServer: "smtps://mail.example.org", SMTPScheme: "smtps",
			SMTPAddr: "mail.example.org:465", SMTPUser: "karajo-smtp", SMTPPassword: "smtp pass word",
			From: "Karajo <karajo@example.org>", To: []string{"ops@example.org", "oncall@example.org"}, Source: at(mainConf, 11)},
	}
	for i := range max(len(cfg.Notifs), len(wantNotifs)) {
		var got, want *Notif
		if i < len(cfg.Notifs) {
			got = cfg.Notifs[i]
		}
		if i < len(wantNotifs) {
			want = wantNotifs[i]
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("notif %d:\n got %+v\nwant %+v", i, got, want)
		}
	}

	if cfg.Job("deploy_site") == nil || cfg.HTTPJob("ping_upstream") == nil || cfg.Notif("chat") == nil || cfg.Job("hidden") != nil {
		t.Error("lookups by id and name")
	}
}

func TestLoadDefaultsOfAMinimalFile(t *testing.T) {
	base := writeTree(t, map[string]string{
		mainConf: "[karajo]\ndir_base = $BASE\n\n[job.http \"tick\"]\ninterval = 1s\nhttp_url = http://127.0.0.1:9000/tick\n",
	})
	cfg, err := Load(filepath.Join(base, mainConf))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "karajo" || cfg.ListenAddress != DefaultListenAddress || cfg.HTTPTimeout != 5*time.Minute ||
		cfg.MaxJobRunning != 1 || cfg.Secret != "" || len(cfg.Jobs) != 0 || len(cfg.Notifs) != 0 {
		t.Errorf("defaults: %+v", cfg)
	}
	j := cfg.HTTPJob("tick")
	if j == nil || j.Interval != time.Second || j.Method != "GET" || j.RequestType != "query" ||
		j.HeaderSign != "X-Karajo-Sign" || j.Timeout != 5*time.Minute || j.LogRetention != 5 || j.Secret != "" {
		t.Errorf("job.http defaults: %+v", j)
	}
}

// Without dir_base, karajo looks for job.d in /etc/karajo, whatever the
// main file's place.
func TestLoadJobDirsFollowDirBaseNotTheFile(t *testing.T) {
	base := writeTree(t, map[string]string{
		"karajo.conf": "[karajo]\nname = x\n",
		// beside the file, but not under dir_base: not read
		"job.d/a.conf": "[job \"a\"]\ninterval = 1m\ncommand = true\n",
	})
	cfg, err := Load(filepath.Join(base, "karajo.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DirBase != "/" || cfg.JobDir != "/etc/karajo/job.d" || cfg.JobHTTPDir != "/etc/karajo/job_http.d" {
		t.Errorf("dir_base %q, job dirs %q %q", cfg.DirBase, cfg.JobDir, cfg.JobHTTPDir)
	}
	if cfg.Job("a") != nil {
		t.Error("job.d beside the file read although dir_base is /")
	}
}

func TestLoadSkipsSymlinkedJobFilesAsKarajo(t *testing.T) {
	base := writeTree(t, map[string]string{
		mainConf:                  "[karajo]\ndir_base = $BASE\n",
		"available/a.conf":        "[job \"a\"]\ninterval = 1m\ncommand = true\n",
		"etc/karajo/job.d/b.conf": "[job \"b\"]\ninterval = 1m\ncommand = true\n",
	})
	if err := os.Symlink(filepath.Join(base, "available/a.conf"), filepath.Join(base, "etc/karajo/job.d/a.conf")); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(filepath.Join(base, mainConf))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Job("a") != nil || cfg.Job("b") == nil {
		t.Errorf("jobs %v", cfg.Jobs)
	}
}

func TestLoadRefusesWithFileLineAndReason(t *testing.T) {
	const head = "[karajo]\ndir_base = $BASE\nsecret = s\n[notif \"ops\"]\nkind = webhook\nurl = https://h.example/x\n"
	// head is 6 lines: the cases' own lines start at 7.
	cases := []struct {
		name  string
		files map[string]string
		want  []string // "file:line: reason", file relative to the base
	}{
		{"unknown section", map[string]string{mainConf: head + "[hook \"deploy\"]\npath = /x\n"},
			[]string{mainConf + `:7: unknown section [hook] (want karajo, job, job.http or notif); [hook] is karajo before v0.7: write [job]`}},
		{"unknown key", map[string]string{mainConf: head + "[job \"deploy\"]\npath = /d\ncommands = make\n"},
			[]string{mainConf + `:7: job "deploy": no command (one ` + "`command = ...`" + ` line per command)`,
				mainConf + `:9: job "deploy": unknown key "commands"; karajo's key is command, one line per command`}},
		{"max_running", map[string]string{mainConf: head + "[job \"deploy\"]\npath = /d\ncommand = make\nmax_running = 2\n"},
			[]string{mainConf + `:10: job "deploy": unknown key "max_running"; karajo dropped it in v0.7: a job never runs twice at once`}},
		{"http key in a command job", map[string]string{mainConf: head + "[job \"deploy\"]\npath = /d\ncommand = make\nhttp_url = /x\n"},
			[]string{mainConf + `:10: job "deploy": unknown key "http_url"; it is a key of [job.http] (HTTP jobs)`}},
		{"karajo repeated", map[string]string{mainConf: head + "[karajo]\n"},
			[]string{mainConf + `:7: [karajo] repeated (first at line 1); karajo would merge them key by key`}},
		{"unknown key in karajo", map[string]string{mainConf: strings.Replace(head, "[karajo]\n", "[karajo]\nlisten = :8080\n", 1)},
			[]string{mainConf + `:2: [karajo]: unknown key "listen"`}},
		{"karajo with a name", map[string]string{mainConf: head + "[karajo \"x\"]\n"},
			[]string{mainConf + `:7: [karajo] takes no name, got [karajo "x"]`}},
		{"errors sorted by file and line", map[string]string{mainConf: head + "[job \"b\"]\ninterval = 1m\ncommand = x\nlog_retention = -2\n",
			"etc/karajo/job.d/a.conf": "[job \"B\"]\ninterval = x\ncommand = x\n"},
			[]string{mainConf + `:10: job "b": log_retention -2: may not be negative`,
				"etc/karajo/job.d/a.conf" + `:2: job "B": interval "x": not a duration`}},
		{"repeated single key", map[string]string{mainConf: head + "[job \"a\"]\ninterval = 1m\ncommand = x\ninterval = 5m\n"},
			[]string{mainConf + `:10: job "a": interval repeated (first at line 8); it takes one value`}},
		{"job without a name", map[string]string{mainConf: head + "[job]\ninterval = 1m\ncommand = x\n"},
			[]string{mainConf + `:7: [job] needs a name: [job "NAME"]`}},
		{"no command", map[string]string{mainConf: head + "[job \"deploy\"]\npath = /deploy\n"},
			[]string{mainConf + "`:7: job \"deploy\": no command (one `command = ...` line per command)"[1:]}},
		{"empty command", map[string]string{mainConf: head + "[job \"deploy\"]\npath = /deploy\ncommand = make\ncommand =\n"},
			[]string{mainConf + `:10: job "deploy": empty command`}},
		{"command job that never runs", map[string]string{mainConf: head + "[job \"idle\"]\ncommand = true\ninterval =\n"},
			[]string{mainConf + `:7: job "idle": never runs: give it a schedule, an interval or a path`}},
		{"http job that never runs", map[string]string{mainConf: head + "[job.http \"idle\"]\nhttp_url = /x\n"},
			[]string{mainConf + `:7: job.http "idle": never runs: give it a schedule or an interval`}},
		{"no http_url", map[string]string{mainConf: head + "[job.http \"ping\"]\ninterval = 1m\n"},
			[]string{mainConf + `:7: job.http "ping": no http_url`}},
		{"bad http_url", map[string]string{mainConf: head + "[job.http \"ping\"]\ninterval = 1m\nhttp_url = ftp://h/x\n"},
			[]string{mainConf + `:9: job.http "ping": http_url "ftp://h/x": want an http:// or https:// URL, or a path starting with / on this server`}},
		{"http_url without host", map[string]string{mainConf: head + "[job.http \"ping\"]\ninterval = 1m\nhttp_url = example.org/ping\n"},
			[]string{mainConf + `:9: job.http "ping": http_url "example.org/ping": want an http:// or https:// URL`}},
		{"both schedule and interval", map[string]string{mainConf: head + "[job.http \"ping\"]\nschedule = minutely\ninterval = 1m\nhttp_url = /x\n"},
			[]string{mainConf + `:9: job.http "ping": both schedule (line 8) and interval: keep one (karajo would ignore the interval)`}},
		{"interval not a duration", map[string]string{mainConf: head + "[job \"deploy\"]\ninterval = 1x\ncommand = make\n"},
			[]string{mainConf + `:8: job "deploy": interval "1x": not a duration (write 90s, 5m, 1h30m)`}},
		{"interval below 1s", map[string]string{mainConf: head + "[job.http \"fast\"]\ninterval = 500ms\nhttp_url = /x\n"},
			[]string{mainConf + `:8: job.http "fast": interval "500ms": below 1s (karajo raises any interval below 1m to 1m; we keep intervals from 1s as written)`}},
		{"interval 0", map[string]string{mainConf: head + "[job.http \"zero\"]\ninterval = 0s\nhttp_url = /x\n"},
			[]string{mainConf + `:8: job.http "zero": interval "0s": below 1s`}},
		{"interval in fractions of a second", map[string]string{mainConf: head + "[job.http \"odd\"]\ninterval = 1500ms\nhttp_url = /x\n"},
			[]string{mainConf + `:8: job.http "odd": interval "1500ms": not whole seconds`}},
		{"bad schedule", map[string]string{mainConf: head + "[job \"b\"]\nschedule = weekly@Sundya@10:00\ncommand = backup\n"},
			[]string{mainConf + `:8: job "b": schedule "weekly@Sundya@10:00": day "sundya": want Sunday ... Saturday or Sun ... Sat`}},
		{"unknown schedule kind", map[string]string{mainConf: head + "[job \"b\"]\nschedule = yearly\ncommand = backup\n"},
			[]string{mainConf + `:8: job "b": schedule "yearly": unknown schedule kind "yearly"`}},
		{"bad http_method", map[string]string{mainConf: head + "[job.http \"p\"]\ninterval = 1m\nhttp_url = /x\nhttp_method = PATCH\n"},
			[]string{mainConf + `:10: job.http "p": http_method "PATCH": want GET, POST, PUT or DELETE`}},
		{"bad request type", map[string]string{mainConf: head + "[job.http \"p\"]\ninterval = 1m\nhttp_url = /x\nhttp_request_type = xml\n"},
			[]string{mainConf + `:10: job.http "p": http_request_type "xml": want query, form or json`}},
		{"bad header line", map[string]string{mainConf: head + "[job.http \"p\"]\ninterval = 1m\nhttp_url = /x\nhttp_header = Authorization Bearer x\nhttp_header = Bad Name: x\n"},
			[]string{mainConf + `:10: job.http "p": http_header "Authorization Bearer x": want "Name: value"`,
				mainConf + `:11: job.http "p": http_header "Bad Name: x": want "Name: value"`}},
		{"repeated header", map[string]string{mainConf: head + "[job.http \"p\"]\ninterval = 1m\nhttp_url = /x\nhttp_header = A: 1\nhttp_header = a: 2\n"},
			[]string{mainConf + `:11: job.http "p": http_header "a: 2": a already set at line 10 (karajo keeps only the last)`}},
		{"bad header_sign", map[string]string{mainConf: head + "[job.http \"p\"]\ninterval = 1m\nhttp_url = /x\nheader_sign = X Sign\n"},
			[]string{mainConf + `:10: job.http "p": header_sign "X Sign": not a header name`}},
		{"unknown auth_kind", map[string]string{mainConf: head + "[job \"d\"]\npath = /d\ncommand = x\nauth_kind = gitlab\n"},
			[]string{mainConf + `:10: job "d": auth_kind "gitlab": unknown (hmac-sha256 or github; karajo would use hmac-sha256)`}},
		{"sourcehut", map[string]string{mainConf: head + "[job \"d\"]\npath = /d\ncommand = x\nauth_kind = sourcehut\n"},
			[]string{mainConf + `:10: job "d": auth_kind "sourcehut": not supported here (hmac-sha256 or github)`}},
		{"unknown notif", map[string]string{mainConf: head + "[job \"d\"]\npath = /d\ncommand = x\nnotif_on_failed = ops\nnotif_on_success = Ops\n"},
			[]string{mainConf + `:11: job "d": notif_on_success: no [notif "Ops"]`}},
		{"non-numeric numbers", map[string]string{mainConf: strings.Replace(head, "[karajo]\n", "[karajo]\nmax_job_running = two\n", 1) + "[job \"d\"]\ninterval = 1m\ncommand = x\nlog_retention = 5 logs\n"},
			[]string{mainConf + `:2: [karajo]: max_job_running "two": not a whole number`,
				mainConf + `:11: job "d": log_retention "5 logs": not a whole number`}},
		{"negative number", map[string]string{mainConf: head + "[job \"d\"]\ninterval = 1m\ncommand = x\nlog_retention = -1\n"},
			[]string{mainConf + `:10: job "d": log_retention -1: may not be negative`}},
		{"bad bool", map[string]string{mainConf: head + "[job.http \"p\"]\ninterval = 1m\nhttp_url = /x\nhttp_insecure = maybe\n"},
			[]string{mainConf + `:10: job.http "p": http_insecure "maybe": want true or false`}},
		{"bad global timeout", map[string]string{mainConf: strings.Replace(head, "[karajo]\n", "[karajo]\nhttp_timeout = 5 minutes\n", 1)},
			[]string{mainConf + `:2: [karajo]: http_timeout "5 minutes": not a duration (write 90s, 5m, 1h30m)`}},
		{"path without any secret", map[string]string{mainConf: strings.Replace(head, "secret = s\n", "name = k\n", 1) + "[job \"d\"]\npath = /d\ncommand = x\n"},
			[]string{mainConf + `:4: notif "ops": a webhook is signed: set secret here or in [karajo]`,
				mainConf + `:7: job "d": path "/d" needs a secret: set secret here or in [karajo] (karajo would make up a new one at each start)`}},
		{"path of nothing", map[string]string{mainConf: head + "[job \"d\"]\npath = /\ncommand = x\n"},
			[]string{mainConf + `:8: job "d": path "/": names nothing below /karajo/api/job_exec/run`}},
		{"duplicate path", map[string]string{mainConf: head + "[job \"a\"]\npath = /deploy\ncommand = x\n",
			"etc/karajo/job.d/b.conf": "[job \"b\"]\npath = deploy/\ncommand = y\n"},
			[]string{"etc/karajo/job.d/b.conf" + `:1: job "b": path "/deploy" already triggers job "a" (` + "$BASE/" + mainConf + `:7)`}},
		{"duplicate id in one file", map[string]string{mainConf: head + "[job \"Deploy site\"]\npath = /a\ncommand = x\n[job \"deploy site\"]\npath = /b\ncommand = y\n"},
			[]string{mainConf + `:10: job "deploy site": id "deploy_site" is already the id of job "Deploy site" ($BASE/` + mainConf + `:7)`}},
		{"duplicate id across files", map[string]string{mainConf: head + "[job.http \"Ping\"]\ninterval = 1m\nhttp_url = /x\n",
			"etc/karajo/job_http.d/ping.conf": "[job.http \"ping\"]\ninterval = 1m\nhttp_url = /y\n"},
			[]string{"etc/karajo/job_http.d/ping.conf" + `:1: job.http "ping": id "ping" is already the id of job.http "Ping" ($BASE/` + mainConf + `:7)`}},
		{"same name twice across job.d files", map[string]string{mainConf: head,
			"etc/karajo/job.d/a.conf": "[job \"x\"]\ninterval = 1m\ncommand = a\n",
			"etc/karajo/job.d/b.conf": "[job \"x\"]\ninterval = 1m\ncommand = b\n"},
			[]string{"etc/karajo/job.d/b.conf" + `:1: job "x": id "x" is already the id of job "x" ($BASE/etc/karajo/job.d/a.conf:1)`}},
		{"wrong section in job.d", map[string]string{mainConf: head,
			"etc/karajo/job.d/a.conf": "[job.http \"x\"]\ninterval = 1m\nhttp_url = /x\n"},
			[]string{"etc/karajo/job.d/a.conf" + `:1: [job.http] in job.d: this directory holds only [job] sections (karajo ignores the others)`}},
		{"syntax error in job_http.d", map[string]string{mainConf: head,
			"etc/karajo/job_http.d/a.conf": "[job.http \"x\"]\ninterval = 1m\nhttp_url = \"/x\n"},
			[]string{"etc/karajo/job_http.d/a.conf" + `:3: key "http_url": unterminated double quote`}},
		{"duplicate notif", map[string]string{mainConf: head + "[notif \"ops\"]\nkind = webhook\nurl = https://h.example/y\n"},
			[]string{mainConf + `:7: notif "ops": repeated (first at $BASE/` + mainConf + `:4)`}},
		{"notif kind", map[string]string{mainConf: head + "[notif \"pager\"]\nkind = sms\n[notif \"x\"]\nurl = https://h.example/\n"},
			[]string{mainConf + `:7: notif "pager": unknown kind "sms" (email or webhook)`, mainConf + `:9: notif "x": no kind (email or webhook)`}},
		{"email notif", map[string]string{mainConf: head + "[notif \"mail\"]\nkind = email\nsmtp_server = mail.example.org:465\nfrom = not an address\nurl = https://h.example/\n"},
			[]string{mainConf + `:7: notif "mail": no to (one ` + "`to = ...`" + ` line per address)`,
				mainConf + `:9: notif "mail": smtp_server "mail.example.org:465": want smtps://host[:port], smtp+starttls://host[:port] or smtp://host[:port]`,
				mainConf + `:10: notif "mail": from "not an address": not an email address`,
				mainConf + `:11: notif "mail": unknown key "url" for kind email; it is a key of kind webhook`}},
		{"unset env", map[string]string{mainConf: head + "[notif \"mail\"]\nkind = email\nsmtp_server = smtp+starttls://mail.example.org\nsmtp_user = $KARAJOCONF_TEST_UNSET\nsmtp_password = $1x\nfrom = a@example.org\nto = b@example.org\n"},
			[]string{mainConf + `:10: notif "mail": smtp_user: environment variable KARAJOCONF_TEST_UNSET is not set`,
				mainConf + `:11: notif "mail": smtp_password "$1x": not an environment variable name after '$'`}},
		{"unreadable job.d", map[string]string{mainConf: head, "etc/karajo/job.d": "a file, not a directory"},
			[]string{"etc/karajo/job.d: open: not a directory"}},
		{"main file missing", map[string]string{"other.conf": ""},
			[]string{mainConf + `: open: no such file or directory`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := writeTree(t, c.files)
			_, err := Load(filepath.Join(base, mainConf))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want Errors", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, strings.TrimPrefix(e.Error(), base+"/"))
			}
			var want []string
			for _, w := range c.want {
				want = append(want, strings.ReplaceAll(w, "$BASE", base))
			}
			if len(got) != len(want) {
				t.Fatalf("got %d errors:\n%s\nwant %d:\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], want[i]) {
					t.Errorf("error %d:\n got %s\nwant %s", i, got[i], want[i])
				}
			}
			// Each problem is an *Error naming its file.
			var one *Error
			if !errors.As(err, &one) || !strings.HasPrefix(one.File, base) {
				t.Errorf("errors.As *Error: %v", one)
			}
		})
	}
}

func TestLoadEnvValues(t *testing.T) {
	t.Setenv("KARAJOCONF_USER", "")
	t.Setenv("KARAJOCONF_PASS", "p@ss $word")
	base := writeTree(t, map[string]string{
		mainConf: "[karajo]\ndir_base = $BASE\n[notif \"m\"]\nkind = email\nsmtp_server = SMTP+STARTTLS://[::1]:2525\n" +
			"smtp_user = $KARAJOCONF_USER\nsmtp_password = $KARAJOCONF_PASS\nfrom = a@example.org\nto = b@example.org\n" +
			"[notif \"w\"]\nkind = webhook\nurl = http://127.0.0.1:9/n\nsecret = literal\n",
	})
	cfg, err := Load(filepath.Join(base, mainConf))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Notif("m")
	// A variable set to "" is set: only an unset one is refused.
	if m.SMTPUser != "" || m.SMTPPassword != "p@ss $word" || m.SMTPScheme != "smtp+starttls" || m.SMTPAddr != "[::1]:2525" {
		t.Errorf("email notif %+v", m)
	}
	if w := cfg.Notif("w"); w.Secret != "literal" {
		t.Errorf("webhook secret %q", w.Secret)
	}
}

func TestDigestStableAcrossLoadsAndChangedByAnEdit(t *testing.T) {
	setFullEnv(t)
	base := writeTree(t, fullTree)
	file := filepath.Join(base, mainConf)
	load := func() *Config {
		t.Helper()
		cfg, err := Load(file)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a, b := load(), load()
	for _, j := range a.Jobs {
		if j.Digest() != b.Job(j.ID).Digest() || len(j.Digest()) != 64 {
			t.Errorf("job %s: digest %s then %s", j.ID, j.Digest(), b.Job(j.ID).Digest())
		}
	}
	for _, j := range a.HTTPJobs {
		if j.Digest() != b.HTTPJob(j.ID).Digest() {
			t.Errorf("http job %s: digest differs between loads", j.ID)
		}
	}

	// Moving a job down its file (blank lines, a comment) is no change.
	ping := filepath.Join(base, "etc/karajo/job_http.d/ping.conf")
	if err := os.WriteFile(ping, []byte("# moved\n\n"+pingConf), 0o644); err != nil {
		t.Fatal(err)
	}
	c := load()
	if c.HTTPJob("ping_upstream").Source.Line != 3 || c.HTTPJob("ping_upstream").Digest() != a.HTTPJob("ping_upstream").Digest() {
		t.Error("moving a job changed its digest")
	}

	// A real edit changes that job's digest only.
	if err := os.WriteFile(ping, []byte(strings.Replace(pingConf, "interval = 90s", "interval = 2m", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	d := load()
	if d.HTTPJob("ping_upstream").Digest() == a.HTTPJob("ping_upstream").Digest() {
		t.Error("changing the interval kept the digest")
	}
	if d.HTTPJob("test_long_running").Digest() != a.HTTPJob("test_long_running").Digest() {
		t.Error("another job's digest changed")
	}

	// A secret read from the environment is part of the definition.
	t.Setenv("CHAT_SECRET", "rotated")
	e := load()
	if e.Notif("chat").Digest() == a.Notif("chat").Digest() {
		t.Error("a new webhook secret kept the notif's digest")
	}
	// So is the global secret, for the jobs that inherit it.
	main, _ := os.ReadFile(file)
	if err := os.WriteFile(file, []byte(strings.Replace(string(main), "secret = s3cret", "secret = n3w", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	f := load()
	if f.Job("backup").Digest() == a.Job("backup").Digest() {
		t.Error("a new global secret kept the digest of a job using it")
	}
	if f.Job("deploy_site").Digest() != a.Job("deploy_site").Digest() {
		t.Error("a new global secret changed a job with its own secret")
	}
}

// karajo keeps ids per kind: its own test configuration has a command job
// "test fail" and an HTTP job "Test fail" that calls it.
func TestLoadSameIDInBothKinds(t *testing.T) {
	base := writeTree(t, map[string]string{
		mainConf: "[karajo]\ndir_base = $BASE\nsecret = s3cret\n" +
			"[job.http \"Test fail\"]\ninterval = 20s\nhttp_method = POST\nhttp_url = http://127.0.0.1:31937/karajo/api/job_exec/run/test-fail\nhttp_request_type = json\nhttp_header = A: B\nhttp_header = C: D\nhttp_insecure = false\n" +
			"[job \"test fail\"]\nauth_kind = hmac-sha256\npath = /test-fail\ncommand = echo \"Test job fail\"\ncommand = command-not-found\n",
	})
	cfg, err := Load(filepath.Join(base, mainConf))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Job("test_fail") == nil || cfg.HTTPJob("test_fail") == nil {
		t.Errorf("jobs %v, http jobs %v", cfg.Jobs, cfg.HTTPJobs)
	}
}
