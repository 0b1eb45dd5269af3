package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
)

// A workflow task's call: a POST of its parameters to its URL (or its
// component's), retried as any callback is; an answer 202 with a Location
// header (or a JSON "url") is a job of the receiver's own, polled until it
// says it finished, as Keboola's asynchronous components work. The task's
// timeout covers the call and the polling.

// Headers of a task's call, beside delivery's (its X-Chronicle-Run-Id is
// the task-run id too).
const (
	HeaderJobID     = "X-Chronicle-Job-Id"
	HeaderTaskRunID = "X-Chronicle-Task-Run-Id"
	HeaderKBCRunID  = "X-KBC-RunId" // Keboola's run id header: the job's id
)

// taskDone is the outcome of a task's call, to record as TaskFinished.
type taskDone struct {
	task              int
	status            string // success, warning, error
	response          string // JSON text
	started, finished time.Time
	canceled          bool // the term ended: nothing is recorded
}

// TaskRunID is the id of task index i's calls in job id: the same on a
// call repeated after a failover, so a receiver can tell it is one.
func TaskRunID(job uint64, i int) string { return fmt.Sprintf("%d.%d", job, i+1) }

// taskURL is where task t is called: its URL, or its component's action
// through the --keboola-component-url template.
func (e *Engine) taskURL(t event.Task) (string, error) {
	if t.URL != "" {
		return t.URL, nil
	}
	if e.cfg.ComponentURL == "" {
		return "", fmt.Errorf("task of component %q: no component URL template is configured (--keboola-component-url)", t.Component)
	}
	action := t.Action
	if action == "" {
		action = "run"
	}
	return strings.NewReplacer("{component}", url.PathEscape(t.Component), "{action}", url.PathEscape(action)).
		Replace(e.cfg.ComponentURL), nil
}

// callTask calls task i of job j under ctx (the term's) and returns its
// outcome.
func (e *Engine) callTask(ctx context.Context, j projections.Job, i int) taskDone {
	t := j.Tasks[i]
	done := taskDone{task: i, started: e.clock.Now()}
	finish := func(status, response string) taskDone {
		done.status, done.response, done.finished = status, response, e.clock.Now()
		return done
	}
	target, err := e.taskURL(t)
	if err != nil {
		return finish(event.StatusJobError, message(err.Error()))
	}
	// A task with no timeout of its own may run as long as the longest
	// one allowed; a synchronous component may answer only when it is
	// done, so an attempt may last the whole task.
	limit := time.Duration(admit.MaxTaskTimeout) * time.Second
	if t.TimeoutSeconds > 0 {
		limit = time.Duration(t.TimeoutSeconds) * time.Second
	}
	callCtx, cancel := context.WithTimeoutCause(ctx, limit, errTaskTimeout)
	defer cancel()
	policy := e.cfg.Policy
	policy.Timeout = limit
	runID := TaskRunID(j.ID, i)
	body := t.Parameters
	if body == "" {
		body = "{}"
	}
	req := delivery.Request{AppID: j.AppID, ScheduleID: j.ScheduleID, RunID: runID, ScheduledTime: time.UnixMilli(j.CreatedAt),
		Method: "POST", URL: target, Payload: body, SigningSecrets: e.signingSecrets(j.AppID), FiredBy: e.firedBy(),
		Headers: map[string]string{"Content-Type": "application/json", HeaderJobID: strconv.FormatUint(j.ID, 10),
			HeaderTaskRunID: runID, HeaderKBCRunID: strconv.FormatUint(j.ID, 10)},
		KeepBody: admit.MaxTaskResponse}
	o := e.client.Deliver(callCtx, req, policy)
	next := ""
	if o.Success && o.HTTPStatus == 202 {
		next = pollURL(target, o) // "": accepted, with nothing to poll: done as far as we can tell
	}
	poll := req
	poll.Method, poll.URL, poll.Payload = "GET", next, ""
	poll.Headers = map[string]string{HeaderJobID: req.Headers[HeaderJobID], HeaderTaskRunID: runID, HeaderKBCRunID: req.Headers[HeaderKBCRunID]}
	for next != "" {
		if !delivery.Sleep(callCtx, e.cfg.TaskPoll) {
			o = delivery.Outcome{Canceled: true}
			break
		}
		o = e.client.Deliver(callCtx, poll, policy)
		if !o.Success {
			break
		}
		if status, finished := polledStatus(o.Body); finished {
			return finish(status, jsonResponse(o.Body, ""))
		}
	}
	switch {
	case o.Canceled && errors.Is(context.Cause(callCtx), errTaskTimeout):
		return finish(event.StatusJobError, message(fmt.Sprintf("the task ran longer than its timeout (%s)", limit)))
	case o.Canceled:
		done.canceled = true
		return done
	case !o.Success:
		return finish(event.StatusJobError, jsonResponse(o.Body, o.ErrorMessage))
	}
	return finish(event.StatusJobSuccess, jsonResponse(o.Body, ""))
}

var errTaskTimeout = errors.New("task timeout")

// pollURL is where an answer 202 says its job can be followed: its
// Location header, or its JSON body's "url", resolved against target.
func pollURL(target string, o delivery.Outcome) string {
	ref := o.Location
	if ref == "" {
		var v struct {
			URL string `json:"url"`
		}
		if json.Unmarshal([]byte(o.Body), &v) == nil {
			ref = v.URL
		}
	}
	if ref == "" {
		return ""
	}
	base, err := url.Parse(target)
	if err != nil {
		return ""
	}
	u, err := base.Parse(ref)
	if err != nil {
		return ""
	}
	return u.String()
}

// polledStatus reads a polled job's answer: finished as its "isFinished"
// says, else when its "status" is a final one (success, warning, error,
// cancelled, terminated); success or warning as it says, error otherwise.
// An answer that says neither is a job still going (the task's timeout
// bounds the polling).
func polledStatus(body string) (status string, finished bool) {
	var v struct {
		Status     string `json:"status"`
		IsFinished *bool  `json:"isFinished"`
	}
	if json.Unmarshal([]byte(body), &v) != nil {
		return "", false
	}
	s := strings.ToLower(v.Status)
	switch {
	case v.IsFinished != nil:
		finished = *v.IsFinished
	default:
		switch s {
		case event.StatusJobSuccess, event.StatusJobWarning, event.StatusJobError, event.StatusJobCancelled, "terminated":
			finished = true
		}
	}
	switch s {
	case event.StatusJobSuccess, event.StatusJobWarning:
		return s, finished
	}
	return event.StatusJobError, finished
}

// jsonResponse is what a task's record keeps of an answer: its body if it
// is JSON, else {"message": ...} with the body or, with none, msg.
func jsonResponse(body, msg string) string {
	if body != "" && json.Valid([]byte(body)) {
		return body
	}
	if msg == "" {
		msg = body
	}
	if msg == "" {
		return ""
	}
	return message(msg)
}

// message is {"message": msg}, cut to what a task's record keeps
// (escaping may grow the text: it is cut again until it fits).
func message(msg string) string {
	for n := admit.MaxTaskResponse - 64; ; n /= 2 {
		b, _ := json.Marshal(map[string]string{"message": clipText(msg, n)})
		if len(b) <= admit.MaxTaskResponse {
			return string(b)
		}
	}
}

// clipText is s cut to at most n bytes of valid UTF-8.
func clipText(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
