package keboola

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/http/auth"
	"github.com/chronicle-sched/chronicle/http/jsonbody"
	"github.com/chronicle-sched/chronicle/http/respond"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/julienschmidt/httprouter"
)

// An orchestration is a workflow schedule of one app (Config.App): its id
// is the schedule's number, its name and token generation are labels, its
// crontabRecord the schedule's cron (@manual for none), active the
// schedule not paused. Its jobs are the core's workflow jobs. README,
// "Keboola Orchestrator's API", records the choices.

// Commands is what the API changes state with; *actors.Engine has it.
type Commands interface {
	RegisterApp(ctx context.Context, c actors.RegisterApp) (projections.App, error)
	CreateSchedule(ctx context.Context, c actors.CreateSchedule) (projections.Schedule, error)
	DeleteSchedule(ctx context.Context, id string) (projections.Schedule, error)
	UpdateSchedule(ctx context.Context, id string, c actors.ScheduleChange) (projections.Schedule, error)
	PauseSchedule(ctx context.Context, id string) (projections.Schedule, error)
	ResumeSchedule(ctx context.Context, id string) (projections.Schedule, error)
	CreateJob(ctx context.Context, id string, c actors.NewJob) (projections.Job, error)
	CancelJob(ctx context.Context, id uint64) error
	Linearize() error
}

// Queries is what the API reads; projections.Reader has it.
type Queries interface {
	App(id string) (projections.App, bool, error)
	Crons(app, status string) ([]projections.Schedule, error)
	ScheduleByNumber(n uint64) (projections.Schedule, bool, error)
	Schedule(id string) (projections.Schedule, bool, error)
	Job(id uint64) (projections.Job, bool, error)
	JobsOf(id string, offset, limit int) ([]projections.Job, error)
}

// Config says which app holds the orchestrations.
type Config struct {
	// App holds every orchestration ("keboola" if empty), registered on
	// the first create.
	App string
	// CheckURL refuses a URL the delivery guard denies (nil: none is).
	CheckURL func(string) error
	// Components: tasks may name a component (the server has
	// --keboola-component-url); without it only componentUrl tasks are taken.
	Components bool
	Logger     *slog.Logger
}

// DefaultApp holds the orchestrations unless Config.App says otherwise.
const DefaultApp = "keboola"

// TokenHeader carries the caller's token on this API's requests.
const TokenHeader = "X-StorageApi-Token"

// Labels an orchestration keeps beside its schedule.
const (
	labelName  = "keboola.name"
	labelToken = "keboola.token" // the generation of its token (create-token)
)

const maxTimeoutSeconds = admit.MaxTaskTimeout

// Prefixes are the paths this API serves.
var Prefixes = []string{"/orchestrations", "/jobs", "/run"}

// API serves Keboola Orchestrator's endpoints.
type API struct {
	cmd     Commands
	q       Queries
	cfg     Config
	now     func() time.Time
	timeout time.Duration
}

// New builds the API.
func New(cmd Commands, q Queries, cfg Config) *API {
	if cfg.App == "" {
		cfg.App = DefaultApp
	}
	if cfg.CheckURL == nil {
		cfg.CheckURL = func(string) error { return nil }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &API{cmd: cmd, q: q, cfg: cfg, now: time.Now, timeout: 10 * time.Second}
}

// Register mounts the endpoints on r.
func (a *API) Register(r *httprouter.Router) {
	r.GET("/orchestrations", a.handle(a.list))
	r.POST("/orchestrations", a.handle(a.create))
	r.GET("/orchestrations/:id", a.handle(a.get))
	r.PUT("/orchestrations/:id", a.handle(a.update))
	r.DELETE("/orchestrations/:id", a.handle(a.delete))
	r.POST("/orchestrations/:id/create-token", a.handle(a.createToken))
	r.GET("/orchestrations/:id/tasks", a.handle(a.getTasks))
	r.PUT("/orchestrations/:id/tasks", a.handle(a.putTasks))
	for _, p := range []string{"notifications", "nofitications"} { // the seed's spelling too
		r.GET("/orchestrations/:id/"+p, a.handle(a.getNotifications))
		r.PUT("/orchestrations/:id/"+p, a.handle(a.putNotifications))
	}
	r.GET("/orchestrations/:id/jobs", a.handle(a.jobs))
	r.POST("/orchestrations/:id/jobs", a.handle(a.manualJob))
	r.POST("/orchestrations/:id/trigger", a.handle(a.trigger))
	r.POST("/run", a.handle(a.run))
	r.GET("/jobs/:id", a.handle(a.getJob))
	r.DELETE("/jobs/:id", a.handle(a.cancelJob))
}

// Owns reports whether path is one of this API's.
func (a *API) Owns(path string) bool {
	for _, p := range Prefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error

func (a *API) handle(h handlerFunc) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		ctx, cancel := context.WithTimeout(actors.WithAPI(r.Context(), "keboola"), a.timeout)
		defer cancel()
		if err := h(w, r.WithContext(ctx), ps); err != nil {
			a.WriteError(w, err)
		}
	}
}

// apiError is an answer in Keboola's error envelope.
type apiError struct {
	HTTP    int
	Message string
}

func (e *apiError) Error() string { return e.Message }

func userError(code int, format string, args ...any) *apiError {
	return &apiError{HTTP: code, Message: fmt.Sprintf(format, args...)}
}

// jobValidation is Keboola's JOB_VALIDATION answer (its own envelope).
type jobValidation struct{ Message string }

func (e *jobValidation) Error() string { return e.Message }

// WriteError answers err in Keboola's envelope: {"status":"error",
// "error":"User error","code":N,"message":...}; 5xx say "Application
// error" with an id the log has.
func (a *API) WriteError(w http.ResponseWriter, err error) {
	var jv *jobValidation
	if errors.As(err, &jv) {
		respond.JSON(w, http.StatusBadRequest, map[string]any{"status": "warning", "error": "User error",
			"code": "JOB_VALIDATION", "message": jv.Message})
		return
	}
	var e *apiError
	var br *BadRequest
	switch {
	case errors.As(err, &e):
	case errors.As(err, &br):
		e = userError(http.StatusBadRequest, "%s", br.Message)
	case errors.Is(err, auth.ErrNoToken):
		e = userError(http.StatusBadRequest, "Missing StorageAPI token")
	case errors.Is(err, auth.ErrUnknownToken):
		e = userError(http.StatusUnauthorized, "Invalid StorageApi Token")
	default:
		c := respond.Answer(a.cfg.Logger, err)
		e = &apiError{HTTP: c.HTTP, Message: c.Message}
	}
	id := exceptionID()
	kind := "User error"
	if e.HTTP >= 500 {
		kind = "Application error"
		a.cfg.Logger.Error("keboola API failure", "exceptionId", id, "err", err)
	}
	respond.ErrorHeaders(w, e.HTTP)
	respond.JSON(w, e.HTTP, map[string]any{"status": "error", "error": kind, "code": e.HTTP, "message": e.Message,
		"exceptionId": id, "runId": 0})
}

func exceptionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "orchestrator-" + hex.EncodeToString(b)
}

// allowed checks the request's token against the orchestrations' app.
func (a *API) allowed(r *http.Request, write bool) error {
	return auth.From(r.Context()).Check(a.cfg.App, write)
}

// initiator names who made r: its token's id with auth on; with auth off
// the token it sent, as a hash (never the secret itself).
func initiator(r *http.Request) string {
	p := auth.From(r.Context())
	if p.ID != event.ActorAnonymous && p.ID != "" {
		return p.ID
	}
	if t := r.Header.Get(TokenHeader); t != "" {
		return "storage-api-token " + auth.Hash(t)[:12]
	}
	return event.ActorAnonymous
}

// body reads a JSON object body (empty or null: {}), keys as given.
func body(r *http.Request) (map[string]json.RawMessage, error) {
	raw, err := rawBody(r)
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	if !present(raw) {
		return out, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, userError(http.StatusBadRequest, "Bad JSON format of request body: the body must be a JSON object")
	}
	return out, nil
}

// ensureApp registers the orchestrations' app on the first create.
func (a *API) ensureApp(ctx context.Context) error {
	if _, found, err := a.q.App(a.cfg.App); err != nil || found {
		return err
	}
	_, err := a.cmd.RegisterApp(ctx, actors.RegisterApp{AppID: a.cfg.App, Active: true})
	if errors.Is(err, projections.ErrAppExists) {
		return nil
	}
	return err
}

// find reads the path's orchestration.
func (a *API) find(r *http.Request, ps httprouter.Params, write bool) (projections.Schedule, error) {
	if err := a.allowed(r, write); err != nil {
		return projections.Schedule{}, err
	}
	raw := ps.ByName("id")
	n, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || n == 0 {
		return projections.Schedule{}, userError(http.StatusNotFound, "Orchestration %s not found", clip(raw))
	}
	read := func() (projections.Schedule, bool, error) { return a.q.ScheduleByNumber(n) }
	if write {
		read = actors.ForWrite(a.cmd, read)
	}
	s, found, err := read()
	switch {
	case err != nil:
		return s, err
	case !found || s.AppID != a.cfg.App || s.Status == event.StatusDeleted || s.Callback.Workflow == nil:
		return s, userError(http.StatusNotFound, "Orchestration %d not found", n)
	}
	return s, nil
}

// ---- orchestrations ----

type tokenJSON struct {
	ID          int    `json:"id"`
	Description string `json:"description"`
}

type lastJobJSON struct {
	ID          uint64  `json:"id"`
	Status      string  `json:"status"`
	CreatedTime string  `json:"createdTime"`
	StartTime   *string `json:"startTime"`
	EndTime     *string `json:"endTime"`
}

type orchestrationJSON struct {
	ID                uint64         `json:"id"`
	Name              string         `json:"name"`
	CrontabRecord     *string        `json:"crontabRecord"`
	CrontabTimezone   *string        `json:"crontabTimezone"`
	CreatedTime       string         `json:"createdTime"`
	LastScheduledTime *string        `json:"lastScheduledTime"`
	NextScheduledTime *string        `json:"nextScheduledTime"`
	Active            bool           `json:"active"`
	Token             tokenJSON      `json:"token"`
	URI               string         `json:"uri"`
	LastExecutedJob   *lastJobJSON   `json:"lastExecutedJob"`
	Notifications     []Notification `json:"notifications"`
	Tasks             *[]Task        `json:"tasks,omitempty"` // nil: not shown (the list)
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func msPtr(ms int64) *string {
	if ms == 0 {
		return nil
	}
	t := Time(time.UnixMilli(ms))
	return &t
}

// base is the URL clients reached this node at.
func base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// taskOut is task t as Keboola shows it (and as Tasks reads it back).
func taskOut(t event.Task) Task {
	out := Task{ID: t.ID, Component: t.Component, ComponentURL: t.URL, Action: t.Action,
		ActionParameters: json.RawMessage("{}"), ContinueOnFailure: t.ContinueOnFailure, Active: t.Active, Phase: ptr(t.Phase)}
	if t.Parameters != "" {
		out.ActionParameters = json.RawMessage(t.Parameters)
	}
	if t.TimeoutSeconds > 0 {
		m := float64(t.TimeoutSeconds) / 60
		out.TimeoutMinutes = &m
	}
	return out
}

func tasksOut(ts []event.Task) []Task {
	out := []Task{}
	for _, t := range ts {
		out = append(out, taskOut(t))
	}
	return out
}

func notificationsOut(ns []event.Notice) []Notification {
	out := []Notification{}
	for _, n := range ns {
		nj := Notification{Email: n.Email, Channel: n.Channel, Parameters: json.RawMessage("{}"), URL: n.URL}
		if n.Parameters != "" {
			nj.Parameters = json.RawMessage(n.Parameters)
		}
		out = append(out, nj)
	}
	return out
}

// answer writes orchestration s, with its tasks, as the response.
func (a *API) answer(w http.ResponseWriter, r *http.Request, s projections.Schedule, status int) error {
	o, err := a.render(r, s, true)
	if err != nil {
		return err
	}
	respond.JSON(w, status, o)
	return nil
}

// render is orchestration s in Keboola's shape; the list leaves out its tasks.
func (a *API) render(r *http.Request, s projections.Schedule, withTasks bool) (orchestrationJSON, error) {
	o := orchestrationJSON{ID: s.CreatedSeq, Name: s.Labels[labelName], CreatedTime: Time(time.UnixMilli(s.CreatedAt)),
		Active: s.Status != event.StatusPaused, URI: fmt.Sprintf("%s/orchestrations/%d", base(r), s.CreatedSeq),
		Notifications: notificationsOut(s.Callback.Workflow.Notices)}
	o.Token = tokenOf(s)
	if s.CronExpression != "" && s.CronExpression != "@manual" {
		o.CrontabRecord = ptr(s.CronExpression)
		if s.TimeZone != "" {
			o.CrontabTimezone = ptr(s.TimeZone)
		}
		if o.Active && s.NextRunTime > 0 {
			o.NextScheduledTime = msPtr(s.NextRunTime * 1000)
		}
	}
	if s.Queue != nil {
		o.LastScheduledTime = msPtr(s.Queue.ScheduledAt)
	}
	if withTasks {
		tasks := tasksOut(s.Callback.Workflow.Tasks)
		o.Tasks = &tasks
	}
	last, err := a.q.JobsOf(s.ScheduleID, 0, 1)
	if err != nil {
		return o, err
	}
	if len(last) == 1 {
		j := last[0]
		o.LastExecutedJob = &lastJobJSON{ID: j.ID, Status: j.Status, CreatedTime: Time(time.UnixMilli(j.CreatedAt)),
			StartTime: msPtr(j.StartedAt), EndTime: msPtr(j.EndedAt)}
	}
	return o, nil
}

// tokenOf is orchestration s's token: its generation (create-token makes
// the next), named after s.
func tokenOf(s projections.Schedule) tokenJSON {
	return tokenJSON{ID: tokenGeneration(s), Description: tokenDescription(s.Labels[labelName])}
}

func tokenGeneration(s projections.Schedule) int {
	gen, _ := strconv.Atoi(s.Labels[labelToken])
	return max(gen, 1)
}

// labelsOf is a copy of s's labels to change.
func labelsOf(s projections.Schedule) map[string]string {
	if l := maps.Clone(s.Labels); l != nil {
		return l
	}
	return map[string]string{}
}

// tokenDescription is how Keboola named an orchestration's token.
func tokenDescription(name string) string {
	if strings.HasSuffix(name, "Orchestrator") {
		return name
	}
	return name + " Orchestrator"
}

func (a *API) list(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := a.allowed(r, false); err != nil {
		return err
	}
	all, err := a.q.Crons(a.cfg.App, "")
	if err != nil {
		return err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CreatedSeq < all[j].CreatedSeq })
	out := []orchestrationJSON{}
	for _, s := range all {
		if s.Status == event.StatusDeleted || s.Callback.Workflow == nil {
			continue
		}
		o, err := a.render(r, s, false)
		if err != nil {
			return err
		}
		out = append(out, o)
	}
	respond.JSON(w, http.StatusOK, out)
	return nil
}

// workflowIn is a workflow read from Keboola's tasks and notifications,
// checked by the log's rules.
func (a *API) workflowIn(tasks []Task, notes []Notification) (*event.Workflow, error) {
	wf := &event.Workflow{}
	for i, t := range tasks {
		et := eventTask(t)
		et.ID = i + 1
		if et.URL == "" && !a.cfg.Components {
			return nil, bad("Task %d: component %q cannot be run: this server has no --keboola-component-url; give the task a componentUrl", i+1, clip(t.Component))
		}
		if et.URL != "" {
			if err := a.cfg.CheckURL(et.URL); err != nil {
				return nil, bad("Task %d: %v", i+1, err)
			}
		}
		wf.Tasks = append(wf.Tasks, et)
	}
	for i, n := range notes {
		en := event.Notice{Channel: n.Channel, Email: n.Email, URL: n.URL}
		if string(n.Parameters) != "{}" {
			en.Parameters = string(n.Parameters)
		}
		if n.URL != "" {
			if err := a.cfg.CheckURL(n.URL); err != nil {
				return nil, bad("Notification %d: %v", i+1, err)
			}
		}
		wf.Notices = append(wf.Notices, en)
	}
	if problems := admit.Callback(event.Callback{Type: event.CallbackWorkflow, Workflow: wf}); len(problems) > 0 {
		return nil, bad("%s", strings.Join(problems, "; "))
	}
	return wf, nil
}

// timeoutSeconds is a task's timeout in minutes (fractions allowed) in
// seconds, at least 1.
func timeoutSeconds(minutes float64) int { return max(1, int(math.Round(minutes*60))) }

// cronIn reads crontabRecord and crontabTimezone (null: manual only, UTC).
func cronIn(f map[string]json.RawMessage, cur *cronspec.Spec) (*cronspec.Spec, error) {
	rec, err := optString(f["crontabRecord"], "crontabRecord")
	if err != nil {
		return nil, err
	}
	zone, err := optString(f["crontabTimezone"], "crontabTimezone")
	if err != nil {
		return nil, err
	}
	if _, given := f["crontabRecord"]; !given && cur != nil {
		rec = cur.Expression()
		if rec == "@manual" {
			rec = ""
		}
	}
	if _, given := f["crontabTimezone"]; !given && cur != nil && cur.Location() != nil && cur.Location() != time.UTC {
		zone = cur.Location().String()
	}
	if rec == "" {
		rec = "@manual"
	} else if len(strings.Fields(rec)) != 5 && !strings.HasPrefix(rec, "@") {
		return nil, bad("Invalid crontab record %q: give 5 fields (minute hour day month weekday)", clip(rec))
	}
	spec, err := cronspec.Parse(rec, zone)
	if err != nil {
		return nil, bad("Invalid crontab record %q: %v", clip(rec), err)
	}
	return spec, nil
}

func (a *API) create(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := a.allowed(r, true); err != nil {
		return err
	}
	f, err := body(r)
	if err != nil {
		return err
	}
	name, err := optString(f["name"], "name")
	if err != nil {
		return err
	}
	if name == "" {
		return bad(`Parameter "name" is required`)
	}
	if len(name) > admit.MaxLabelValueLen {
		return bad("name must be at most %d characters", admit.MaxLabelValueLen)
	}
	spec, err := cronIn(f, nil)
	if err != nil {
		return err
	}
	active, err := optBool(f["active"], true, "active")
	if err != nil {
		return err
	}
	tasks, err := Tasks(f["tasks"])
	if err != nil {
		return err
	}
	notes, err := Notifications(f["notifications"])
	if err != nil {
		return err
	}
	wf, err := a.workflowIn(tasks, notes)
	if err != nil {
		return err
	}
	if err := a.ensureApp(r.Context()); err != nil {
		return err
	}
	s, err := a.cmd.CreateSchedule(r.Context(), actors.CreateSchedule{AppID: a.cfg.App, Cron: spec,
		Callback: event.Callback{Type: event.CallbackWorkflow, Workflow: wf}, Paused: !active,
		Definition: event.Definition{Labels: map[string]string{labelName: name, labelToken: "1"}}})
	if err != nil {
		return err
	}
	return a.answer(w, r, s, http.StatusCreated)
}

func (a *API) get(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.find(r, ps, false)
	if err != nil {
		return err
	}
	return a.answer(w, r, s, http.StatusOK)
}

// update changes the keys given (tasks and notifications replaced whole,
// [] clears them; null leaves them), then pauses or resumes.
func (a *API) update(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	f, err := body(r)
	if err != nil {
		return err
	}
	s, err := a.find(r, ps, true)
	if err != nil {
		return err
	}
	s, err = a.change(r, s, f)
	if err != nil {
		return err
	}
	return a.answer(w, r, s, http.StatusOK)
}

// change applies Keboola's keys in f to orchestration s.
func (a *API) change(r *http.Request, s projections.Schedule, f map[string]json.RawMessage) (projections.Schedule, error) {
	var c actors.ScheduleChange
	changed := false
	labels := labelsOf(s)
	if raw, given := f["name"]; given {
		name, err := optString(raw, "name")
		if err != nil || name == "" || len(name) > admit.MaxLabelValueLen {
			return s, bad(`Parameter "name" must be a non-empty string of at most %d characters`, admit.MaxLabelValueLen)
		}
		labels[labelName] = name
	}
	if labels[labelName] != s.Labels[labelName] || labels[labelToken] != s.Labels[labelToken] {
		c.Labels, changed = &labels, true
	}
	_, rec := f["crontabRecord"]
	_, zone := f["crontabTimezone"]
	if rec || zone {
		cur, err := cronspec.Load(s.CronExpression, s.TimeZone)
		if err != nil {
			return s, err
		}
		spec, err := cronIn(f, cur)
		if err != nil {
			return s, err
		}
		if spec.Expression() != s.CronExpression || zoneName(spec) != s.TimeZone {
			c.Cron, changed = spec, true
		}
	}
	wf := *s.Callback.Workflow
	if present(f["tasks"]) || present(f["notifications"]) {
		tasks, notes := tasksOut(wf.Tasks), notificationsOut(wf.Notices)
		var err error
		if present(f["tasks"]) {
			if tasks, err = Tasks(f["tasks"]); err != nil {
				return s, err
			}
		}
		if present(f["notifications"]) {
			if notes, err = Notifications(f["notifications"]); err != nil {
				return s, err
			}
		}
		next, err := a.workflowIn(tasks, notes)
		if err != nil {
			return s, err
		}
		if present(f["tasks"]) {
			next.Tasks = renumber(next.Tasks, wf.Tasks)
		} else {
			next.Tasks = wf.Tasks
		}
		cb := event.Callback{Type: event.CallbackWorkflow, Workflow: next}
		c.Callback, changed = &cb, true
	}
	active := s.Status != event.StatusPaused
	if raw, given := f["active"]; given && present(raw) {
		var err error
		if active, err = optBool(raw, true, "active"); err != nil {
			return s, err
		}
	}
	var err error
	if changed {
		if s, err = a.cmd.UpdateSchedule(r.Context(), s.ScheduleID, c); err != nil {
			return s, err
		}
	}
	switch paused := s.Status == event.StatusPaused; {
	case !active && !paused:
		s, err = a.cmd.PauseSchedule(r.Context(), s.ScheduleID)
	case active && paused:
		s, err = a.cmd.ResumeSchedule(r.Context(), s.ScheduleID)
	}
	return s, err
}

func zoneName(s *cronspec.Spec) string {
	if loc := s.Location(); loc != nil && loc != time.UTC {
		return loc.String()
	}
	return ""
}

// renumber gives replaced tasks fresh ids, after every id the workflow
// had (Keboola gave new ids on each replace).
func renumber(tasks, old []event.Task) []event.Task {
	next := 1
	for _, t := range old {
		next = max(next, t.ID+1)
	}
	for i := range tasks {
		tasks[i].ID = next + i
	}
	return tasks
}

func (a *API) delete(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.find(r, ps, true)
	if err != nil {
		return err
	}
	if _, err := a.cmd.DeleteSchedule(r.Context(), s.ScheduleID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// createToken gives the orchestration a new token (its generation).
func (a *API) createToken(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.find(r, ps, true)
	if err != nil {
		return err
	}
	labels := labelsOf(s)
	labels[labelToken] = strconv.Itoa(tokenGeneration(s) + 1)
	if s, err = a.cmd.UpdateSchedule(r.Context(), s.ScheduleID, actors.ScheduleChange{Labels: &labels}); err != nil {
		return err
	}
	return a.answer(w, r, s, http.StatusOK)
}

func (a *API) getTasks(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.find(r, ps, false)
	if err != nil {
		return err
	}
	respond.JSON(w, http.StatusOK, tasksOut(s.Callback.Workflow.Tasks))
	return nil
}

// rawBody reads a JSON body; empty is null (Keboola's clients POST
// nothing with a JSON content type).
func rawBody(r *http.Request) (json.RawMessage, error) {
	b, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, userError(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", tooLarge.Limit)
	case err != nil:
		return nil, userError(http.StatusBadRequest, "reading the request body: %v", err)
	case len(bytes.TrimSpace(b)) == 0:
		return nil, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	var raw json.RawMessage
	if err := jsonbody.Decode(r, &raw); err != nil {
		return nil, userError(http.StatusBadRequest, "Bad JSON format of request body: %v", err)
	}
	return raw, nil
}

// listBody reads a PUT's body: a bare list, or {"<key>": list}.
func listBody(r *http.Request, key string) (json.RawMessage, error) {
	raw, err := rawBody(r)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		raw = obj[key]
	}
	if !present(raw) {
		raw = json.RawMessage("[]")
	}
	return raw, nil
}

func (a *API) putTasks(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.find(r, ps, true)
	if err != nil {
		return err
	}
	raw, err := listBody(r, "tasks")
	if err != nil {
		return err
	}
	if s, err = a.change(r, s, map[string]json.RawMessage{"tasks": raw}); err != nil {
		return err
	}
	respond.JSON(w, http.StatusAccepted, tasksOut(s.Callback.Workflow.Tasks))
	return nil
}

func (a *API) getNotifications(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.find(r, ps, false)
	if err != nil {
		return err
	}
	respond.JSON(w, http.StatusOK, notificationsOut(s.Callback.Workflow.Notices))
	return nil
}

func (a *API) putNotifications(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.find(r, ps, true)
	if err != nil {
		return err
	}
	raw, err := listBody(r, "notifications")
	if err != nil {
		return err
	}
	if s, err = a.change(r, s, map[string]json.RawMessage{"notifications": raw}); err != nil {
		return err
	}
	respond.JSON(w, http.StatusAccepted, notificationsOut(s.Callback.Workflow.Notices))
	return nil
}
