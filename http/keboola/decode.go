// Package keboola will serve Keboola Orchestrator's API (/orchestrations,
// /jobs, /run) over the core's workflow jobs (issue 19). This file holds
// what does not depend on the core: reading orchestrations' tasks and
// notifications as Keboola's clients send them (every key, with null for
// the ones not set; ids as numbers or numeric strings; phases as numbers
// or strings) into checked values, and Keboola's time format. The
// contract is /work/notes' spec, from Keboola's clients' tests against its
// production API.
package keboola

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Task is an orchestration's task as Keboola's API shows it: Component
// (with Action, default run) or ComponentURL, the parameters sent as the
// call's body, and how the job treats it.
type Task struct {
	ID                int             `json:"id"`
	Component         string          `json:"component,omitempty"`
	ComponentURL      string          `json:"componentUrl,omitempty"`
	Action            string          `json:"action,omitempty"`
	ActionParameters  json.RawMessage `json:"actionParameters"`
	ContinueOnFailure bool            `json:"continueOnFailure"`
	TimeoutMinutes    *float64        `json:"timeoutMinutes"` // fractions allowed (Chronicle's: seconds count)
	Active            bool            `json:"active"`
	// Phase is a string however it was sent (123 reads back "123"); ""
	// and null are no phase.
	Phase *string `json:"phase"`
}

// Notification is who is told of a job, on which channel: error, warning
// (when a job ends so), waiting (parameters.timeout minutes), processing
// (parameters.tolerance percent over the usual). URL is ours: a signed
// webhook instead of, or beside, the email.
type Notification struct {
	Email      string          `json:"email"`
	Channel    string          `json:"channel"`
	Parameters json.RawMessage `json:"parameters"`
	URL        string          `json:"url,omitempty"`
}

// Channels of a notification.
var Channels = map[string]bool{"error": true, "warning": true, "waiting": true, "processing": true}

// BadRequest is a request Keboola answers 400 ("User error").
type BadRequest struct{ Message string }

func (e *BadRequest) Error() string { return e.Message }

func bad(format string, args ...any) error { return &BadRequest{fmt.Sprintf(format, args...)} }

// emptyList: [], which PHP clients send for an empty object.
func emptyList(raw json.RawMessage) bool {
	var list []json.RawMessage
	return json.Unmarshal(raw, &list) == nil && len(list) == 0
}

// present: a key given with a value other than null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// Tasks reads a list of tasks (a JSON array; null is none). n counts from
// 1 in messages, as Keboola's clients number them.
func Tasks(raw json.RawMessage) ([]Task, error) {
	var items []json.RawMessage
	if !present(raw) {
		return nil, nil
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, bad("tasks must be a list of tasks")
	}
	out := make([]Task, 0, len(items))
	for i, item := range items {
		t, err := task(item, i+1)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func task(raw json.RawMessage, n int) (Task, error) {
	var in map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil || in == nil {
		return Task{}, bad("task %d must be an object", n)
	}

	t := Task{Active: true, ActionParameters: json.RawMessage("{}")}
	var err error
	if t.Component, err = optString(in["component"], fmt.Sprintf("task %d: component", n)); err != nil {
		return t, err
	}
	if t.ComponentURL, err = optString(in["componentUrl"], fmt.Sprintf("task %d: componentUrl", n)); err != nil {
		return t, err
	}
	if t.Action, err = optString(in["action"], fmt.Sprintf("task %d: action", n)); err != nil {
		return t, err
	}
	switch {
	case t.Component == "" && t.ComponentURL == "":
		return t, bad(`Task %d: one of "component" or "componentUrl" must be set`, n)
	case t.ComponentURL != "":
		u, perr := url.Parse(t.ComponentURL)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return t, bad("Task %d: componentUrl %q must be an http or https URL", n, clip(t.ComponentURL))
		}
	}
	if present(in["actionParameters"]) && !emptyList(in["actionParameters"]) {
		var obj map[string]json.RawMessage
		if json.Unmarshal(in["actionParameters"], &obj) != nil {
			return t, bad("Task %d: actionParameters must be an object", n)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, in["actionParameters"]); err != nil {
			return t, bad("Task %d: actionParameters: %v", n, err)
		}
		t.ActionParameters = buf.Bytes()
	}
	if t.ContinueOnFailure, err = optBool(in["continueOnFailure"], false, fmt.Sprintf("task %d: continueOnFailure", n)); err != nil {
		return t, err
	}
	if t.Active, err = optBool(in["active"], true, fmt.Sprintf("task %d: active", n)); err != nil {
		return t, err
	}
	if present(in["timeoutMinutes"]) {
		m, perr := number(in["timeoutMinutes"])
		switch {
		case perr != nil || m < 0 || m*60 > maxTimeoutSeconds:
			return t, bad("Task %d: timeoutMinutes must be a number of minutes between 0 (none) and %d", n, maxTimeoutSeconds/60)
		case m > 0:
			t.TimeoutMinutes = &m
		}
	}
	if t.Phase, err = phase(in["phase"], n); err != nil {
		return t, err
	}
	return t, nil
}

// phase reads a task's phase: a number or a string, kept as a string; ""
// and null are none.
func phase(raw json.RawMessage, n int) (*string, error) {
	if !present(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil
		}
		return &s, nil
	}
	var num json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&num) != nil {
		return nil, bad("Task %d: phase must be a string or a number", n)
	}
	s = num.String()
	return &s, nil
}

// Notifications reads a list of notifications (null is none).
func Notifications(raw json.RawMessage) ([]Notification, error) {
	if !present(raw) {
		return nil, nil
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, bad("notifications must be a list of {email, channel, parameters}")
	}
	out := make([]Notification, 0, len(items))
	for i, f := range items {
		n := i + 1
		var nt Notification
		var err error
		if nt.Email, err = optString(f["email"], fmt.Sprintf("notification %d: email", n)); err != nil {
			return nil, err
		}
		if nt.Channel, err = optString(f["channel"], fmt.Sprintf("notification %d: channel", n)); err != nil {
			return nil, err
		}
		if nt.URL, err = optString(f["url"], fmt.Sprintf("notification %d: url", n)); err != nil {
			return nil, err
		}
		if !Channels[nt.Channel] {
			return nil, bad("Notification %d: channel %q must be error, warning, waiting or processing", n, clip(nt.Channel))
		}
		switch {
		case nt.Email == "" && nt.URL == "":
			return nil, bad("Notification %d: an email (or a url) is required", n)
		case nt.Email != "":
			if _, perr := mail.ParseAddress(nt.Email); perr != nil || strings.ContainsAny(nt.Email, "<>") {
				return nil, bad("Notification %d: %q is not an email address", n, clip(nt.Email))
			}
		}
		if nt.URL != "" {
			u, perr := url.Parse(nt.URL)
			if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, bad("Notification %d: url %q must be an http or https URL", n, clip(nt.URL))
			}
		}
		nt.Parameters = json.RawMessage("{}")
		if p := f["parameters"]; present(p) {
			var obj map[string]json.RawMessage
			if json.Unmarshal(p, &obj) != nil {
				if !emptyList(p) { // PHP clients send an empty object as []
					return nil, bad("Notification %d: parameters must be an object", n)
				}
			} else {
				var buf bytes.Buffer
				_ = json.Compact(&buf, p)
				nt.Parameters = buf.Bytes()
			}
		}
		out = append(out, nt)
	}
	return out, nil
}

func optString(raw json.RawMessage, what string) (string, error) {
	if !present(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", bad("%s must be a string", what)
	}
	return strings.TrimSpace(s), nil
}

// optBool reads a boolean as PHP clients send them: true/false, 0/1,
// "0"/"1", "true"/"false"; absent or null is def.
func optBool(raw json.RawMessage, def bool, what string) (bool, error) {
	if !present(raw) {
		return def, nil
	}
	switch strings.Trim(string(bytes.TrimSpace(raw)), `"`) {
	case "true", "1":
		return true, nil
	case "false", "0", "":
		return false, nil
	}
	return false, bad("%s must be true or false", what)
}

// number reads a JSON number, or a string holding one.
func number(raw json.RawMessage) (float64, error) {
	s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	return strconv.ParseFloat(s, 64)
}

// ID reads an id sent as a number or a numeric string.
func ID(raw json.RawMessage) (int64, bool) {
	s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// Time is Keboola's time format: ISO 8601 to the second with a numeric
// offset, UTC written +00:00 (never Z, which its PHP clients' tests do not
// expect).
func Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
