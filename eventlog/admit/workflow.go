package admit

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

// Limits of a workflow (issue 19).
const (
	MaxTasks          = 100
	MaxTaskParameters = 64 << 10      // a task's parameters, as JSON text
	MaxTaskTimeout    = 7 * 24 * 3600 // seconds
	MaxTaskResponse   = 64 << 10      // what a finished task's answer keeps
	maxNotifyEmails   = 20
	// MaxUserAgent bounds the user agent a job records.
	MaxUserAgent = 1024
	maxNotices   = 50
)

// workflowCallback returns what is wrong with a workflow callback: its
// tasks, and nothing of an HTTP call or a command.
func workflowCallback(cb event.Callback) []string {
	if cb.Workflow == nil {
		return []string{"a workflow callback needs its tasks"}
	}
	var problems []string
	if cb.URL != "" || cb.Method != "" || len(cb.Headers) > 0 || cb.Shape != nil || cb.Command != nil || cb.NumberParam != "" {
		problems = append(problems, "a workflow callback makes no call of its own: its tasks do")
	}
	problems = append(problems, Tasks(cb.Workflow.Tasks)...)
	return append(problems, Notices(cb.Workflow.Notices)...)
}

// Notices returns what is wrong with a workflow's notices, each problem
// naming the notice (counted from 1).
func Notices(notices []event.Notice) []string {
	var problems []string
	if len(notices) > maxNotices {
		problems = append(problems, fmt.Sprintf("at most %d notifications", maxNotices))
	}
	for i, n := range notices {
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("notification %d: ", i+1)+fmt.Sprintf(format, args...))
		}
		switch n.Channel {
		case event.NoticeError, event.NoticeWarning, event.NoticeWaiting, event.NoticeProcessing:
		default:
			bad("channel %q is not one of error, warning, waiting, processing", clip(n.Channel, 40))
		}
		if n.Email == "" && n.URL == "" {
			bad("an email or a url is needed")
		}
		if err := EmailAddress(n.Email); n.Email != "" && err != nil {
			bad("%v", err)
		}
		if _, ok := webURL(n.URL); n.URL != "" && !ok {
			bad("url %q must be an absolute http or https URL", clip(n.URL, 80))
		}
		if n.Parameters != "" && !jsonObject(n.Parameters, 4096) {
			bad("parameters must be a JSON object of at most 4096 bytes")
		}
	}
	return problems
}

// webURL parses s, reporting whether it is an absolute http or https URL
// of at most maxURLLen bytes.
func webURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	return u, err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && len(s) <= maxURLLen
}

// jsonObject reports whether s is a JSON object of at most max bytes.
func jsonObject(s string, max int) bool {
	var obj map[string]json.RawMessage
	return len(s) <= max && json.Unmarshal([]byte(s), &obj) == nil
}

// Tasks returns what is wrong with a workflow's tasks, each problem naming
// the task (counted from 1).
func Tasks(tasks []event.Task) []string {
	var problems []string
	if len(tasks) > MaxTasks {
		problems = append(problems, fmt.Sprintf("at most %d tasks", MaxTasks))
	}
	for i, t := range tasks {
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("task %d: ", i+1)+fmt.Sprintf(format, args...))
		}
		switch {
		case t.URL == "" && t.Component == "":
			bad(`one of "componentUrl" or "component" must be set`)
		case t.URL != "":
			if u, ok := webURL(t.URL); !ok || u.User != nil {
				bad("url %q must be an absolute http or https URL without credentials", clip(t.URL, 80))
			}
		}
		for _, f := range [...]struct{ name, v string }{{"component", t.Component}, {"action", t.Action}, {"phase", t.Phase}} {
			if len(f.v) > MaxNameLen || !printable(f.v) {
				bad("%s must be at most %d characters of printable UTF-8", f.name, MaxNameLen)
			}
		}
		if t.Parameters != "" && !jsonObject(t.Parameters, MaxTaskParameters) {
			bad("parameters must be a JSON object of at most %d bytes", MaxTaskParameters)
		}
		if t.TimeoutSeconds < 0 || t.TimeoutSeconds > MaxTaskTimeout {
			bad("timeoutSeconds must be between 0 (none) and %d", MaxTaskTimeout)
		}
	}
	return problems
}

// EmailAddress refuses what is not one address of at most MaxNameLen
// bytes (a notification's recipient is recorded as its target).
func EmailAddress(s string) error {
	a, err := mail.ParseAddress(s)
	switch {
	case err != nil || a.Address != s:
		return fmt.Errorf("%q is not an email address (name@host)", clip(s, 80))
	case len(s) > MaxNameLen || !printable(s):
		return fmt.Errorf("email address %q is longer than %d bytes", clip(s, 80), MaxNameLen)
	}
	return nil
}

// NotifyEmails returns what is wrong with a job's notification emails.
func NotifyEmails(emails []string) []string {
	var problems []string
	if len(emails) > maxNotifyEmails {
		problems = append(problems, fmt.Sprintf("at most %d notification emails", maxNotifyEmails))
	}
	for _, e := range emails {
		if err := EmailAddress(e); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return problems
}

// Who creates a job (JobCreated.InitializedBy).
var initializers = map[string]bool{"manually": true, "scheduler": true, "trigger": true}

func jobCreated(p *event.JobCreated) error {
	if err := firstErr(ScheduleID(p.ScheduleID), AppID(p.AppID)); err != nil {
		return err
	}
	if problems := Tasks(p.Tasks); len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, ", "))
	}
	switch {
	case !initializers[p.InitializedBy]:
		return fmt.Errorf("job initialized by %q", clip(p.InitializedBy, 40))
	case len(p.Initiator) > MaxNameLen || !printable(p.Initiator) || len(p.UserAgent) > MaxUserAgent || !utf8.ValidString(p.UserAgent):
		return fmt.Errorf("job initiator or user agent too long or not text")
	case len(p.RunID) > maxRunIDLen || !printable(p.RunID):
		return fmt.Errorf("job created by run %q", clip(p.RunID, 80))
	}
	if problems := Notices(p.Notices); len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, ", "))
	}
	if problems := NotifyEmails(p.NotifyEmails); len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, ", "))
	}
	return nil
}

func jobRef(id uint64, scheduleID, appID string) error {
	if id == 0 {
		return fmt.Errorf("no job id")
	}
	return firstErr(ScheduleID(scheduleID), AppID(appID))
}

func taskStarted(p *event.TaskStarted) error {
	switch {
	case p.Task < 0 || p.Task >= MaxTasks:
		return fmt.Errorf("job %d: task %d", p.JobID, p.Task)
	case p.TaskRunID == "" || len(p.TaskRunID) > maxRunIDLen || !printable(p.TaskRunID):
		return fmt.Errorf("job %d: task run id %q", p.JobID, clip(p.TaskRunID, 80))
	}
	return jobRef(p.JobID, p.ScheduleID, p.AppID)
}

func taskFinished(p *event.TaskFinished) error {
	switch {
	case !event.JobOutcome(p.Status):
		return fmt.Errorf("job %d: task %d finished with status %q", p.JobID, p.Task, clip(p.Status, 40))
	case p.Task < 0 || p.Task >= MaxTasks:
		return fmt.Errorf("job %d: task %d", p.JobID, p.Task)
	case len(p.Response) > MaxTaskResponse || !utf8.ValidString(p.Response):
		return fmt.Errorf("job %d: task %d's response longer than %d bytes or not UTF-8", p.JobID, p.Task, MaxTaskResponse)
	case p.StartedAt < 0 || p.FinishedAt < 0:
		return fmt.Errorf("job %d: task %d: negative times", p.JobID, p.Task)
	}
	return jobRef(p.JobID, p.ScheduleID, p.AppID)
}
