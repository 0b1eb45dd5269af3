package keboola

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/actors/workflow"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/http/respond"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/julienschmidt/httprouter"
)

// An orchestration's jobs are the core's workflow jobs; a job's id and
// runId are its id in the core (the seq of its JobCreated).

type initiatorJSON struct {
	ID          int     `json:"id"`
	Description string  `json:"description"`
	UserAgent   *string `json:"userAgent"`
}

// resultJSON is a task of a job with what became of it.
type resultJSON struct {
	Task
	Status    string          `json:"status"`
	StartTime *string         `json:"startTime"`
	EndTime   *string         `json:"endTime"`
	Response  json.RawMessage `json:"response"`
}

type resultsJSON struct {
	Tasks  []resultJSON   `json:"tasks"`
	Phases [][]resultJSON `json:"phases"`
}

type jobJSON struct {
	ID                  uint64        `json:"id"`
	OrchestrationID     uint64        `json:"orchestrationId"`
	CreatedTime         string        `json:"createdTime"`
	StartTime           *string       `json:"startTime"`
	EndTime             *string       `json:"endTime"`
	Status              string        `json:"status"`
	IsFinished          bool          `json:"isFinished"`
	InitializedBy       string        `json:"initializedBy"`
	Token               tokenJSON     `json:"token"`
	InitiatorToken      initiatorJSON `json:"initiatorToken"`
	Results             *resultsJSON  `json:"results"`
	NotificationsEmails []string      `json:"notificationsEmails"`
	Tasks               *[]Task       `json:"tasks,omitempty"` // nil: not shown (a list)
	RunID               uint64        `json:"runId"`
	URI                 string        `json:"uri"`
	URL                 string        `json:"url,omitempty"` // create answers: where to follow it
}

// renderJob shows job j of orchestration s (nil: not found), its tasks too
// when withTasks.
func (a *API) renderJob(r *http.Request, j projections.Job, s *projections.Schedule, withTasks bool) jobJSON {
	out := jobJSON{ID: j.ID, CreatedTime: Time(time.UnixMilli(j.CreatedAt)), StartTime: msPtr(j.StartedAt),
		EndTime: msPtr(j.EndedAt), Status: j.Status, InitializedBy: j.InitializedBy, RunID: j.ID,
		NotificationsEmails: append([]string{}, j.NotifyEmails...), URI: fmt.Sprintf("%s/jobs/%d", base(r), j.ID)}
	switch j.Status {
	case event.StatusJobWaiting, event.StatusJobProcessing:
	default:
		out.IsFinished = true
	}
	if s != nil {
		out.OrchestrationID, out.Token = s.CreatedSeq, tokenOf(*s)
	}
	out.InitiatorToken = initiatorJSON{Description: j.Initiator}
	if j.InitializedBy == "scheduler" {
		out.InitiatorToken.Description = out.Token.Description
	} else {
		ua := j.UserAgent
		out.InitiatorToken.UserAgent = &ua
	}
	if withTasks {
		tasks := tasksOut(j.Tasks)
		out.Tasks = &tasks
	}
	if j.StartedAt == 0 {
		return out // waiting, or cancelled while it waited: no results
	}
	res := &resultsJSON{Tasks: []resultJSON{}, Phases: [][]resultJSON{}}
	byTask := map[int]resultJSON{}
	for i, t := range j.Tasks {
		if !t.Active {
			continue
		}
		if i >= len(j.Results) {
			break
		}
		rj := resultJSON{Task: taskOut(t), Status: j.Results[i].Status, Response: json.RawMessage("null")}
		if rr := j.Results[i]; rr.Status != event.StatusJobCancelled {
			rj.StartTime, rj.EndTime = msPtr(rr.StartedAt), msPtr(rr.FinishedAt)
			if rr.Response != "" && json.Valid([]byte(rr.Response)) {
				rj.Response = json.RawMessage(rr.Response)
			}
		}
		byTask[i] = rj
		res.Tasks = append(res.Tasks, rj)
	}
	for _, phase := range workflow.Phases(workflow.StepsOf(j.Tasks)) {
		p := make([]resultJSON, len(phase))
		for k, i := range phase {
			p[k] = byTask[i]
		}
		res.Phases = append(res.Phases, p)
	}
	out.Results = res
	return out
}

// jobs lists an orchestration's jobs, newest first (limit, offset), the
// total in X-Total-Count.
func (a *API) jobs(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.find(r, ps, false)
	if err != nil {
		return err
	}
	limit, offset := queryInt(r, "limit", 20), queryInt(r, "offset", 0)
	if limit <= 0 {
		limit = 20
	}
	list, err := a.q.JobsOf(s.ScheduleID, max(offset, 0), min(limit, 1000))
	if err != nil {
		return err
	}
	out := make([]jobJSON, len(list))
	for i, j := range list {
		out[i] = a.renderJob(r, j, &s, false)
	}
	total := 0
	if s.Queue != nil {
		total = s.Queue.Count
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	w.Header().Set("Access-Control-Expose-Headers", "X-Total-Count")
	respond.JSON(w, http.StatusOK, out)
	return nil
}

// queryInt reads a whole-number query parameter; anything else is def
// (Keboola was lenient).
func queryInt(r *http.Request, name string, def int) int {
	n, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil {
		return def
	}
	return n
}

// newJob creates a job of orchestration s: manually (with the body's
// notificationsEmails and tasks, whose active may differ from the
// orchestration's) or by a trigger; answered with code.
func (a *API) newJob(w http.ResponseWriter, r *http.Request, s projections.Schedule, f map[string]json.RawMessage,
	by string, code int) error {
	c := actors.NewJob{InitializedBy: by, Initiator: initiator(r), UserAgent: r.UserAgent(), Active: map[int]bool{}}
	if by == "manually" {
		if raw := f["notificationsEmails"]; present(raw) {
			if err := json.Unmarshal(raw, &c.NotifyEmails); err != nil {
				return bad("notificationsEmails must be a list of email addresses")
			}
			if problems := admit.NotifyEmails(c.NotifyEmails); len(problems) > 0 {
				return bad("notificationsEmails: %s", strings.Join(problems, "; "))
			}
		}
		if err := overrides(s.Callback.Workflow.Tasks, f["tasks"], c.Active); err != nil {
			return err
		}
	}
	j, err := a.cmd.CreateJob(r.Context(), s.ScheduleID, c)
	switch {
	case errors.Is(err, projections.ErrJobWaiting):
		return userError(http.StatusConflict, "Orchestration %d has 1 waiting job. Current limit is 1.", s.CreatedSeq)
	case err != nil:
		return err
	}
	out := a.renderJob(r, j, &s, true)
	out.URL = out.URI
	w.Header().Set("Location", out.URI)
	respond.JSON(w, code, out)
	return nil
}

// overrides reads a manual run's tasks: all the orchestration's, in its
// order, alike but for active (Keboola's JOB_VALIDATION otherwise), into
// active by task id. None given: no change.
func overrides(tasks []event.Task, raw json.RawMessage, active map[int]bool) error {
	given, err := Tasks(raw)
	if err != nil || len(given) == 0 {
		return err
	}
	if len(given) != len(tasks) {
		return &jobValidation{fmt.Sprintf("Job tasks count %d is different from orchestration tasks count %d.", len(given), len(tasks))}
	}
	for i, g := range given {
		want, got := taskOut(tasks[i]), taskOut(eventTask(g))
		want.ID, got.ID, want.Active, got.Active = 0, 0, false, false
		a, b := canonical(want), canonical(got)
		if string(a) != string(b) {
			return &jobValidation{fmt.Sprintf("Task %d is different from orchestration task.", i+1)}
		}
		active[tasks[i].ID] = g.Active
	}
	return nil
}

// canonical is v as JSON with every object's keys in order, so that two
// tasks' parameters compare by content, not by how they were written.
func canonical(v any) string {
	b, _ := json.Marshal(v)
	var generic any
	if json.Unmarshal(b, &generic) != nil {
		return string(b)
	}
	b, _ = json.Marshal(generic) // maps marshal with sorted keys
	return string(b)
}

// eventTask is a task read from Keboola as the core holds it (without
// the checks workflowIn makes).
func eventTask(t Task) event.Task {
	et := event.Task{URL: t.ComponentURL, Component: t.Component, Action: t.Action, Active: t.Active,
		ContinueOnFailure: t.ContinueOnFailure}
	if string(t.ActionParameters) != "{}" {
		et.Parameters = string(t.ActionParameters)
	}
	if t.Phase != nil {
		et.Phase = *t.Phase
	}
	if t.TimeoutMinutes != nil {
		et.TimeoutSeconds = timeoutSeconds(*t.TimeoutMinutes)
	}
	return et
}

func (a *API) manualJob(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	f, err := body(r)
	if err != nil {
		return err
	}
	s, err := a.find(r, ps, true)
	if err != nil {
		return err
	}
	return a.newJob(w, r, s, f, "manually", http.StatusCreated)
}

// trigger runs an active orchestration's tasks as they are (409 when it
// is not active).
func (a *API) trigger(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.find(r, ps, true)
	if err != nil {
		return err
	}
	if s.Status == event.StatusPaused {
		return userError(http.StatusConflict, "Orchestration %d is disabled", s.CreatedSeq)
	}
	return a.newJob(w, r, s, nil, "trigger", http.StatusAccepted)
}

// run is the current clients' manual run: {"config": <orchestration id>}.
func (a *API) run(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	f, err := body(r)
	if err != nil {
		return err
	}
	if !present(f["config"]) {
		return bad(`Parameter "config" is required`)
	}
	id, ok := ID(f["config"])
	if !ok {
		return bad(`Parameter "config" must be an orchestration id`)
	}
	s, err := a.find(r, httprouter.Params{{Key: "id", Value: strconv.FormatInt(id, 10)}}, true)
	if err != nil {
		return err
	}
	return a.newJob(w, r, s, f, "manually", http.StatusAccepted)
}

// job reads the path's job.
func (a *API) job(r *http.Request, ps httprouter.Params, write bool) (projections.Job, error) {
	if err := a.allowed(r, write); err != nil {
		return projections.Job{}, err
	}
	raw := ps.ByName("id")
	id, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || id == 0 {
		return projections.Job{}, userError(http.StatusNotFound, "Job %s not found", clip(raw))
	}
	read := func() (projections.Job, bool, error) { return a.q.Job(id) }
	if write {
		read = actors.ForWrite(a.cmd, read)
	}
	j, found, err := read()
	switch {
	case err != nil:
		return j, err
	case !found || j.AppID != a.cfg.App:
		return j, userError(http.StatusNotFound, "Job %d not found", id)
	}
	return j, nil
}

func (a *API) getJob(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	j, err := a.job(r, ps, false)
	if err != nil {
		return err
	}
	var s *projections.Schedule // not read: the job is shown without its orchestration
	if sch, ok, err := a.q.Schedule(j.ScheduleID); err == nil && ok {
		s = &sch
	}
	respond.JSON(w, http.StatusOK, a.renderJob(r, j, s, true))
	return nil
}

// cancelJob cancels a waiting job: 204; 409 for one past waiting.
func (a *API) cancelJob(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	j, err := a.job(r, ps, true)
	if err != nil {
		return err
	}
	err = a.cmd.CancelJob(r.Context(), j.ID)
	if errors.Is(err, projections.ErrJobNotWaiting) {
		if cur, ok, rerr := a.q.Job(j.ID); rerr == nil && ok {
			j = cur
		}
		return userError(http.StatusConflict, "Job %d cannot be cancelled, it is %q. Only waiting jobs can be cancelled.", j.ID, j.Status)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
