package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/client"
)

// The API commands (apps, schedules, cluster, token) run in-process, as
// main runs them, against real nodes: what a user types, what they read,
// and the exit status a script tests.

// cliResult is what a command printed and its exit status.
type cliResult struct {
	args     []string
	out, err string
	code     int
}

func (r cliResult) String() string {
	return fmt.Sprintf("chronicle %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.out, r.err)
}

// runChronicle runs `chronicle ARGS...` (an API command) with stdin.
func runChronicle(stdin string, args ...string) cliResult {
	var out, errs bytes.Buffer
	code := runAPICommand(args[0], args[1:], strings.NewReader(stdin), &out, &errs)
	return cliResult{args: args, out: out.String(), err: errs.String(), code: code}
}

// cli runs a command against tn, with its admin token's file when auth is
// on and its CA when it serves HTTPS: the flags a user would give.
func (tn *testNode) cli(args ...string) cliResult {
	args = append(args, "--server", tn.base)
	if tn.cfg.adminTokenFile != "" {
		args = append(args, "--token-file", tn.cfg.adminTokenFile)
	}
	if tn.cfg.tls.Enabled() {
		args = append(args, "--tls-ca", tn.cfg.tls.CA)
	}
	return runChronicle("", args...)
}

// mustCLI fails the test unless the command exits 0 and writes nothing
// to stderr but the notes it may add.
func mustCLI(t testing.TB, r cliResult) cliResult {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r
}

// cliJSON decodes a command's -o json output.
func cliJSON[T any](t testing.TB, r cliResult) T {
	t.Helper()
	mustCLI(t, r)
	var v T
	dec := json.NewDecoder(strings.NewReader(r.out))
	dec.DisallowUnknownFields() // the output is the client's structs, no more
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("-o json is not the expected document: %v\n%v", err, r)
	}
	if dec.More() {
		t.Fatalf("-o json printed more than one document\n%v", r)
	}
	return v
}

// wantError checks a failed command: its exit status, stdout empty, and
// one line on stderr that is exactly line.
func wantError(t testing.TB, r cliResult, code int, line string) {
	t.Helper()
	if r.code != code || r.out != "" || r.err != line+"\n" {
		t.Fatalf("want exit %d and the one line %q\n%v", code, line, r)
	}
}

// wantErrorPrefix is wantError for a line whose end varies (an address,
// an OS message).
func wantErrorPrefix(t testing.TB, r cliResult, code int, prefix string) {
	t.Helper()
	if r.code != code || r.out != "" || !strings.HasPrefix(r.err, prefix) || strings.Count(r.err, "\n") != 1 ||
		!strings.HasSuffix(r.err, "\n") {
		t.Fatalf("want exit %d and one line starting %q\n%v", code, prefix, r)
	}
}

// tableRow finds the table line whose first column is key and returns
// its columns.
func tableRow(t testing.TB, r cliResult, key string) []string {
	t.Helper()
	for _, line := range strings.Split(r.out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == key {
			return f
		}
	}
	t.Fatalf("no row %q in the table\n%v", key, r)
	return nil
}

// field is a FIELD VALUE table's value of field (one-schedule tables).
func field(t testing.TB, r cliResult, name string) string {
	t.Helper()
	for _, line := range strings.Split(r.out, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no field %s in the table\n%v", name, r)
	return ""
}

// noAmbientCredentials keeps the environment of whoever runs the tests
// out of the commands.
func noAmbientCredentials(t *testing.T) {
	for _, env := range []string{"CHRONICLE_SERVER", "CHRONICLE_TOKEN", "CHRONICLE_TOKEN_FILE", "CHRONICLE_ADMIN_TOKEN_FILE", "CHRONICLE_TLS_CA"} {
		t.Setenv(env, "")
	}
}

// Through every node of a cluster with auth on, leader and followers:
// an app is registered and listed, a one-time schedule reaches a real
// receiver, a cron is triggered, listed, paused, resumed, updated and
// deleted, with its runs and history; tokens are issued, used, listed and
// revoked; the cluster is shown and its leadership moved.
func TestCLIThroughEveryNode(t *testing.T) {
	noAmbientCredentials(t)
	tokenFile := writeSecret(t, "admin-token", strings.Repeat("c", 32))
	nodes := makeCluster(t, 3, clusterOpts{tune: func(c *serveConfig) { c.adminTokenFile = tokenFile }})
	leader, _ := leaderAndFollowers(t, nodes)
	rc := newReceiver(t)

	for i, tn := range nodes {
		app := fmt.Sprintf("cli%d", i)
		where := tn.cfg.nodeID
		if tn == leader {
			where += " (leader)"
		}
		t.Logf("commands through %s", where)

		res := mustCLI(t, tn.cli("apps", "register", app, "--partitions", "2"))
		if row := tableRow(t, res, app); !slices.Equal(row, []string{app, "2", "true"}) {
			t.Fatalf("register printed %v", row)
		}
		list := cliJSON[client.AppList](t, tn.cli("apps", "list", "-o", "json"))
		if !slices.Contains(list.Apps, client.App{AppID: app, Partitions: 2, Active: true}) {
			t.Fatalf("apps list through %s: %+v", where, list.Apps)
		}

		// A one-time schedule, a second from now, reaches the receiver
		// with its payload and header.
		path := "/once-" + app
		once := cliJSON[scheduleJSON](t, tn.cli("schedules", "create", "--app", app, "--in", "1s", "--url", rc.url(path),
			"--payload", "p-"+app, "--header", "X-Test: cli", "--name", "once-"+app, "-o", "json")).Schedule
		if once.AppID != app || once.Status != "SCHEDULED" || once.Name != "once-"+app || once.Callback.Details.Method != "POST" {
			t.Fatalf("create printed %+v", once)
		}
		waitFor(t, 10*time.Second, "the one-time schedule's call", func() bool { return len(rc.hitsFor(path)) == 1 })
		if h := rc.hitsFor(path)[0]; h.Body != "p-"+app || h.Header.Get("X-Test") != "cli" || h.RunID != once.ScheduleID {
			t.Fatalf("the receiver got %+v", h)
		}
		waitFor(t, 10*time.Second, "SUCCESS shown by schedules get", func() bool {
			return field(t, mustCLI(t, tn.cli("schedules", "get", once.ScheduleID)), "STATUS") == "SUCCESS"
		})
		if runs := cliJSON[client.SchedulePage](t, tn.cli("schedules", "runs", once.ScheduleID, "-o", "json")); len(runs.Schedules) != 1 ||
			runs.Schedules[0].Status != "SUCCESS" || runs.Schedules[0].HTTPStatus != 200 {
			t.Fatalf("runs of the one-time schedule: %+v", runs)
		}

		// A cron, triggered: its run reaches the receiver under the run id
		// trigger printed.
		cpath := "/cron-" + app
		cron := cliJSON[scheduleJSON](t, tn.cli("schedules", "create", "--app", app, "--cron", "0 0 0 1 1 *", "--url", rc.url(cpath),
			"--method", "GET", "--name", "sync-"+app, "--label", "team=ops", "--max-attempts", "2", "-o", "json")).Schedule
		if cron.CronExpression != "0 0 0 1 1 *" || cron.Labels["team"] != "ops" || cron.Retry == nil || cron.Retry.MaxAttempts != 2 {
			t.Fatalf("cron create printed %+v", cron)
		}
		res = mustCLI(t, tn.cli("schedules", "trigger", cron.ScheduleID))
		runID := cron.ScheduleID + ".t1"
		if row := tableRow(t, res, runID); row[1] != cron.ScheduleID {
			t.Fatalf("trigger printed %v", res)
		}
		waitFor(t, 10*time.Second, "the triggered run's call", func() bool {
			h := rc.hitsFor(cpath)
			return len(h) == 1 && h[0].RunID == runID && h[0].Method == "GET"
		})
		waitFor(t, 10*time.Second, "the triggered run listed SUCCESS", func() bool {
			r := tn.cli("schedules", "runs", cron.ScheduleID, "-o", "json")
			if r.code != 0 { // 404 until the run is recorded here
				return false
			}
			p := cliJSON[client.SchedulePage](t, r)
			return len(p.Schedules) == 1 && p.Schedules[0].ScheduleID == runID && p.Schedules[0].Status == "SUCCESS"
		})
		future := mustCLI(t, tn.cli("schedules", "runs", cron.ScheduleID, "--when", "future", "--size", "2"))
		if lines := strings.Split(strings.TrimSpace(future.out), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "RUN ") ||
			!strings.Contains(lines[1], "SCHEDULED") || !strings.Contains(future.err, "more: add --page-token ") {
			t.Fatalf("future runs:\n%v", future)
		}

		res = mustCLI(t, tn.cli("schedules", "pause", cron.ScheduleID))
		if field(t, res, "STATUS") != "PAUSED" || field(t, res, "EXPRESSION") != "0 0 0 1 1 *" {
			t.Fatalf("pause printed\n%v", res)
		}
		wantErrorPrefix(t, tn.cli("schedules", "pause", cron.ScheduleID), 1, "chronicle schedules pause: 409 conflict: ")
		if s := cliJSON[scheduleJSON](t, tn.cli("schedules", "resume", cron.ScheduleID, "-o", "json")).Schedule; s.Status != "SCHEDULED" {
			t.Fatalf("resume: %+v", s)
		}
		upd := cliJSON[scheduleJSON](t, tn.cli("schedules", "update", cron.ScheduleID, "--payload", "v2", "--cron", "0 0 0 2 1 *", "-o", "json")).Schedule
		if upd.Payload != "v2" || upd.CronExpression != "0 0 0 2 1 *" || upd.Name != "sync-"+app {
			t.Fatalf("update: %+v", upd)
		}
		if got := cliJSON[scheduleJSON](t, tn.cli("schedules", "get", cron.ScheduleID, "--linearizable", "-o", "json")).Schedule; got.Payload != "v2" {
			t.Fatalf("get after update: %+v", got)
		}
		events := cliJSON[client.EventPage](t, tn.cli("schedules", "events", cron.ScheduleID, "-o", "json"))
		var types []string
		for _, e := range events.Events {
			types = append(types, e.Type)
			if e.Actor == "" {
				t.Errorf("event %d %s has no actor", e.Seq, e.Type)
			}
		}
		for _, want := range []string{"ScheduleCreated", "RunTriggered", "RunFired", "RunCompleted", "SchedulePaused", "ScheduleResumed", "ScheduleUpdated"} {
			if !slices.Contains(types, want) {
				t.Fatalf("events of the cron through %s: %v, no %s", where, types, want)
			}
		}
		if events.ScheduleID != cron.ScheduleID || events.More {
			t.Fatalf("events page: %+v", events)
		}

		res = mustCLI(t, tn.cli("schedules", "list", "--app", app))
		if row := tableRow(t, res, once.ScheduleID); row[1] != "SUCCESS" {
			t.Fatalf("list: %v", row)
		}
		res = mustCLI(t, tn.cli("schedules", "list", "--app", app, "--crons"))
		if row := tableRow(t, res, cron.ScheduleID); row[1] != "SCHEDULED" || row[3] != "cron" {
			t.Fatalf("list --crons: %v", row)
		}
		if ev := cliJSON[client.EventPage](t, tn.cli("apps", "events", app, "--size", "1", "-o", "json")); ev.AppID != app ||
			len(ev.Events) != 1 || ev.Events[0].Type != "AppRegistered" || !ev.More {
			t.Fatalf("apps events: %+v", ev)
		}

		if s := cliJSON[scheduleJSON](t, tn.cli("schedules", "delete", cron.ScheduleID, "-o", "json")).Schedule; s.Status != "DELETED" {
			t.Fatalf("delete: %+v", s)
		}
		wantError(t, tn.cli("schedules", "delete", cron.ScheduleID), 1, "chronicle schedules delete: 404 not found: not found")
		wantError(t, tn.cli("schedules", "get", "no-such-"+app), 1,
			"chronicle schedules get: 404 not found: Schedule with id: no-such-"+app+" not found")

		if act := cliJSON[client.AppActivation](t, tn.cli("apps", "deactivate", app, "-o", "json")); act.Active {
			t.Fatalf("deactivate: %+v", act)
		}
		wantError(t, tn.cli("apps", "deactivate", app), 1, "chronicle apps deactivate: 409 conflict: app is already deactivated")
		mustCLI(t, tn.cli("apps", "activate", app))
	}

	// Tokens: issued through one node, used through another, listed
	// through the third, revoked, refused everywhere.
	a, b, c := nodes[0], nodes[1], nodes[2]
	issued := cliJSON[client.IssuedToken](t, b.cli("token", "create", "--name", "ci", "--role", "writer", "--apps", "cli0", "-o", "json"))
	if !strings.HasPrefix(issued.Token, "chr_") || issued.ID == "" {
		t.Fatalf("token create: %+v", issued)
	}
	waitFor(t, 10*time.Second, "the token listed on "+c.cfg.nodeID, func() bool {
		list := cliJSON[client.TokenList](t, c.cli("token", "list", "-o", "json"))
		return slices.ContainsFunc(list.Tokens, func(tk client.Token) bool {
			return tk.ID == issued.ID && tk.Role == "writer" && slices.Equal(tk.Apps, []string{"cli0"}) && tk.RevokedAt == ""
		})
	})
	t.Setenv("CHRONICLE_TOKEN", issued.Token) // the token from the environment, no flag
	waitFor(t, 10*time.Second, "the token works on "+a.cfg.nodeID, func() bool {
		return runChronicle("", "apps", "list", "--server", a.base).code == 0
	})
	if row := tableRow(t, mustCLI(t, runChronicle("", "apps", "list", "--server", a.base)), "cli0"); row[0] != "cli0" {
		t.Fatal(row)
	}
	if out := runChronicle("", "apps", "list", "--server", a.base).out; strings.Contains(out, "cli1") {
		t.Fatalf("a token scoped to cli0 lists other apps:\n%s", out)
	}
	wantErrorPrefix(t, runChronicle("", "apps", "register", "other", "--server", a.base), 1, "chronicle apps register: 403 forbidden: ")
	res := mustCLI(t, c.cli("token", "revoke", issued.ID))
	if res.out != "revoked "+issued.ID+"\n" {
		t.Fatalf("revoke printed %v", res)
	}
	for _, tn := range nodes {
		waitFor(t, 10*time.Second, "the revoked token refused by "+tn.cfg.nodeID, func() bool {
			return runChronicle("", "apps", "list", "--server", tn.base).code == 1
		})
		wantErrorPrefix(t, runChronicle("", "apps", "list", "--server", tn.base), 1, "chronicle apps list: 401 unauthorized: ")
	}
	t.Setenv("CHRONICLE_TOKEN", "")
	wantErrorPrefix(t, runChronicle("", "cluster", "status", "--server", a.base), 1, "chronicle cluster status: 401 unauthorized: ")

	// The cluster as each node sees it, then leadership moved through a
	// follower to the other follower.
	for _, tn := range nodes {
		st := cliJSON[client.ClusterStatus](t, tn.cli("cluster", "status", "-o", "json"))
		if st.NodeID != tn.cfg.nodeID || st.LeaderID != leader.cfg.nodeID || len(st.Members) != 3 {
			t.Fatalf("cluster status through %s: %+v", tn.cfg.nodeID, st)
		}
		res := mustCLI(t, tn.cli("cluster", "status"))
		if row := tableRow(t, res, leader.cfg.nodeID); row[3] != "true" || row[4] != "true" || row[5] != "true" {
			t.Fatalf("the leader's row: %v\n%v", row, res)
		}
	}
	_, followers := leaderAndFollowers(t, nodes)
	via, target := followers[0], followers[1]
	mustCLI(t, via.cli("cluster", "transfer", target.cfg.nodeID))
	waitFor(t, 15*time.Second, target.cfg.nodeID+" leads on every node", func() bool {
		for _, tn := range nodes {
			r := tn.cli("cluster", "status", "-o", "json")
			if r.code != 0 || cliJSON[client.ClusterStatus](t, r).LeaderID != target.cfg.nodeID {
				return false
			}
		}
		return true
	})
	// The old leader takes writes again, as a follower now.
	waitFor(t, 15*time.Second, "a create through the old leader", func() bool {
		return leader.cli("schedules", "create", "--app", "cli0", "--in", "1h", "--url", rc.url("/after")).code == 0
	})
	wantErrorPrefix(t, via.cli("cluster", "remove", "n9"), 1, "chronicle cluster remove: 404 not found: ")
	ensureSame(t, nodes)
}

// What a user gets wrong, and a server that is not there: one line on
// stderr naming the problem, and the exit status (2: the command line, 1:
// the server or the network).
func TestCLIErrors(t *testing.T) {
	noAmbientCredentials(t)
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	mustCLI(t, tn.cli("apps", "register", "errs"))
	rc := newReceiver(t)

	for _, c := range []struct {
		args []string
		line string
	}{
		{[]string{"schedules", "get", "--bogus", "x"}, "chronicle schedules get: flag provided but not defined: -bogus (chronicle schedules get -h)"},
		{[]string{"schedules", "get"}, "chronicle schedules get: takes ID, got 0 argument(s) (chronicle schedules get -h)"},
		{[]string{"schedules", "get", "a", "b"}, "chronicle schedules get: takes ID, got 2 argument(s) (chronicle schedules get -h)"},
		{[]string{"schedules", "fetch"}, `chronicle schedules: unknown command "fetch": give create, get, list, update, pause, resume, trigger, cancel, output, delete, runs, events (chronicle schedules -h)`},
		{[]string{"schedules", "get", "x", "-o", "yaml"}, `chronicle schedules get: -o must be table or json, not "yaml"`},
		{[]string{"schedules", "create", "--url", rc.url("/x"), "--in", "1m"}, "chronicle schedules create: --app is required"},
		{[]string{"schedules", "create", "--app", "errs", "--url", rc.url("/x")},
			"chronicle schedules create: give --cron EXPR for a cron, or --at TIME or --in DELAY for a one-time schedule"},
		{[]string{"schedules", "create", "--app", "errs", "--in", "1m"}, "chronicle schedules create: --url is required"},
		{[]string{"schedules", "create", "--app", "errs", "--in", "1m", "--url", "ftp://x/y"},
			`chronicle schedules create: --url "ftp://x/y" is not an absolute http:// or https:// URL`},
		{[]string{"schedules", "create", "--app", "errs", "--in", "1m", "--url", rc.url("/x"), "--method", "FETCH"},
			`chronicle schedules create: --method "FETCH": use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS`},
		{[]string{"schedules", "create", "--app", "errs", "--at", "tomorrow", "--url", rc.url("/x")},
			`chronicle schedules create: --at "tomorrow" is not a time: give RFC 3339 (2026-12-24T18:00:00Z), unix seconds or 'YYYY-MM-DD HH:MM:SS' (UTC)`},
		{[]string{"schedules", "create", "--app", "errs", "--in", "1m", "--cron", "@daily", "--url", rc.url("/x")},
			"chronicle schedules create: give --cron (a cron) or --at/--in (a one-time schedule), not both"},
		{[]string{"schedules", "create", "--app", "errs", "--in", "1m", "--url", rc.url("/x"), "--header", "NoColon"},
			`chronicle schedules create: --header "NoColon": give 'Name: value'`},
		{[]string{"schedules", "create", "-f", "x.json", "--app", "errs"}, "chronicle schedules create: give the schedule as flags or as -f, not both (-f with --app)"},
		{[]string{"schedules", "update", "x"}, "chronicle schedules update: nothing to change: give at least one field flag (chronicle schedules update -h)"},
		{[]string{"schedules", "update", "x", "--url", rc.url("/y")},
			"chronicle schedules update: a new callback replaces the old one whole: give --url and --method (and any --header) together"},
		{[]string{"schedules", "list"}, "chronicle schedules list: --app is required (or --crons for the crons of every app)"},
		{[]string{"schedules", "list", "--app", "errs", "--from", "2026-01-01T00:00:00Z", "--to", "2026-03-01T00:00:00Z"},
			"chronicle schedules list: --from and --to are more than 30 days apart (the API's limit)"},
		{[]string{"schedules", "runs", "x", "--when", "later"}, `chronicle schedules runs: --when must be past or future, not "later"`},
		{[]string{"cluster", "add", "n4", "nohost"}, `chronicle cluster add: the Raft address "nohost" is not host:port`},
		{[]string{"token", "create", "--role", "reader"}, "chronicle token create: --name is required: say what the token is for"},
		{[]string{"apps", "list", "--token", "t", "--token-file", "f"}, "chronicle apps list: give --token or --token-file, not both"},
		{[]string{"apps", "list", "--token-file", "/nonexistent/token"}, "chronicle apps list: --token-file: open /nonexistent/token: no such file or directory"},
		{[]string{"schedules", "create", "-f", "/nonexistent/s.json"}, "chronicle schedules create: -f: open /nonexistent/s.json: no such file or directory"},
	} {
		wantError(t, tn.cli(c.args...), 2, c.line)
	}
	wantError(t, runChronicle("", "apps", "list", "--server", "localhost:8080"), 2,
		`chronicle apps list: --server: server URL "localhost:8080": want http://host:port or https://host:port`)
	wantError(t, runChronicle("", "schedules"), 2,
		"chronicle schedules: give a command: create, get, list, update, pause, resume, trigger, cancel, output, delete, runs, events (chronicle schedules -h)")

	// -h is not an error: the help goes to stdout.
	if r := runChronicle("", "schedules", "create", "-h"); r.code != 0 || !strings.Contains(r.out, "Usage: chronicle schedules create [flags]") ||
		!strings.Contains(r.out, "--cron string") || !strings.Contains(r.out, "--server string") || r.err != "" {
		t.Fatalf("create -h:\n%v", r)
	}

	// The server's refusals, in its words: exit 1.
	wantError(t, tn.cli("schedules", "get", "nope"), 1, "chronicle schedules get: 404 not found: Schedule with id: nope not found")
	wantError(t, tn.cli("apps", "register", "errs"), 1, "chronicle apps register: 409 conflict: app already registered: errs")
	wantError(t, tn.cli("schedules", "create", "--app", "ghost", "--in", "1m", "--url", rc.url("/x")), 1,
		"chronicle schedules create: 400 bad request: unregistered App")
	wantErrorPrefix(t, tn.cli("schedules", "create", "--app", "errs", "--at", "2020-01-01T00:00:00Z", "--url", rc.url("/x")), 1,
		"chronicle schedules create: 400 bad request: schedule time : 1577836800 is less than current time: ")

	// -f: a JSON body from a file or stdin; one the API would not read
	// is refused before any call.
	body := fmt.Sprintf(`{"appId":"errs","payload":"from-f","scheduleTime":%d,"callback":{"type":"http","details":{"url":%q,"method":"PUT"}}}`,
		time.Now().Unix()+1, rc.url("/f"))
	file := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := cliJSON[scheduleJSON](t, tn.cli("schedules", "create", "-f", file, "-o", "json")).Schedule
	res := runChronicle(strings.Replace(body, "from-f", "from-stdin", 1), "schedules", "create", "-f", "-", "--server", tn.base, "-o", "json")
	fromStdin := cliJSON[scheduleJSON](t, res).Schedule
	if fromFile.Payload != "from-f" || fromStdin.Payload != "from-stdin" || fromStdin.Callback.Details.Method != "PUT" {
		t.Fatalf("-f: %+v, -f -: %+v", fromFile, fromStdin)
	}
	waitFor(t, 10*time.Second, "both calls", func() bool { return len(rc.hitsFor("/f")) == 2 })
	wantErrorPrefix(t, runChronicle(`{"appId":"errs","cron":"@daily"}`, "schedules", "create", "-f", "-", "--server", tn.base), 2,
		`chronicle schedules create: -f -: not the request's JSON: json: unknown field "cron"`)

	// No server there: exit 1, the address and the reason.
	down := "http://" + freeAddr(t)
	wantErrorPrefix(t, runChronicle("", "schedules", "get", "x", "--server", down), 1,
		"chronicle schedules get: get schedule x: cannot reach "+down+": ")
	t.Setenv("CHRONICLE_SERVER", down) // the environment names the server
	wantErrorPrefix(t, runChronicle("", "cluster", "status"), 1, "chronicle cluster status: cluster status: cannot reach "+down+": ")
	t.Setenv("CHRONICLE_SERVER", tn.base)
	mustCLI(t, runChronicle("", "cluster", "status"))
}

// keyPaths lists a JSON document's keys in the order they appear, each as
// its path (schedule.callback.details.url; [] for an array's items).
func keyPaths(t testing.TB, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	var paths []string
	var walk func(prefix string)
	walk = func(prefix string) {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%v in %s", err, doc)
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					t.Fatal(err)
				}
				p := strings.TrimPrefix(prefix+"."+k.(string), ".")
				paths = append(paths, p)
				walk(p)
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				walk(prefix + "[]")
			}
			_, _ = dec.Token()
		}
	}
	walk("")
	return paths
}

// -o json is a contract with scripts: the API's data, its field names
// and their order fixed. The golden lists below change only with the
// API; the output must also be, key for key, what the API answers.
func TestCLIJSONFieldOrder(t *testing.T) {
	noAmbientCredentials(t)
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	mustCLI(t, tn.cli("apps", "register", "golden", "--partitions", "3"))
	rc := newReceiver(t)
	s := cliJSON[scheduleJSON](t, tn.cli("schedules", "create", "--app", "golden", "--cron", "0 0 12 * * *", "--tz", "Europe/Berlin",
		"--url", rc.url("/g"), "--header", "X-Test: yes", "--payload", "p", "--name", "nightly", "--label", "team=ops",
		"--max-attempts", "3", "--stop-on-callback", "-o", "json")).Schedule

	for _, c := range []struct {
		args   []string
		api    string // the endpoint whose data the output must be
		golden []string
	}{
		{[]string{"schedules", "get", s.ScheduleID}, "/goscheduler/schedules/" + s.ScheduleID, []string{
			"schedule", "schedule.scheduleId", "schedule.payload", "schedule.appId", "schedule.partitionId",
			"schedule.callback", "schedule.callback.type", "schedule.callback.details", "schedule.callback.details.url",
			"schedule.callback.details.method", "schedule.callback.details.headers", "schedule.callback.details.headers.X-Test",
			"schedule.cronExpression", "schedule.timeZone", "schedule.nextRunTime", "schedule.retry", "schedule.retry.maxAttempts",
			"schedule.status", "schedule.number", "schedule.name", "schedule.stopOnCallback", "schedule.labels", "schedule.labels.team"}},
		{[]string{"apps", "list"}, "/goscheduler/apps", []string{
			"apps", "apps[].appId", "apps[].partitions", "apps[].active"}},
	} {
		out := mustCLI(t, tn.cli(append(c.args, "-o", "json")...)).out
		got := keyPaths(t, []byte(out))
		if !slices.Equal(got, c.golden) {
			t.Errorf("chronicle %s -o json keys:\n got %q\nwant %q", strings.Join(c.args, " "), got, c.golden)
		}
		api := keyPaths(t, tn.must(200, "GET", c.api, nil).Data)
		if !slices.Equal(got, api) {
			t.Errorf("chronicle %s -o json is not the API's data:\n cli %q\n api %q", strings.Join(c.args, " "), got, api)
		}
		var compact, indented bytes.Buffer
		if err := json.Compact(&compact, []byte(out)); err != nil {
			t.Fatal(err)
		}
		if err := json.Indent(&indented, compact.Bytes(), "", "  "); err != nil || indented.String()+"\n" != out {
			t.Errorf("chronicle %s -o json is not one indented document:\n%s", strings.Join(c.args, " "), out)
		}
	}
}

// TestCLIAppSecretAndBulkAction: an app's signing secret is read and
// rotated from the CLI; a bulk action deletes an app's matching schedules
// only with --yes, and reconciles with the API's count.
func TestCLIAppSecretAndBulkAction(t *testing.T) {
	noAmbientCredentials(t)
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	mustCLI(t, tn.cli("apps", "register", "shop"))

	first := cliJSON[client.SigningSecret](t, tn.cli("apps", "secret", "shop", "-o", "json"))
	if !strings.HasPrefix(first.Secret, "whsec_") || first.PreviousValidUntil != "" {
		t.Fatalf("secret: %+v", first)
	}
	rotated := cliJSON[client.SigningSecret](t, tn.cli("apps", "secret", "shop", "--rotate", "-o", "json"))
	if !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == first.Secret || rotated.PreviousValidUntil == "" {
		t.Fatalf("rotated: %+v (before %+v)", rotated, first)
	}
	if got := field(t, mustCLI(t, tn.cli("apps", "secret", "shop")), "SECRET"); got != rotated.Secret {
		t.Fatalf("secret after the rotation: %q, want %q", got, rotated.Secret)
	}

	var ids []string
	for i := range 3 {
		s := cliJSON[scheduleJSON](t, tn.cli("schedules", "create", "--app", "shop", "--in", "2h", "--url", rc.url(fmt.Sprintf("/b%d", i)),
			"-o", "json")).Schedule
		ids = append(ids, s.ScheduleID)
	}
	wantError(t, tn.cli("apps", "bulk-action", "shop", "delete", "--status", "SCHEDULED"), 2,
		"chronicle apps bulk-action: delete removes every matching schedule for good: add --yes")
	wantError(t, tn.cli("apps", "bulk-action", "shop", "archive"), 2,
		`chronicle apps bulk-action: the action is delete or reconcile, not "archive"`)
	if got := field(t, mustCLI(t, tn.cli("schedules", "get", ids[0])), "STATUS"); got != "SCHEDULED" {
		t.Fatalf("refused bulk actions changed a schedule: %s", got)
	}
	out := cliJSON[client.BulkActionResult](t, tn.cli("apps", "bulk-action", "shop", "reconcile", "--status", "FAILURE", "-o", "json"))
	if out != (client.BulkActionResult{Action: "reconcile", Affected: 0}) {
		t.Fatalf("reconcile of no failures: %+v", out)
	}
	res := mustCLI(t, tn.cli("apps", "bulk-action", "shop", "delete", "--status", "SCHEDULED", "--yes"))
	if row := tableRow(t, res, "delete"); !slices.Equal(row, []string{"delete", "3"}) {
		t.Fatalf("bulk delete printed %v", row)
	}
	for _, id := range ids {
		waitFor(t, 5*time.Second, "schedule "+id+" deleted", func() bool {
			return field(t, mustCLI(t, tn.cli("schedules", "get", id)), "STATUS") == "DELETED"
		})
	}
}
