package admit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/errkind"
)

var at = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func stamp(t *testing.T, p event.Payload) event.Event {
	t.Helper()
	ev, err := event.New(p, at.UnixNano(), "n1")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func create() event.ScheduleCreated {
	return event.ScheduleCreated{ScheduleID: "0193a8b2-7c1e-7000-8000-000000000001", AppID: "mail", Partition: 3,
		Payload: "{}", ScheduleTime: at.Unix() + 60,
		Callback: event.Callback{Type: "http", URL: "https://example.com/hook?x=1", Method: "POST",
			Headers: map[string]string{"X-Token": "t"}}}
}

func TestEveryKindOfEventTheCoreProposesIsAdmitted(t *testing.T) {
	cron := create()
	cron.ScheduleTime, cron.CronExpression, cron.TimeZone = 0, "*/5 * * * *", "Europe/Berlin"
	cron.NextRunTime = at.Unix() + 300
	next := at.Unix() + 60
	for _, p := range []event.Payload{
		event.AppRegistered{AppID: "mail", Partitions: 1024, Active: true},
		event.AppActivated{AppID: "a.b_c-1"},
		event.AppDeactivated{AppID: "mail"},
		create(),
		cron,
		event.ScheduleDeleted{ScheduleID: "s1", AppID: "mail"},
		event.RunFired{ScheduleID: "s1", RunID: "s1.r2", AppID: "mail", Partition: 0, ScheduledTime: 1, NextRunTime: next},
		event.RunCompleted{ScheduleID: "s1", RunID: "s1", AppID: "mail", Status: event.StatusMiss, ErrorMessage: "late",
			ScheduledTime: at.Unix() - 86400*365, Skipped: 3},
		event.BulkAction{AppID: "mail", Action: event.ActionReconcile, Status: event.StatusFailure, StartTime: 10, EndTime: 10 + 86400*30},
		event.NodeAnnounced{NodeID: "n1", HTTPAddr: "10.0.0.1:8080", RaftAddr: "[::1]:7000", Schema: 2},
		event.EventsCompacted{Cutoff: 1, Retention: "720h0m0s", ScheduleIDs: []string{"s1", "s2"}},
		event.SecretRotated{AppID: "mail", Secret: "whsec_" + strings.Repeat("QUJD", 11), PreviousUntil: at.UnixMilli()},
		event.ScheduleClosed{ScheduleID: "c1", AppID: "mail", Reason: event.ReasonExhausted},
		event.SignatureSpent{Digest: strings.Repeat("0f", 32), Until: at.UnixMilli() + 300_000},
		karajoCall(),
		commandJob(),
		event.RunOutput{ScheduleID: "s1", RunID: "s1", AppID: "mail", Output: []byte("\xffbinary is fine")},
		event.RunCompleted{ScheduleID: "s1", RunID: "s1", AppID: "mail", Status: event.StatusCanceled},
	} {
		if _, err := Event(stamp(t, p)); err != nil {
			t.Errorf("%T refused: %v", p, err)
		}
	}
	// A version 1 (JSON) event of an older build is admitted too.
	v1, err := stamp(t, create()).InJSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Event(v1); err != nil {
		t.Errorf("schema version 1 event refused: %v", err)
	}
}

// What was tried against a real cluster: each was committed and either
// stopped every node (a payload apply cannot decode) or stored nonsense.
func TestWhatMustNotEnterTheLog(t *testing.T) {
	mutated := func(f func(*event.ScheduleCreated)) event.Event {
		c := create()
		f(&c)
		return stamp(t, c)
	}
	undecodable := stamp(t, create())
	undecodable.Data = []byte{0xff}
	badVersion := stamp(t, create())
	badVersion.V = 7
	unknownType := stamp(t, create())
	unknownType.Type = 99
	noNode := stamp(t, create())
	noNode.Node = ""
	ancient := stamp(t, create())
	ancient.Time = -1
	cases := map[string]struct {
		ev   event.Event
		want string
	}{
		"undecodable payload": {undecodable, "does not decode"},
		"unknown version":     {badVersion, "schema version 7"},
		"unknown type":        {unknownType, "type 99"},
		"no node":             {noNode, "node"},
		"no time":             {ancient, "not a time"},
		"year 3000":           {mutated(func(c *event.ScheduleCreated) { c.ScheduleTime = 32503680000 }), "after the year 2200"},
		"long past":           {mutated(func(c *event.ScheduleCreated) { c.ScheduleTime = 978307200 }), "before"},
		"paused with next run": {mutated(func(c *event.ScheduleCreated) {
			c.ScheduleTime, c.CronExpression, c.NextRunTime, c.Paused = 0, "* * * * *", time.Now().Unix()/60*60+60, true
		}), "created paused with a next run"},
		"gopher":               {mutated(func(c *event.ScheduleCreated) { c.Callback.URL = "gopher://evil:70/x" }), "http or https"},
		"8 MiB payload":        {mutated(func(c *event.ScheduleCreated) { c.Payload = strings.Repeat("x", 8<<20) }), "larger than"},
		"payload not UTF-8":    {mutated(func(c *event.ScheduleCreated) { c.Payload = "caf\xe9" }), "UTF-8"},
		"method":               {mutated(func(c *event.ScheduleCreated) { c.Callback.Method = "get" }), "method"},
		"header injection":     {mutated(func(c *event.ScheduleCreated) { c.Callback.Headers = map[string]string{"X": "a\r\nB: c"} }), "control character"},
		"app id ..":            {mutated(func(c *event.ScheduleCreated) { c.AppID = ".." }), "AppId"},
		"schedule id path":     {mutated(func(c *event.ScheduleCreated) { c.ScheduleID = "../../events" }), "schedule id"},
		"partition":            {mutated(func(c *event.ScheduleCreated) { c.Partition = 5000 }), "partition"},
		"retry":                {mutated(func(c *event.ScheduleCreated) { c.Retry = &event.RetryPolicy{MaxAttempts: 1000} }), "retry.maxAttempts"},
		"millisecond mismatch": {mutated(func(c *event.ScheduleCreated) { c.ScheduleTimeMs = 1 }), "different seconds"},
		"cron and time": {mutated(func(c *event.ScheduleCreated) {
			c.CronExpression, c.NextRunTime = "* * * * *", at.Unix()+60
		}), "also has a scheduleTime"},
		"cron first run off its expression": {mutated(func(c *event.ScheduleCreated) {
			c.ScheduleTime, c.CronExpression, c.NextRunTime = 0, "0 * * * *", at.Unix()+61
		}), "not an occurrence"},
		"cron that does not parse": {mutated(func(c *event.ScheduleCreated) {
			c.ScheduleTime, c.CronExpression, c.NextRunTime = 0, "5-3 * * * *", at.Unix()+60
		}), "5-3"},
		"bulk range":  {stamp(t, event.BulkAction{AppID: "a", Action: "delete", StartTime: 0, EndTime: 86400 * 31}), "range"},
		"bulk action": {stamp(t, event.BulkAction{AppID: "a", Action: "explode", EndTime: 1}), "explode"},
		"outcome":     {stamp(t, event.RunCompleted{ScheduleID: "s", RunID: "s", AppID: "a", Status: "DONE"}), "DONE"},
		"node addr":   {stamp(t, event.NodeAnnounced{NodeID: "n2", HTTPAddr: "not-an-addr"}), "host:port"},
		"node port":   {stamp(t, event.NodeAnnounced{NodeID: "n2", HTTPAddr: "h:99999"}), "port"},
		"partitions":  {stamp(t, event.AppRegistered{AppID: "a", Partitions: 0}), "partitions"},
		"secret":      {stamp(t, event.SecretRotated{AppID: "a", Secret: "hunter2"}), "signing secret"},
		"userinfo": {mutated(func(c *event.ScheduleCreated) { c.Callback.URL = "http://u:p@example.com/" }),
			"user name or password"},
	}
	for name, c := range cases {
		_, err := Event(c.ev)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, errkind.Invalid) {
			t.Errorf("%s: %v, want an Invalid error containing %q", name, err, c.want)
		}
	}
}

// karajoCall is a schedule whose callback is shaped as karajo's HTTP jobs
// call: a JSON body of parameters, signed, success only on 200, over a
// union of crons.
func karajoCall() event.ScheduleCreated {
	c := create()
	c.Payload, c.ScheduleTime = "", 0
	c.CronExpression, c.NextRunTime = "0 15 8 * * *; 0 45 17 * * *", at.Truncate(24*time.Hour).Add(17*time.Hour+45*time.Minute).Unix()
	c.Callback.Shape = &event.RequestShape{TimeParam: "_karajo_epoch", Params: event.ParamsJSON, SuccessStatus: 200,
		InsecureTLS: true, Signature: &event.HMACSignature{Header: "X-Karajo-Sign", Secret: "s3cret"}}
	return c
}

// commandJob is a karajo command job: a counted, exclusive cron running
// commands, keeping 5 outputs.
func commandJob() event.ScheduleCreated {
	c := create()
	c.Payload, c.ScheduleTime, c.CronExpression, c.NextRunTime = "", 0, "@every 10s", at.Unix()+10
	c.Callback = event.Callback{Type: event.CallbackCommand, Command: &event.Command{Lines: []string{"make deploy", "echo done"},
		Dir: "karajo/job/deploy", CounterEnv: "KARAJO_JOB_COUNTER"}}
	c.Definition = event.Definition{Name: "job/deploy",
		Job: &event.JobOptions{Counted: true, Overlap: event.OverlapBufferOne, KeepOutputs: 5}}
	return c
}

func TestACommandJobIsChecked(t *testing.T) {
	cases := map[string]struct {
		f    func(*event.ScheduleCreated)
		want string
	}{
		"no commands":       {func(c *event.ScheduleCreated) { c.Callback.Command = nil }, "needs its commands"},
		"empty line":        {func(c *event.ScheduleCreated) { c.Callback.Command.Lines = []string{" "} }, "command 1 must be"},
		"escaping dir":      {func(c *event.ScheduleCreated) { c.Callback.Command.Dir = "../etc" }, "inside the data directory"},
		"absolute dir":      {func(c *event.ScheduleCreated) { c.Callback.Command.Dir = "/etc" }, "inside the data directory"},
		"unclean dir":       {func(c *event.ScheduleCreated) { c.Callback.Command.Dir = "a//b" }, "inside the data directory"},
		"counter env":       {func(c *event.ScheduleCreated) { c.Callback.Command.CounterEnv = "1X" }, "environment variable"},
		"and a URL":         {func(c *event.ScheduleCreated) { c.Callback.URL = "https://x.example/" }, "makes no HTTP call"},
		"command over http": {func(c *event.ScheduleCreated) { c.Callback.Type = "http" }, "runs no command"},
		"overlap":           {func(c *event.ScheduleCreated) { c.Job.Overlap = "skip" }, "overlap"},
		"keep outputs":      {func(c *event.ScheduleCreated) { c.Job.KeepOutputs = 5000 }, "keepOutputs"},
	}
	for name, c := range cases {
		p := commandJob()
		cmd := *p.Callback.Command
		p.Callback.Command = &cmd
		c.f(&p)
		_, err := Event(stamp(t, p))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
	big := event.RunOutput{ScheduleID: "s1", RunID: "s1", AppID: "mail", Output: make([]byte, MaxOutputBytes+1)}
	if _, err := Event(stamp(t, big)); err == nil {
		t.Error("an output over MaxOutputBytes was admitted")
	}
}

func TestACallbacksShapeIsChecked(t *testing.T) {
	cases := map[string]struct {
		f    func(*event.ScheduleCreated)
		want string
	}{
		"json params with a payload": {func(c *event.ScheduleCreated) { c.Payload = "{}" }, "payload must be empty"},
		"form params on GET":         {func(c *event.ScheduleCreated) { c.Callback.Method, c.Callback.Shape.Params = "GET", "form" }, "method must be POST"},
		"params without a parameter": {func(c *event.ScheduleCreated) { c.Callback.Shape.TimeParam = "" }, "needs timeParam"},
		"unknown params":             {func(c *event.ScheduleCreated) { c.Callback.Shape.Params = "xml" }, "query, form or json"},
		"time param name":            {func(c *event.ScheduleCreated) { c.Callback.Shape.TimeParam = "a b" }, "timeParam"},
		"signature header":           {func(c *event.ScheduleCreated) { c.Callback.Shape.Signature.Header = "X Sign" }, "signature header name"},
		"signature over ours": {func(c *event.ScheduleCreated) { c.Callback.Shape.Signature.Header = "webhook-signature" },
			"Chronicle sets"},
		"signature twice": {func(c *event.ScheduleCreated) { c.Callback.Headers = map[string]string{"x-karajo-sign": "x"} },
			"also a callback header"},
		"empty secret":     {func(c *event.ScheduleCreated) { c.Callback.Shape.Signature.Secret = "" }, "signature secret"},
		"secret with a CR": {func(c *event.ScheduleCreated) { c.Callback.Shape.Signature.Secret = "a\rb" }, "signature secret"},
		"success 500":      {func(c *event.ScheduleCreated) { c.Callback.Shape.SuccessStatus = 500 }, "2xx"},
	}
	for name, c := range cases {
		p := karajoCall()
		shape, sig := *p.Callback.Shape, *p.Callback.Shape.Signature
		shape.Signature = &sig
		p.Callback.Shape = &shape
		c.f(&p)
		_, err := Event(stamp(t, p))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
	for name, p := range map[string]event.SignatureSpent{
		"digest not hex": {Digest: strings.Repeat("g", 64), Until: at.UnixMilli() + 1},
		"digest short":   {Digest: "ab", Until: at.UnixMilli() + 1},
		"already over":   {Digest: strings.Repeat("a", 64), Until: at.UnixMilli()},
		"kept for ever":  {Digest: strings.Repeat("a", 64), Until: at.UnixMilli() + 25*3600_000},
	} {
		if _, err := Event(stamp(t, p)); err == nil {
			t.Errorf("SignatureSpent %s admitted", name)
		}
	}
}

func TestHostPort(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:7000", "db-1.internal:1", "[2001:db8::1]:65535"} {
		if err := HostPort("raftAddress", ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"not-an-addr", ":7000", "host:0", "host:http", "a b:1", "host:70000", ""} {
		if err := HostPort("raftAddress", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWorkflowsAndJobsAreChecked(t *testing.T) {
	wf := create()
	wf.Payload, wf.ScheduleTime, wf.CronExpression, wf.NextRunTime = "", 0, "@manual", 0
	wf.Callback = event.Callback{Type: event.CallbackWorkflow, Workflow: &event.Workflow{Tasks: []event.Task{
		{URL: "https://ex.example/run", Parameters: `{"config":1}`, Phase: "1", Active: true},
		{Component: "wr-db", Action: "run", Active: true, ContinueOnFailure: true, TimeoutSeconds: 1800},
	}}}
	ok := []event.Payload{wf,
		event.JobCreated{ScheduleID: "s1", AppID: "mail", Tasks: wf.Callback.Workflow.Tasks, InitializedBy: "scheduler",
			NotifyEmails: []string{"ops@example.com"}},
		event.JobStarted{JobID: 7, ScheduleID: "s1", AppID: "mail"},
		event.TaskStarted{JobID: 7, ScheduleID: "s1", AppID: "mail", Task: 1, TaskRunID: "7.1"},
		event.TaskFinished{JobID: 7, ScheduleID: "s1", AppID: "mail", Task: 1, Status: event.StatusJobWarning, Response: `{}`},
		event.JobFinished{JobID: 7, ScheduleID: "s1", AppID: "mail", Status: event.StatusJobError},
		event.JobCancelled{JobID: 8, ScheduleID: "s1", AppID: "mail"},
	}
	for _, p := range ok {
		if _, err := Event(stamp(t, p)); err != nil {
			t.Errorf("%T refused: %v", p, err)
		}
	}
	task := func(f func(*event.Task)) event.Payload {
		c := wf
		tasks := append([]event.Task(nil), wf.Callback.Workflow.Tasks...)
		f(&tasks[0])
		c.Callback = event.Callback{Type: event.CallbackWorkflow, Workflow: &event.Workflow{Tasks: tasks}}
		return c
	}
	for name, c := range map[string]struct {
		p    event.Payload
		want string
	}{
		"no call":          {task(func(t *event.Task) { t.URL = "" }), `one of "componentUrl" or "component"`},
		"ftp":              {task(func(t *event.Task) { t.URL = "ftp://x/y" }), "http or https"},
		"parameters":       {task(func(t *event.Task) { t.Parameters = "[1]" }), "JSON object"},
		"timeout":          {task(func(t *event.Task) { t.TimeoutSeconds = -1 }), "timeoutSeconds"},
		"job by whom":      {event.JobCreated{ScheduleID: "s1", AppID: "mail", InitializedBy: "cron"}, "initialized by"},
		"job id":           {event.JobStarted{ScheduleID: "s1", AppID: "mail"}, "no job id"},
		"task status":      {event.TaskFinished{JobID: 7, ScheduleID: "s1", AppID: "mail", Status: "done"}, "status"},
		"job status":       {event.JobFinished{JobID: 7, ScheduleID: "s1", AppID: "mail", Status: event.StatusJobCancelled}, "status"},
		"task run id":      {event.TaskStarted{JobID: 7, ScheduleID: "s1", AppID: "mail"}, "task run id"},
		"workflow and url": {func() event.Payload { c := wf; c.Callback.URL = "https://x.example/"; return c }(), "no call of its own"},
	} {
		if _, err := Event(stamp(t, c.p)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	if event.TypeNeeded(&wf) != event.WorkflowsSince {
		t.Error("a workflow schedule is proposed before every member reads workflows")
	}
}
