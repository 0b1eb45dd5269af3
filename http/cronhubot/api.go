// Package cronhubot serves CronHubot's API (/health, /cronjobs) on
// Chronicle's core: a CronHubot job is a cron schedule of one app (see
// job.go for the mapping), created, changed, paused and deleted through the
// same engine, events, timers, delivery, auth and audit as every schedule.
// Answers and errors are CronHubot's: plain JSON objects, errors as
// {"status": "...", "message": "..."}. README, "CronHubot's API", records
// where this API chooses between the seed's contradictions.
package cronhubot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
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
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/julienschmidt/httprouter"
)

// Commands is what the API changes state with; *actors.Engine has it.
type Commands interface {
	RegisterApp(ctx context.Context, c actors.RegisterApp) (projections.App, error)
	CreateSchedule(ctx context.Context, c actors.CreateSchedule) (projections.Schedule, error)
	DeleteSchedule(ctx context.Context, id string) (projections.Schedule, error)
	UpdateSchedule(ctx context.Context, id string, c actors.ScheduleChange) (projections.Schedule, error)
	PauseSchedule(ctx context.Context, id string) (projections.Schedule, error)
	ResumeSchedule(ctx context.Context, id string) (projections.Schedule, error)
	// Linearize brings this node's state up to every acknowledged write
	// (a write is not refused as not found from a stale state).
	Linearize() error
}

// Queries is what the API reads; projections.Reader has it.
type Queries interface {
	App(id string) (projections.App, bool, error)
	Crons(app, status string) ([]projections.Schedule, error)
	ScheduleByNumber(n uint64) (projections.Schedule, bool, error)
	PastRuns(s projections.Schedule, size int, token string) (projections.Page, error)
	ScheduleEvents(id string, after uint64, limit int) (projections.EventPage, error)
}

// Config says which app holds the jobs and how times read.
type Config struct {
	// App holds every CronHubot job ("cronhubot" if empty); it is
	// registered on the first create if it does not exist.
	App string
	// Zone is where stop_at and the other times are read and written, and
	// where expressions are evaluated (nil: UTC).
	Zone *time.Location
	// Healthy says why the node cannot serve (nil: it can).
	Healthy func() error
	// CheckURL refuses a url that names an address the delivery guard
	// denies (nil: none is).
	CheckURL func(string) error
	Logger   *slog.Logger
}

// DefaultApp holds the jobs unless Config.App says otherwise.
const DefaultApp = "cronhubot"

// API serves CronHubot's endpoints.
type API struct {
	cmd      Commands
	q        Queries
	app      string
	zone     *time.Location
	healthy  func() error
	checkURL func(string) error
	now      func() time.Time
	logger   *slog.Logger
	timeout  time.Duration
}

// New builds the API.
func New(cmd Commands, q Queries, cfg Config) *API {
	a := &API{cmd: cmd, q: q, app: cfg.App, zone: cfg.Zone, healthy: cfg.Healthy, checkURL: cfg.CheckURL,
		now: time.Now, logger: cfg.Logger, timeout: 10 * time.Second}
	if a.app == "" {
		a.app = DefaultApp
	}
	if a.zone == nil {
		a.zone = time.UTC
	}
	if a.checkURL == nil {
		a.checkURL = func(string) error { return nil }
	}
	return a
}

// Register mounts the endpoints on r.
func (a *API) Register(r *httprouter.Router) {
	r.GET("/health", a.health)
	r.GET("/cronjobs", a.handle(a.list))
	r.POST("/cronjobs", a.handle(a.create))
	r.GET("/cronjobs/:id", a.handle(a.get))
	r.PATCH("/cronjobs/:id", a.handle(a.update))
	r.DELETE("/cronjobs/:id", a.handle(a.delete))
	r.GET("/cronjobs/:id/runs", a.handle(a.runs))
	r.GET("/cronjobs/:id/events", a.handle(a.events))
}

// Owns reports whether path is one of this API's, whose errors (refused
// tokens, unknown methods) are answered in its format.
func (a *API) Owns(path string) bool {
	return path == "/health" || path == "/cronjobs" || strings.HasPrefix(path, "/cronjobs/")
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error

func (a *API) handle(h handlerFunc) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		ctx, cancel := context.WithTimeout(actors.WithAPI(r.Context(), "cronhubot"), a.timeout)
		defer cancel()
		if err := h(w, r.WithContext(ctx), ps); err != nil {
			a.WriteError(w, err)
		}
	}
}

// health answers CronHubot's keys: "mysql" is whether the store serves.
func (a *API) health(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	if err := a.healthy(); err != nil {
		respond.JSON(w, http.StatusServiceUnavailable, map[string]any{"api": true, "mysql": false, "reason": err.Error()})
		return
	}
	respond.JSON(w, http.StatusOK, map[string]any{"api": true, "mysql": true})
}

func (a *API) create(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	f, err := a.decode(r)
	if err != nil {
		return err
	}
	if err := a.allowed(r, true); err != nil {
		return err
	}
	j := job{Status: statusActive, Timeout: defaultTimeoutSecs}
	if err := a.mergeChecked(&j, f, true, nil); err != nil {
		return err
	}
	if err := a.ensureApp(r.Context()); err != nil {
		return err
	}
	s, err := a.cmd.CreateSchedule(r.Context(), actors.CreateSchedule{AppID: a.app, Cron: j.spec, Callback: callbackOf(j.URL),
		Retry: retryOf(j), Definition: definitionOf(j, nil), Paused: j.paused()})
	if err != nil {
		return err
	}
	respond.JSON(w, http.StatusCreated, a.render(s))
	return nil
}

// mergeChecked merges f into j and answers what is wrong with the result,
// by CronHubot's rules and then the log's (the same the native API uses).
func (a *API) mergeChecked(j *job, f fields, creating bool, labels map[string]string) error {
	decodeErr, problems := a.merge(j, f, creating)
	if decodeErr != nil {
		return invalidJSON(decodeErr.Error())
	}
	if len(problems) == 0 {
		problems = admit.Definition(definitionOf(*j, labels), true)
	}
	if len(problems) > 0 {
		return invalidJob(strings.Join(problems, "; "))
	}
	return nil
}

// ensureApp registers the jobs' app on the first create.
func (a *API) ensureApp(ctx context.Context) error {
	if _, found, err := a.q.App(a.app); err != nil || found {
		return err
	}
	_, err := a.cmd.RegisterApp(ctx, actors.RegisterApp{AppID: a.app, Active: true})
	if errors.Is(err, projections.ErrAppExists) {
		return nil // registered meanwhile
	}
	return err
}

func (a *API) get(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.find(r, ps, false)
	if err != nil {
		return err
	}
	respond.JSON(w, http.StatusOK, a.render(s))
	return nil
}

// update changes the given fields; any problem leaves the job as it was.
// A change of status pauses or resumes the job after the rest changed.
func (a *API) update(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	f, err := a.decode(r)
	if err != nil {
		return err
	}
	s, err := a.find(r, ps, true)
	if err != nil {
		return err
	}
	cur := jobOf(s)
	next := cur
	if err := a.mergeChecked(&next, f, false, s.Labels); err != nil {
		return err
	}
	var c actors.ScheduleChange
	changed := false
	if next.Name != cur.Name {
		c.Name, changed = &next.Name, true
	}
	if next.URL != cur.URL {
		cb := callbackOf(next.URL)
		c.Callback, changed = &cb, true
	}
	if next.spec != nil && next.Expression != cur.Expression {
		c.Cron, changed = next.spec, true
	}
	if next.Retries != cur.Retries || next.Timeout != cur.Timeout {
		c.Retry, changed = retryOf(next), true
	}
	if next.StopAt != cur.StopAt {
		c.EndTime, changed = &next.StopAt, true
	}
	if labels := definitionOf(next, s.Labels).Labels; !maps.Equal(labels, s.Labels) {
		c.Labels, changed = &labels, true
	}
	if changed {
		if s, err = a.cmd.UpdateSchedule(r.Context(), s.ScheduleID, c); err != nil {
			return err
		}
	}
	switch paused := s.Status == event.StatusPaused; {
	case next.paused() && !paused:
		s, err = a.cmd.PauseSchedule(r.Context(), s.ScheduleID)
	case !next.paused() && paused:
		s, err = a.cmd.ResumeSchedule(r.Context(), s.ScheduleID)
	}
	if err != nil {
		return err
	}
	respond.JSON(w, http.StatusOK, a.render(s))
	return nil
}

func (a *API) delete(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.find(r, ps, true)
	if err != nil {
		return err
	}
	if _, err := a.cmd.DeleteSchedule(r.Context(), s.ScheduleID); err != nil {
		return err
	}
	respond.JSON(w, http.StatusOK, message{Status: "cronjob_deleted", Message: "The cronjob was successfully deleted"})
	return nil
}

// list answers every job not deleted, by id, filtered by ?status= (1, 9
// or 99, as shown) and ?expression= (exactly), paginated by ?limit= and
// ?offset= (default: all, as CronHubot). X-Total-Count is the number of
// jobs the filters match.
func (a *API) list(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := a.allowed(r, false); err != nil {
		return err
	}
	q := r.URL.Query()
	status, err := intParam(q.Get("status"), "status", 0, statusPausedLegacy)
	if err != nil {
		return err
	}
	if status != 0 && status != statusActive && status != statusPaused && status != statusPausedLegacy {
		return badQuery("status must be 1, 9 or 99, not %d", status)
	}
	limit, err := intParam(q.Get("limit"), "limit", 1, 1<<30)
	if err != nil {
		return err
	}
	offset, err := intParam(q.Get("offset"), "offset", 0, 1<<30)
	if err != nil {
		return err
	}
	expr := strings.Join(strings.Fields(q.Get("expression")), " ")
	all, err := a.q.Crons(a.app, "")
	if err != nil {
		return err
	}
	out := []jobJSON{}
	sort.Slice(all, func(i, j int) bool { return all[i].CreatedSeq < all[j].CreatedSeq })
	for _, s := range all {
		if s.Status == event.StatusDeleted {
			continue
		}
		j := jobOf(s)
		if (status != 0 && j.Status != status) || (expr != "" && strings.Join(strings.Fields(j.Expression), " ") != expr) {
			continue
		}
		out = append(out, a.render(s))
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(out)))
	out = out[min(offset, len(out)):]
	if limit > 0 {
		out = out[:min(limit, len(out))]
	}
	respond.JSON(w, http.StatusOK, out)
	return nil
}

// runJSON is one run of a job (Chronicle's addition to CronHubot's API).
type runJSON struct {
	ID           string `json:"id"`
	ScheduledAt  string `json:"scheduled_at"`
	Status       string `json:"status"`
	HTTPStatus   int    `json:"http_status,omitempty"`
	Attempts     int    `json:"attempts,omitempty"`
	Error        string `json:"error,omitempty"`
	FiredAt      string `json:"fired_at,omitempty"`
	CompletedAt  string `json:"completed_at,omitempty"`
	Triggered    bool   `json:"triggered,omitempty"`
	ScheduleTime int64  `json:"schedule_time"` // unix s
}

// runs pages through a job's runs, newest first: ?limit= (1-1000, default
// 20) and ?page_token= from the previous page's next_page_token.
func (a *API) runs(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), "limit", 1, 1000)
	if err != nil {
		return err
	}
	s, err := a.find(r, ps, false)
	if err != nil {
		return err
	}
	page, err := a.q.PastRuns(s, cmp.Or(limit, 20), q.Get("page_token"))
	if errors.Is(err, projections.ErrBadToken) {
		return badQuery("page_token is not one this API gave")
	}
	if err != nil {
		return err
	}
	out := make([]runJSON, 0, len(page.Items))
	for _, run := range page.Items {
		out = append(out, runJSON{ID: run.ScheduleID, ScheduledAt: a.formatUnix(run.ScheduleTime), Status: strings.ToLower(run.Status),
			HTTPStatus: run.HTTPStatus, Attempts: run.Attempts, Error: run.ErrorMessage, FiredAt: a.formatMs(run.FiredAt),
			CompletedAt: a.formatMs(run.CompletedAt), Triggered: strings.HasPrefix(strings.TrimPrefix(run.ScheduleID, s.ScheduleID+"."), "t"), ScheduleTime: run.ScheduleTime})
	}
	respond.JSON(w, http.StatusOK, map[string]any{"runs": out, "next_page_token": page.Next})
	return nil
}

// events pages through a job's history, oldest first: ?after= (an event
// seq) and ?limit= (1-1000, default 100); "next" is the next page's after.
func (a *API) events(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	q := r.URL.Query()
	after, err := intParam(q.Get("after"), "after", 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := intParam(q.Get("limit"), "limit", 1, 1000)
	if err != nil {
		return err
	}
	s, err := a.find(r, ps, false)
	if err != nil {
		return err
	}
	page, err := a.q.ScheduleEvents(s.ScheduleID, uint64(after), cmp.Or(limit, 100))
	if err != nil {
		return err
	}
	views, next, err := page.Views(uint64(after))
	if err != nil {
		return fmt.Errorf("history of cronjob %d: %w", s.CreatedSeq, err)
	}
	respond.JSON(w, http.StatusOK, map[string]any{"id": s.CreatedSeq, "events": views, "next": next, "more": page.More})
	return nil
}

// find reads the job the path's id names: a live cron of the app, or 404.
func (a *API) find(r *http.Request, ps httprouter.Params, write bool) (projections.Schedule, error) {
	raw := ps.ByName("id")
	n, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || n == 0 {
		return projections.Schedule{}, &apiError{HTTP: http.StatusNotFound, Status: "cronjob_not_found",
			Message: "The cronjob was not found", Reason: "a cronjob id is a positive integer, not " + strconv.Quote(clip(raw, 40))}
	}
	if err := a.allowed(r, write); err != nil {
		return projections.Schedule{}, err
	}
	read := func() (projections.Schedule, bool, error) { return a.q.ScheduleByNumber(n) }
	if write {
		// As the native API: this node may be a deposed leader that
		// missed the create.
		read = actors.ForWrite(a.cmd, read)
	}
	s, found, err := read()
	switch {
	case err != nil:
		return s, err
	case !found || s.AppID != a.app || s.ParentID != "" || !s.IsCron() || s.Status == event.StatusDeleted:
		return s, errNotFound
	}
	return s, nil
}

func (a *API) allowed(r *http.Request, write bool) error {
	return auth.From(r.Context()).Check(a.app, write)
}

// decode reads the body as a JSON object of undecoded members.
func (a *API) decode(r *http.Request) (fields, error) {
	var f fields
	if err := jsonbody.Decode(r, &f); err != nil {
		var e *respond.Error
		if errors.As(err, &e) && e.HTTP == http.StatusBadRequest {
			return nil, invalidJSON(e.Message)
		}
		return nil, err
	}
	if f == nil { // the body was null
		return nil, invalidJSON("the body must be a JSON object")
	}
	return f, nil
}

// jobJSON is CronHubot's CronJob object, with Chronicle's additions last.
type jobJSON struct {
	ID             uint64  `json:"id"`
	Name           string  `json:"name"`
	URL            string  `json:"url"`
	Expression     string  `json:"expression"`
	Status         int     `json:"status"`
	Retries        int     `json:"retries"`
	RequestTimeout int     `json:"request_timeout"`
	StopAt         *string `json:"stop_at"` // null: it never expires
	CreatedAt      string  `json:"created_at"`
	UpdatedAt      string  `json:"updated_at"`
	GroupID        int64   `json:"group_id"`
	// State is active, paused, expired (stop_at came, or the expression
	// has no occurrence left) or stopped (by the receiver's {"code":400}).
	State     string  `json:"state"`
	NextRunAt *string `json:"next_run_at,omitempty"`
	// ScheduleID is the native id: /goscheduler/schedules/{scheduleId}.
	ScheduleID string `json:"schedule_id"`
}

func (a *API) render(s projections.Schedule) jobJSON {
	j := jobOf(s)
	out := jobJSON{ID: s.CreatedSeq, Name: j.Name, URL: j.URL, Expression: j.Expression, Status: j.Status, Retries: j.Retries,
		RequestTimeout: j.Timeout, CreatedAt: a.formatMs(s.CreatedAt), UpdatedAt: a.formatMs(cmp.Or(s.UpdatedAt, s.CreatedAt)),
		GroupID: j.GroupID, State: stateOf(s), ScheduleID: s.ScheduleID}
	if j.StopAt != 0 {
		at := a.formatUnix(j.StopAt)
		out.StopAt = &at
	}
	if s.Status == event.StatusScheduled && s.NextRunTime != 0 {
		at := a.formatUnix(s.NextRunTime)
		out.NextRunAt = &at
	}
	return out
}

func stateOf(s projections.Schedule) string {
	if s.Status == event.StatusScheduled {
		return "active"
	}
	return strings.ToLower(s.Status)
}

func (a *API) formatUnix(sec int64) string { return time.Unix(sec, 0).In(a.zone).Format(timeLayout) }

func (a *API) formatMs(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).In(a.zone).Format(timeLayout)
}

// zoneName is the zone expressions are evaluated in, as cronspec names it.
func (a *API) zoneName() string {
	if a.zone == time.UTC {
		return ""
	}
	return a.zone.String()
}

// definitionOf is the schedule definition of j; labels are the schedule's
// own (a job changed keeps the labels set through the native API).
func definitionOf(j job, labels map[string]string) event.Definition {
	l := maps.Clone(labels)
	if l == nil {
		l = map[string]string{}
	}
	delete(l, labelGroupID)
	maps.Copy(l, labelsOf(j))
	return event.Definition{Name: j.Name, EndTime: j.StopAt, StopOnCallback: true, Labels: l}
}

func intParam(raw, name string, lo, hi int) (int, error) {
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, badQuery("%s must be an integer from %d to %d, not %q", name, lo, hi, clip(raw, 40))
	}
	return n, nil
}
