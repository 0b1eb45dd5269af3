package goscheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/julienschmidt/httprouter"
)

// Workflow schedules (callback type "workflow") run jobs: ordered tasks in
// phases, one job at a time, one more waiting (see README, "Workflow
// jobs"). This file reads and shows their tasks and serves their jobs.

// taskJSON is a workflow's task as the API takes and shows it.
type taskJSON struct {
	ID                int             `json:"id"`
	URL               string          `json:"url,omitempty"`
	Component         string          `json:"component,omitempty"`
	Action            string          `json:"action,omitempty"`
	Parameters        json.RawMessage `json:"parameters,omitempty"`
	Phase             string          `json:"phase,omitempty"`
	Active            *bool           `json:"active,omitempty"` // default true
	ContinueOnFailure bool            `json:"continueOnFailure,omitempty"`
	TimeoutSeconds    int             `json:"timeoutSeconds,omitempty"`
}

// noticeJSON is a workflow's notification.
type noticeJSON struct {
	Channel    string          `json:"channel"`
	Email      string          `json:"email,omitempty"`
	URL        string          `json:"url,omitempty"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// workflowOf reads a workflow callback's details: ids given to the tasks
// without one (after the highest given), parameters kept as compact JSON.
func workflowOf(d detailsJSON, errs *[]string) *event.Workflow {
	w := &event.Workflow{}
	next, seen := 1, map[int]bool{}
	for _, t := range d.Tasks {
		next = max(next, t.ID+1)
	}
	for i, t := range d.Tasks {
		et := event.Task{ID: t.ID, URL: strings.TrimSpace(t.URL), Component: strings.TrimSpace(t.Component),
			Action: strings.TrimSpace(t.Action), Phase: t.Phase, Active: t.Active == nil || *t.Active,
			ContinueOnFailure: t.ContinueOnFailure, TimeoutSeconds: t.TimeoutSeconds}
		switch {
		case et.ID < 0:
			*errs = append(*errs, fmt.Sprintf("task %d: id must not be negative", i+1))
		case et.ID == 0:
			et.ID, next = next, next+1
		case seen[et.ID]:
			*errs = append(*errs, fmt.Sprintf("task %d: id %d is another task's", i+1, et.ID))
		}
		seen[et.ID] = true
		et.Parameters = compactObject(t.Parameters, fmt.Sprintf("task %d: parameters", i+1), errs)
		w.Tasks = append(w.Tasks, et)
	}
	for i, n := range d.Notifications {
		w.Notices = append(w.Notices, event.Notice{Channel: strings.ToLower(strings.TrimSpace(n.Channel)),
			Email: strings.TrimSpace(n.Email), URL: strings.TrimSpace(n.URL),
			Parameters: compactObject(n.Parameters, fmt.Sprintf("notification %d: parameters", i+1), errs)})
	}
	return w
}

// compactObject is raw, a JSON object, as compact text ("" for none).
func compactObject(raw json.RawMessage, what string, errs *[]string) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var obj map[string]json.RawMessage
	var buf bytes.Buffer
	if json.Unmarshal(raw, &obj) != nil || json.Compact(&buf, raw) != nil {
		*errs = append(*errs, what+" must be a JSON object")
		return ""
	}
	return buf.String()
}

// tasksOf shows a workflow's tasks; noticesOf its notifications.
func tasksOf(w *event.Workflow) []taskJSON {
	if w == nil {
		return nil
	}
	out := make([]taskJSON, len(w.Tasks))
	for i, t := range w.Tasks {
		out[i] = taskOf(t)
	}
	return out
}

func taskOf(t event.Task) taskJSON {
	active := t.Active
	tj := taskJSON{ID: t.ID, URL: t.URL, Component: t.Component, Action: t.Action, Phase: t.Phase, Active: &active,
		ContinueOnFailure: t.ContinueOnFailure, TimeoutSeconds: t.TimeoutSeconds}
	if t.Parameters != "" {
		tj.Parameters = json.RawMessage(t.Parameters)
	}
	return tj
}

func noticesOf(w *event.Workflow) []noticeJSON {
	if w == nil {
		return nil
	}
	out := make([]noticeJSON, len(w.Notices))
	for i, n := range w.Notices {
		out[i] = noticeJSON{Channel: n.Channel, Email: n.Email, URL: n.URL}
		if n.Parameters != "" {
			out[i].Parameters = json.RawMessage(n.Parameters)
		}
	}
	return out
}

// callbackURLs are the URLs a callback calls: its own, or its tasks' and
// notifications'.
func callbackURLs(c event.Callback) []string {
	if c.Workflow == nil {
		return []string{c.URL}
	}
	var urls []string
	for _, t := range c.Workflow.Tasks {
		if t.URL != "" {
			urls = append(urls, t.URL)
		}
	}
	for _, n := range c.Workflow.Notices {
		if n.URL != "" {
			urls = append(urls, n.URL)
		}
	}
	return urls
}

// checkURLs appends the guard's refusals of c's URLs to errs.
func (a *API) checkURLs(c *event.Callback, errs *[]string) {
	if c == nil {
		return
	}
	for _, u := range callbackURLs(*c) {
		if err := a.checkURL(u); err != nil {
			*errs = append(*errs, err.Error())
		}
	}
}

// jobJSON is a job as the API shows it: its tasks, each with its result.
type jobJSON struct {
	ID            uint64        `json:"id"`
	ScheduleID    string        `json:"scheduleId"`
	AppID         string        `json:"appId"`
	Status        string        `json:"status"`
	CreatedAt     string        `json:"createdAt"`
	StartedAt     string        `json:"startedAt,omitempty"`
	EndedAt       string        `json:"endedAt,omitempty"`
	InitializedBy string        `json:"initializedBy"`
	Initiator     string        `json:"initiator,omitempty"`
	Tasks         []jobTaskJSON `json:"tasks"`
}

type jobTaskJSON struct {
	taskJSON
	Status     string          `json:"status"`
	TaskRunID  string          `json:"taskRunId,omitempty"`
	Attempts   int             `json:"attempts,omitempty"`
	StartedAt  string          `json:"startedAt,omitempty"`
	FinishedAt string          `json:"finishedAt,omitempty"`
	Response   json.RawMessage `json:"response,omitempty"`
}

func jobOf(j projections.Job) jobJSON {
	out := jobJSON{ID: j.ID, ScheduleID: j.ScheduleID, AppID: j.AppID, Status: j.Status, CreatedAt: msTime(j.CreatedAt),
		StartedAt: msTime(j.StartedAt), EndedAt: msTime(j.EndedAt), InitializedBy: j.InitializedBy, Initiator: j.Initiator,
		Tasks: make([]jobTaskJSON, len(j.Tasks))}
	for i, t := range j.Tasks {
		jt := jobTaskJSON{taskJSON: taskOf(t), Status: event.StatusJobWaiting}
		if i < len(j.Results) {
			r := j.Results[i]
			jt.Status, jt.TaskRunID, jt.Attempts = r.Status, r.TaskRunID, r.Attempts
			jt.StartedAt, jt.FinishedAt = msTime(r.StartedAt), msTime(r.FinishedAt)
			if r.Response != "" && json.Valid([]byte(r.Response)) {
				jt.Response = json.RawMessage(r.Response)
			}
		} else if j.Status == event.StatusJobCancelled {
			jt.Status = event.StatusJobCancelled
		}
		out.Tasks[i] = jt
	}
	return out
}

// msTime is unix ms as RFC 3339 in UTC, "" for 0.
func msTime(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
}

// jobs lists a workflow schedule's jobs, newest first (size, offset).
func (a *API) jobs(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.findSchedule(r, ps.ByName("id"), false)
	if err != nil {
		return err
	}
	size, err := parseSize(r.URL.Query(), defaultPageSize)
	if err != nil {
		return err
	}
	offset := 0
	if raw := r.URL.Query().Get("offset"); raw != "" {
		if offset, err = strconv.Atoi(raw); err != nil || offset < 0 {
			return badRequest("offset must be a whole number, not %q", truncate(raw, 40))
		}
	}
	list, err := a.q.JobsOf(s.ScheduleID, offset, size)
	if err != nil {
		return err
	}
	total := 0
	if s.Queue != nil {
		total = s.Queue.Count
	}
	out := make([]jobJSON, len(list))
	for i, j := range list {
		out[i] = jobOf(j)
	}
	ok(w, http.StatusOK, total, map[string]any{"scheduleId": s.ScheduleID, "jobs": out})
	return nil
}

type newJobRequest struct {
	// Tasks change, for this job only, whether a task runs (by id).
	Tasks []struct {
		ID     int  `json:"id"`
		Active bool `json:"active"`
	} `json:"tasks"`
	NotifyEmails []string `json:"notifyEmails"`
}

// createJob creates a job of a workflow schedule now (it waits its turn).
func (a *API) createJob(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.findSchedule(r, ps.ByName("id"), true)
	if err != nil {
		return err
	}
	var req newJobRequest
	if r.ContentLength != 0 {
		if err := decodeBody(r, &req); err != nil {
			return err
		}
	}
	if s.Callback.Workflow == nil {
		return badRequest("schedule %s runs no jobs: its callback is not a workflow", s.ScheduleID)
	}
	c := actors.NewJob{InitializedBy: "manually", Active: map[int]bool{}, NotifyEmails: req.NotifyEmails,
		UserAgent: r.UserAgent()}
	ids := map[int]bool{}
	for _, t := range s.Callback.Workflow.Tasks {
		ids[t.ID] = true
	}
	for _, t := range req.Tasks {
		if !ids[t.ID] {
			return badRequest("task %d is not one of the schedule's", t.ID)
		}
		c.Active[t.ID] = t.Active
	}
	if problems := admit.NotifyEmails(req.NotifyEmails); len(problems) > 0 {
		return badRequest("notifyEmails: %s", strings.Join(problems, ", "))
	}
	j, err := a.cmd.CreateJob(r.Context(), s.ScheduleID, c)
	if err != nil {
		return err
	}
	ok(w, http.StatusCreated, 1, jobOf(j))
	return nil
}

// jobParam reads the path's job, allowed to the request's token.
func (a *API) jobParam(r *http.Request, ps httprouter.Params, write bool) (projections.Job, error) {
	raw := ps.ByName("jobId")
	id, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || id == 0 {
		return projections.Job{}, notFound("Job with id: %s not found", truncate(raw, 40))
	}
	read := func() (projections.Job, bool, error) { return a.q.Job(id) }
	if write {
		read = actors.ForWrite(a.cmd, read)
	}
	j, found, err := read()
	switch {
	case err != nil:
		return j, err
	case !found:
		return j, notFound("Job with id: %d not found", id)
	}
	return j, allowed(r, j.AppID, write)
}

func (a *API) getJob(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	j, err := a.jobParam(r, ps, false)
	if err != nil {
		return err
	}
	ok(w, http.StatusOK, 1, jobOf(j))
	return nil
}

// cancelJob cancels a waiting job (409 for one past waiting).
func (a *API) cancelJob(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	j, err := a.jobParam(r, ps, true)
	if err != nil {
		return err
	}
	if err := a.cmd.CancelJob(r.Context(), j.ID); err != nil {
		return err
	}
	j, _, err = a.q.Job(j.ID)
	if err != nil {
		return err
	}
	ok(w, http.StatusOK, 1, jobOf(j))
	return nil
}
