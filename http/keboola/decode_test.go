package keboola

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// What Keboola's PHP client sends for a task: every key, null for those
// not set; a phase as a number; timeout 0 meaning none.
func TestTasksAsKeboolasClientsSendThem(t *testing.T) {
	tasks, err := Tasks(json.RawMessage(`[
	 {"id":null,"component":"ex-db","componentUrl":null,"action":null,"actionParameters":{"config": 123},
	  "continueOnFailure":false,"timeoutMinutes":0,"active":true,"phase":123},
	 {"componentUrl":"https://writer.example/run","actionParameters":null,"continueOnFailure":"1","active":"0",
	  "timeoutMinutes":10,"phase":""},
	 {"component":"tr","phase":"0"},
	 {"component":"x","phase":"my phase","actionParameters":{ "b" : [1, 2] }}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 4 {
		t.Fatalf("%d tasks", len(tasks))
	}
	a, b, c, d := tasks[0], tasks[1], tasks[2], tasks[3]
	if a.Component != "ex-db" || a.ComponentURL != "" || a.Action != "" || string(a.ActionParameters) != `{"config":123}` ||
		a.TimeoutMinutes != nil || !a.Active || a.Phase == nil || *a.Phase != "123" {
		t.Errorf("first task %+v", a)
	}
	if b.ComponentURL != "https://writer.example/run" || string(b.ActionParameters) != "{}" || !b.ContinueOnFailure ||
		b.Active || b.TimeoutMinutes == nil || *b.TimeoutMinutes != 10 || b.Phase != nil {
		t.Errorf("second task %+v", b)
	}
	if c.Phase == nil || *c.Phase != "0" || !c.Active {
		t.Errorf(`"0" is a phase: %+v`, c)
	}
	if string(d.ActionParameters) != `{"b":[1,2]}` {
		t.Errorf("parameters %s", d.ActionParameters)
	}
	// Read back as Keboola shows it: unset keys absent, the phase a string.
	out, _ := json.Marshal(tasks[0])
	if s := string(out); strings.Contains(s, "componentUrl") || strings.Contains(s, `"action"`) || !strings.Contains(s, `"phase":"123"`) {
		t.Errorf("shown as %s", s)
	}
	if none, err := Tasks(json.RawMessage(`null`)); err != nil || none != nil {
		t.Errorf("null tasks: %v, %v", none, err)
	}
}

func TestTasksThatCannotRunAreRefused(t *testing.T) {
	for raw, want := range map[string]string{
		`[{"action":"run"}]`: `Task 1: one of "component" or "componentUrl" must be set`,
		`[{"component":"a"},{"componentUrl":"ftp://x/y"}]`: "Task 2: componentUrl",
		`[{"component":"a","actionParameters":[1]}]`:       "actionParameters must be an object",
		`[{"component":"a","timeoutMinutes":-1}]`:          "timeoutMinutes",
		`[{"component":"a","phase":{"x":1}}]`:              "phase must be a string or a number",
		`[{"component":"a","active":"maybe"}]`:             "active must be true or false",
		`{"component":"a"}`:                                "tasks must be a list",
		`["a"]`:                                            "task 1 must be an object",
	} {
		_, err := Tasks(json.RawMessage(raw))
		var br *BadRequest
		if !errors.As(err, &br) || !strings.Contains(br.Message, want) {
			t.Errorf("%s: %v, want a 400 containing %q", raw, err, want)
		}
	}
}

func TestNotifications(t *testing.T) {
	ns, err := Notifications(json.RawMessage(`[
	 {"email":"ops@example.com","channel":"error"},
	 {"email":"ops@example.com","channel":"processing","parameters":{"tolerance":20}},
	 {"email":"ops@example.com","channel":"waiting","parameters":[]},
	 {"url":"https://hooks.example/k","channel":"warning"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if string(ns[0].Parameters) != "{}" || string(ns[2].Parameters) != "{}" {
		t.Errorf("parameters default to {} (and PHP's [] reads so): %s %s", ns[0].Parameters, ns[2].Parameters)
	}
	if string(ns[1].Parameters) != `{"tolerance":20}` {
		t.Errorf("parameters kept as sent (the core reads tolerance and timeout from them): %s", ns[1].Parameters)
	}
	out, _ := json.Marshal(ns[0])
	if string(out) != `{"email":"ops@example.com","channel":"error","parameters":{}}` {
		t.Errorf("shown as %s (Keboola's order: email, channel, parameters)", out)
	}
	for raw, want := range map[string]string{
		`[{"email":"ops@example.com","channel":"late"}]`: "channel",
		`[{"channel":"error"}]`:                          "an email (or a url) is required",
		`[{"email":"not an address","channel":"error"}]`: "is not an email address",
		`[{"url":"gopher://x","channel":"error"}]`:       "http or https",
	} {
		if _, err := Notifications(json.RawMessage(raw)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
}

func TestKeboolasTimeAndIDs(t *testing.T) {
	at := time.Date(2013, 3, 2, 11, 11, 24, 500, time.FixedZone("CET", 3600))
	if got := Time(at); got != "2013-03-02T10:11:24+00:00" {
		t.Errorf("Time %s", got)
	}
	for raw, want := range map[string]int64{`2362`: 2362, `"2362"`: 2362} {
		if id, ok := ID(json.RawMessage(raw)); !ok || id != want {
			t.Errorf("ID(%s) = %d, %v", raw, id, ok)
		}
	}
	for _, raw := range []string{`"x"`, `0`, `-1`, `null`} {
		if _, ok := ID(json.RawMessage(raw)); ok {
			t.Errorf("ID(%s) accepted", raw)
		}
	}
}
