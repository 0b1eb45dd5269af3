package goscheduler

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/http/auth"
	"github.com/chronicle-sched/chronicle/http/respond"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/julienschmidt/httprouter"
)

// Commands is what the API needs to change state; *actors.Engine has it.
type Commands interface {
	RegisterApp(ctx context.Context, c actors.RegisterApp) (projections.App, error)
	SetAppActive(ctx context.Context, appID string, active bool) (projections.App, error)
	CreateSchedule(ctx context.Context, c actors.CreateSchedule) (projections.Schedule, error)
	DeleteSchedule(ctx context.Context, id string) (projections.Schedule, error)
	BulkActionRun(ctx context.Context, c actors.BulkAction) (int, error)
	// RotateSecret gives an app a new signing secret.
	RotateSecret(ctx context.Context, appID string) (projections.App, error)
	UpdateSchedule(ctx context.Context, id string, c actors.ScheduleChange) (projections.Schedule, error)
	PauseSchedule(ctx context.Context, id string) (projections.Schedule, error)
	ResumeSchedule(ctx context.Context, id string) (projections.Schedule, error)
	// TriggerRun fires a cron's run now and returns its run id.
	TriggerRun(ctx context.Context, id string) (string, error)
	// CancelRun cancels the runs of a schedule going on (on the leader).
	CancelRun(ctx context.Context, id string) ([]string, error)
	// CreateJob creates a job of a workflow schedule; CancelJob cancels
	// a waiting one (both on the leader).
	CreateJob(ctx context.Context, id string, c actors.NewJob) (projections.Job, error)
	CancelJob(ctx context.Context, id uint64) error
	// Linearize returns once this node has applied every write the
	// cluster acknowledged before it was called.
	Linearize() error
	// Upcoming returns up to n occurrences of a cron strictly after unix
	// time after (its cron actor computes them).
	Upcoming(ctx context.Context, s projections.Schedule, after int64, n int) ([]int64, error)
}

// Queries is what the API reads; projections.Reader has it.
type Queries interface {
	App(id string) (projections.App, bool, error)
	Apps() ([]projections.App, error)
	Schedule(id string) (projections.Schedule, bool, error)
	Crons(app, status string) ([]projections.Schedule, error)
	PastRuns(s projections.Schedule, size int, token string) (projections.Page, error)
	AppSchedules(app string, start, end int64, status string, size int, token string) (projections.Page, error)
	ScheduleEvents(id string, after uint64, limit int) (projections.EventPage, error)
	AppEvents(app string, after uint64, limit int) (projections.EventPage, error)
	RunOutput(runID string) (output []byte, cut, found bool, err error)
	Job(id uint64) (projections.Job, bool, error)
	JobsOf(id string, offset, limit int) ([]projections.Job, error)
}

// API serves the GoScheduler endpoints.
type API struct {
	cmd     Commands
	q       Queries
	healthy func() error
	// checkURL refuses a callback URL that names a denied address (the
	// delivery guard's rules, knowable before any DNS lookup).
	checkURL func(url string) error
	now      func() time.Time
	logger   *slog.Logger
	timeout  time.Duration
}

// New builds the API. healthy reports why the node cannot serve (nil: it
// can); checkURL refuses callback URLs that name a denied address (nil:
// none is).
func New(cmd Commands, q Queries, healthy func() error, checkURL func(string) error, logger *slog.Logger) *API {
	if checkURL == nil {
		checkURL = func(string) error { return nil }
	}
	return &API{cmd: cmd, q: q, healthy: healthy, checkURL: checkURL, now: time.Now, logger: logger, timeout: 10 * time.Second}
}

// CreatePath is where schedules are created: the one write a follower
// serves itself rather than relaying it to the leader.
const CreatePath = "/goscheduler/schedules"

// Register mounts the endpoints on r.
func (a *API) Register(r *httprouter.Router) {
	r.GET("/goscheduler/healthcheck", a.healthcheck)
	r.POST("/goscheduler/apps", a.handle(a.registerApp))
	r.GET("/goscheduler/apps", a.handle(a.getApps))
	r.POST("/goscheduler/apps/:appId/activate", a.handle(a.activate(true)))
	r.POST("/goscheduler/apps/:appId/deactivate", a.handle(a.activate(false)))
	r.GET("/goscheduler/apps/:appId/schedules", a.handle(a.appSchedules))
	r.GET("/goscheduler/apps/:appId/signing-secret", a.handle(a.signingSecret))
	r.POST("/goscheduler/apps/:appId/signing-secret/rotate", a.handle(a.rotateSecret))
	r.POST("/goscheduler/apps/:appId/bulk-action/:action", a.handle(a.bulkAction))
	r.POST(CreatePath, a.handle(a.createSchedule))
	r.GET("/goscheduler/schedules/:id", a.handle(a.getSchedule))
	r.DELETE("/goscheduler/schedules/:id", a.handle(a.deleteSchedule))
	r.PATCH("/goscheduler/schedules/:id", a.handle(a.updateSchedule))
	r.POST("/goscheduler/schedules/:id/pause", a.handle(a.pauseSchedule))
	r.POST("/goscheduler/schedules/:id/resume", a.handle(a.resumeSchedule))
	r.POST("/goscheduler/schedules/:id/trigger", a.handle(a.triggerRun))
	r.POST("/goscheduler/schedules/:id/cancel", a.handle(a.cancelRun))
	r.GET("/goscheduler/schedules/:id/output", a.handle(a.runOutput))
	r.GET("/goscheduler/schedules/:id/jobs", a.handle(a.jobs))
	r.POST("/goscheduler/schedules/:id/jobs", a.handle(a.createJob))
	r.GET("/goscheduler/jobs/:jobId", a.handle(a.getJob))
	r.DELETE("/goscheduler/jobs/:jobId", a.handle(a.cancelJob))
	r.GET("/goscheduler/schedules/:id/runs", a.handle(a.runs))
	r.GET("/goscheduler/schedules/:id/events", a.handle(a.scheduleEvents))
	r.GET("/goscheduler/apps/:appId/events", a.handle(a.appEvents))
	r.GET("/goscheduler/crons/schedules", a.handle(a.crons))
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error

// handle gives the handler a deadline and answers its error (the server
// bounds the body).
func (a *API) handle(h handlerFunc) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		ctx, cancel := context.WithTimeout(actors.WithAPI(r.Context(), "goscheduler"), a.timeout)
		defer cancel()
		if err := h(w, r.WithContext(ctx), ps); err != nil {
			respond.Write(w, a.logger, err)
		}
	}
}

func (a *API) healthcheck(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	if err := a.healthy(); err != nil {
		respond.JSON(w, http.StatusServiceUnavailable, map[string]string{"statusMessage": "Fail", "reason": err.Error()})
		return
	}
	respond.JSON(w, http.StatusOK, map[string]string{"statusMessage": "Success"})
}

type appJSON struct {
	AppID      string `json:"appId"`
	Partitions int    `json:"partitions"`
	Active     bool   `json:"active"`
}

type registerRequest struct {
	AppID      string `json:"appId"`
	Partitions int    `json:"partitions"`
	Active     *bool  `json:"active"`
}

func (a *API) registerApp(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var req registerRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := validateAppID(req.AppID); err != nil {
		return err
	}
	if err := allowed(r, req.AppID, true); err != nil {
		return err
	}
	if req.Partitions < 0 || req.Partitions > maxPartitions {
		return badRequest("partitions must be between 0 (server default) and %d", maxPartitions)
	}
	active := req.Active == nil || *req.Active
	app, err := a.cmd.RegisterApp(r.Context(), actors.RegisterApp{AppID: req.AppID, Partitions: req.Partitions, Active: active})
	if err != nil {
		return err
	}
	ok(w, http.StatusCreated, 1, appJSON{app.AppID, app.Partitions, app.Active})
	return nil
}

func (a *API) getApps(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var apps []projections.App
	if id := r.URL.Query().Get("app_id"); id != "" {
		if err := allowed(r, id, false); err != nil {
			return err
		}
		app, found, err := a.q.App(id)
		if err != nil {
			return err
		}
		if !found {
			return &respond.Error{HTTP: http.StatusNotFound, Code: 4001, Message: "unregistered App"}
		}
		apps = append(apps, app)
	} else {
		var err error
		if apps, err = a.q.Apps(); err != nil {
			return err
		}
	}
	out := make([]appJSON, 0, len(apps))
	who := auth.From(r.Context())
	for _, app := range apps {
		if who.CanSee(app.AppID) {
			out = append(out, appJSON{app.AppID, app.Partitions, app.Active})
		}
	}
	ok(w, http.StatusOK, len(out), map[string]any{"apps": out})
	return nil
}

func (a *API) activate(active bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		id, err := appParam(r, ps, true)
		if err != nil {
			return err
		}
		app, err := a.cmd.SetAppActive(r.Context(), id, active)
		if err != nil {
			return err
		}
		ok(w, http.StatusCreated, 0, map[string]any{"appId": app.AppID, "Active": app.Active})
		return nil
	}
}

// secretJSON is an app's signing secret as its endpoints show it.
type secretJSON struct {
	Secret string `json:"secret"`
	// PreviousValidUntil: after a rotation, callbacks are also signed with
	// the secret before until then (RFC 3339).
	PreviousValidUntil string `json:"previousValidUntil,omitempty"`
}

func renderSecret(app projections.App) secretJSON {
	out := secretJSON{Secret: app.SigningSecret}
	if app.PreviousSecret != "" && app.PreviousUntil > 0 {
		out.PreviousValidUntil = time.UnixMilli(app.PreviousUntil).UTC().Format(time.RFC3339)
	}
	return out
}

func (a *API) signingSecret(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := appParam(r, ps, true) // a credential: for those who may change the app
	if err != nil {
		return err
	}
	app, found, err := a.q.App(id)
	switch {
	case err != nil:
		return err
	case !found:
		return projections.ErrAppNotFound
	case app.SigningSecret == "":
		return notFound("app %s has no signing secret: it was registered before callbacks were signed; "+
			"POST /goscheduler/apps/%s/signing-secret/rotate gives it one", id, id)
	}
	ok(w, http.StatusOK, 1, renderSecret(app))
	return nil
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := appParam(r, ps, true)
	if err != nil {
		return err
	}
	app, err := a.cmd.RotateSecret(r.Context(), id)
	if err != nil {
		return err
	}
	ok(w, http.StatusCreated, 1, renderSecret(app))
	return nil
}

type detailsJSON struct {
	URL             string            `json:"url"`
	Method          string            `json:"method"`
	Headers         map[string]string `json:"headers,omitempty"`
	FollowRedirects bool              `json:"followRedirects,omitempty"`
	// SecretHeaders names headers whose values no read shows (beside
	// Authorization, Proxy-Authorization, Cookie and X-Api-Key).
	SecretHeaders []string `json:"secretHeaders,omitempty"`
	// NumberParam names a query parameter that carries the schedule's
	// number on every call.
	NumberParam string `json:"numberParam,omitempty"`
	// The request's shape, for receivers written for another scheduler
	// (karajo's HTTP jobs): see event.Callback.
	TimeParam     string               `json:"timeParam,omitempty"`
	Params        string               `json:"params,omitempty"`
	Signature     *event.HMACSignature `json:"signature,omitempty"`
	SuccessStatus int                  `json:"successStatus,omitempty"`
	InsecureTLS   bool                 `json:"insecureTls,omitempty"`
	// Command is shown for a command callback (a karajo job); the API
	// never takes one: see validateCallback.
	Command *event.Command `json:"command,omitempty"`
	// Tasks and Notifications are a workflow callback's (jobs.go).
	Tasks         []taskJSON   `json:"tasks,omitempty"`
	Notifications []noticeJSON `json:"notifications,omitempty"`
}

// callback is the details as the log holds them (method and params not
// yet normalised).
func (d detailsJSON) callback() event.Callback {
	return event.Callback{Type: "http", URL: d.URL, Method: d.Method, Headers: d.Headers,
		FollowRedirects: d.FollowRedirects, SecretHeaders: d.SecretHeaders, NumberParam: d.NumberParam,
		Shape: event.RequestShape{TimeParam: d.TimeParam, Params: d.Params, Signature: d.Signature,
			SuccessStatus: d.SuccessStatus, InsecureTLS: d.InsecureTLS}.Ref()}
}

// detailsOf is a callback's details as the API shows them.
func detailsOf(c event.Callback) detailsJSON {
	sh := c.Shaping()
	return detailsJSON{URL: c.URL, Method: c.Method, Headers: c.Headers, FollowRedirects: c.FollowRedirects,
		SecretHeaders: c.SecretHeaders, NumberParam: c.NumberParam, TimeParam: sh.TimeParam,
		Params: sh.Params, Signature: sh.Signature, SuccessStatus: sh.SuccessStatus,
		InsecureTLS: sh.InsecureTLS, Command: c.Command, Tasks: tasksOf(c.Workflow), Notifications: noticesOf(c.Workflow)}
}

type callbackJSON struct {
	Type    string      `json:"type"`
	Details detailsJSON `json:"details"`
}

type retryJSON struct {
	MaxAttempts      int   `json:"maxAttempts,omitempty"`
	TimeoutMs        int64 `json:"timeoutMs,omitempty"`
	InitialBackoffMs int64 `json:"initialBackoffMs,omitempty"`
	MaxBackoffMs     int64 `json:"maxBackoffMs,omitempty"`
	RetryOn4xx       *bool `json:"retryOn4xx,omitempty"`
}

type createRequest struct {
	AppID          string        `json:"appId"`
	Payload        string        `json:"payload"`
	ScheduleTime   *int64        `json:"scheduleTime"`
	ScheduleTimeMs *int64        `json:"scheduleTimeMs"`
	CronExpression string        `json:"cronExpression"`
	TimeZone       string        `json:"timeZone"`
	Callback       *callbackJSON `json:"callback"`
	HTTPCallback   *detailsJSON  `json:"httpCallback"`
	Retry          *retryJSON    `json:"retry"`
	// Chronicle's additions: see README, "A schedule's lifecycle".
	Name            string            `json:"name"`
	EndTime         *int64            `json:"endTime"`
	StopOnCallback  bool              `json:"stopOnCallback"`
	Labels          map[string]string `json:"labels"`
	Paused          bool              `json:"paused"`
	Counted         bool              `json:"counted"`
	Overlap         string            `json:"overlap"`
	KeepOutputs     int               `json:"keepOutputs"`
	NotifyOnSuccess []string          `json:"notifyOnSuccess"`
	NotifyOnFailure []string          `json:"notifyOnFailure"`
}

func (a *API) createSchedule(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var req createRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := validateAppID(req.AppID); err != nil {
		return err
	}
	if err := allowed(r, req.AppID, true); err != nil {
		return err
	}
	var errs []string
	cb := req.Callback
	if cb == nil && req.HTTPCallback != nil {
		cb = &callbackJSON{Type: "http", Details: *req.HTTPCallback}
	}
	callback := validateCallback(cb, &errs)
	a.checkURLs(callback, &errs)
	retry := validateRetry(req.Retry, &errs)
	if err := admit.PayloadText(req.Payload); err != nil {
		errs = append(errs, err.Error())
	} else if callback != nil {
		errs = append(errs, admit.BodyParams(*callback, req.Payload)...)
	}
	c := actors.CreateSchedule{AppID: req.AppID, Payload: req.Payload, Retry: retry, Paused: req.Paused}
	cron := strings.TrimSpace(req.CronExpression)
	oneTime := req.ScheduleTime != nil || req.ScheduleTimeMs != nil
	switch {
	case oneTime && cron != "":
		errs = append(errs, "give either scheduleTime (one-time) or cronExpression (cron), not both")
	case !oneTime && cron == "":
		errs = append(errs, "scheduleTime (epoch seconds) or cronExpression is required")
	case req.ScheduleTimeMs != nil:
		c.ScheduleTimeMs = a.validateScheduleTimeMs(*req.ScheduleTimeMs, req.ScheduleTime, req.AppID, &errs)
	case cron != "":
		spec, err := cronspec.ParseUnion(cron, req.TimeZone)
		if err != nil {
			errs = append(errs, err.Error())
		}
		c.Cron = spec
	default:
		t, now := *req.ScheduleTime, a.now().Unix()
		switch {
		case t > 0 && admit.DueTime("scheduleTime", t) != "":
			errs = append(errs, admit.DueTime("scheduleTime", t))
		case t < now:
			errs = append(errs, fmt.Sprintf("schedule time : %d is less than current time: %d for app: %s. Time cannot be in past.", t, now, req.AppID))
		}
		c.ScheduleTime = t
	}
	c.Definition = event.Definition{Name: req.Name, StopOnCallback: req.StopOnCallback, Labels: req.Labels,
		Job: event.JobOptions{Counted: req.Counted, Overlap: req.Overlap, KeepOutputs: req.KeepOutputs,
			NotifyOnSuccess: req.NotifyOnSuccess, NotifyOnFailure: req.NotifyOnFailure}.Ref()}
	if req.EndTime != nil {
		c.EndTime = *req.EndTime
		a.futureEndTime(c.EndTime, &errs)
	}
	errs = append(errs, admit.Definition(c.Definition, cron != "")...)
	if len(errs) > 0 {
		return badRequest("%s", strings.Join(errs, ","))
	}
	c.Callback = *callback
	s, err := a.cmd.CreateSchedule(r.Context(), c)
	if err != nil {
		return err
	}
	okSchedule(w, http.StatusCreated, s)
	return nil
}

func (a *API) getSchedule(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	switch c := r.URL.Query().Get("consistency"); c {
	case "":
		// This node's projections: read-your-writes on the node that
		// answered them, possibly behind another node's.
	case "linearizable":
		if err := a.cmd.Linearize(); err != nil {
			return err
		}
	default:
		return badRequest("consistency must be linearizable (or left out for this node's view), not %q", truncate(c, 40))
	}
	s, err := a.findSchedule(r, ps.ByName("id"), false)
	if err != nil {
		return err
	}
	okSchedule(w, http.StatusOK, s)
	return nil
}

// findSchedule validates a path id and reads the schedule (or cron run)
// it names, answering 404 in the seed's words if there is none, and 403
// if the request's token may not read (or, write true, change) its app.
func (a *API) findSchedule(r *http.Request, id string, write bool) (projections.Schedule, error) {
	if err := validateScheduleID(id); err != nil {
		return projections.Schedule{}, err
	}
	read := func() (projections.Schedule, bool, error) { return a.q.Schedule(id) }
	if write {
		// A write is not refused from a state that may be stale: this
		// node may be a deposed leader that missed the create.
		read = actors.ForWrite(a.cmd, read)
	}
	s, found, err := read()
	switch {
	case err != nil:
		return s, err
	case !found:
		return s, notFound("Schedule with id: %s not found", id)
	}
	return s, allowed(r, s.AppID, write)
}

// okSchedule answers one schedule in the envelope's data.schedule.
func okSchedule(w http.ResponseWriter, bodyCode int, s projections.Schedule) {
	ok(w, bodyCode, 1, scheduleData{renderSchedule(s)})
}

// scheduleData is data.schedule as a struct: encoding a one-key map went
// through reflection on an interface per answer, on every create.
type scheduleData struct {
	Schedule scheduleJSON `json:"schedule"`
}

func (a *API) deleteSchedule(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id := ps.ByName("id")
	if auth.From(r.Context()).Scoped() {
		// Only a scoped token needs the app before the delete; the
		// engine answers a missing schedule for everyone else.
		if _, err := a.findSchedule(r, id, true); err != nil {
			return err
		}
	} else if err := validateScheduleID(id); err != nil {
		return err
	}
	s, err := a.cmd.DeleteSchedule(r.Context(), id)
	if err != nil {
		return err
	}
	okSchedule(w, http.StatusOK, s)
	return nil
}

func (a *API) runs(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id := ps.ByName("id")
	q := r.URL.Query()
	when := strings.ToLower(q.Get("when"))
	if when == "" {
		when = "past"
	}
	if when != "past" && when != "future" {
		return badRequest("when must be past or future, not %q", truncate(q.Get("when"), 40))
	}
	size, err := parseSize(q, defaultRunsSize)
	if err != nil {
		return err
	}
	s, err := a.findSchedule(r, id, false)
	if err != nil {
		return err
	}
	var page projections.Page
	switch {
	case !s.IsCron():
		pending := s.Status == event.StatusScheduled
		if (when == "future") == pending {
			page.Items = []projections.Schedule{s}
		}
	case when == "past":
		if page, err = a.q.PastRuns(s, size, q.Get("continuationToken")); err != nil {
			return err
		}
	default:
		if page, err = a.futureRuns(r.Context(), s, size, q.Get("continuationToken")); err != nil {
			return err
		}
	}
	if len(page.Items) == 0 {
		return notFound("No runs found for schedule with id %s", id)
	}
	ok(w, http.StatusOK, len(page.Items), map[string]any{"schedules": renderAll(page.Items), "continuationToken": page.Next})
	return nil
}

// futureRuns lists a cron's coming occurrences, from its next pending one.
// They are computed, not stored: the token is the last time listed.
func (a *API) futureRuns(ctx context.Context, s projections.Schedule, size int, token string) (projections.Page, error) {
	var page projections.Page
	if s.Status != event.StatusScheduled || s.NextRunTime == 0 {
		return page, nil
	}
	after := s.NextRunTime - 1 // the next run is an occurrence: the first after the second before it
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(b) != 8 {
			return page, projections.ErrBadToken
		}
		after = int64(binary.BigEndian.Uint64(b))
	}
	// One more than the page, to know whether a next page exists.
	times, err := a.cmd.Upcoming(ctx, s, after, size+1)
	if err != nil {
		return page, fmt.Errorf("future runs of %s: %w", s.ScheduleID, err)
	}
	for _, t := range times[:min(len(times), size)] {
		run := projections.Run{RunID: event.CronRunID(s.ScheduleID, t), ScheduleID: s.ScheduleID,
			AppID: s.AppID, Partition: s.Partition, ScheduledTime: t, Status: event.StatusScheduled}
		page.Items = append(page.Items, projections.RunAsSchedule(s, run))
	}
	if len(times) > size {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(page.Items[len(page.Items)-1].ScheduleTime))
		page.Next = base64.RawURLEncoding.EncodeToString(b[:])
	}
	return page, nil
}

func (a *API) crons(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	q := r.URL.Query()
	status, err := parseStatus(q)
	if err != nil {
		return err
	}
	appID := q.Get("app_id")
	if appID != "" {
		if err := validateAppID(appID); err != nil {
			return err
		}
		if err := allowed(r, appID, false); err != nil {
			return err
		}
	}
	list, err := a.q.Crons(appID, status)
	if err != nil {
		return err
	}
	if who := auth.From(r.Context()); who.Scoped() {
		list = slices.DeleteFunc(list, func(s projections.Schedule) bool { return !who.CanSee(s.AppID) })
	}
	if len(list) == 0 {
		return notFound("No cron schedules found")
	}
	ok(w, http.StatusOK, len(list), renderAll(list))
	return nil
}

func (a *API) appSchedules(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := appParam(r, ps, false)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	size, err := parseSize(q, defaultPageSize)
	if err != nil {
		return err
	}
	status, err := parseStatus(q)
	if err != nil {
		return err
	}
	start, end, err := parseRange(q)
	if err != nil {
		return err
	}
	if err := a.requireApp(id); err != nil {
		return err
	}
	page, err := a.q.AppSchedules(id, start.Unix(), end.Unix(), status, size, q.Get("continuationToken"))
	if err != nil {
		return err
	}
	data := map[string]any{"schedules": renderAll(page.Items), "continuationToken": page.Next}
	if len(page.Items) > 0 {
		data["continuationStartTime"] = page.Items[len(page.Items)-1].ScheduleTime
	}
	ok(w, http.StatusOK, len(page.Items), data)
	return nil
}

func (a *API) bulkAction(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := appParam(r, ps, true)
	if err != nil {
		return err
	}
	action := strings.ToLower(ps.ByName("action"))
	if action != event.ActionReconcile && action != event.ActionDelete {
		return badRequest("invalid action type %q: use reconcile or delete", truncate(ps.ByName("action"), 40))
	}
	q := r.URL.Query()
	status, err := parseStatus(q)
	if err != nil {
		return err
	}
	start, end, err := parseRange(q)
	if err != nil {
		return err
	}
	n, err := a.cmd.BulkActionRun(r.Context(), actors.BulkAction{AppID: id, Action: action, Status: status, Start: start, End: end})
	if err != nil {
		return err
	}
	respond.JSON(w, http.StatusOK, respond.Envelope{
		Status: respond.StatusJSON{StatusCode: http.StatusOK, StatusMessage: "Success", StatusType: "Success", TotalCount: &n},
		Data:   map[string]any{"action": action, "affected": n},
		Remarks: fmt.Sprintf("%s initiated successfully for app: %s, timeRange: {StartTime:%s EndTime:%s}, status: %s",
			action, id, start.Format("2006-01-02 15:04:05 -0700 MST"), end.Format("2006-01-02 15:04:05 -0700 MST"), status),
	})
	return nil
}

// scheduleJSON is a schedule as GoScheduler shows it (the Get Schedule
// shape), with a few additive fields of ours.
type scheduleJSON struct {
	ScheduleID       string       `json:"scheduleId"`
	ParentScheduleID string       `json:"parentScheduleId,omitempty"`
	Payload          string       `json:"payload"`
	AppID            string       `json:"appId"`
	ScheduleTime     int64        `json:"scheduleTime,omitempty"`
	ScheduleTimeMs   int64        `json:"scheduleTimeMs,omitempty"`
	PartitionID      int          `json:"partitionId"`
	ScheduleGroup    int64        `json:"scheduleGroup,omitempty"`
	Callback         callbackJSON `json:"callback"`
	CronExpression   string       `json:"cronExpression,omitempty"`
	TimeZone         string       `json:"timeZone,omitempty"`
	NextRunTime      int64        `json:"nextRunTime,omitempty"`
	Retry            *retryJSON   `json:"retry,omitempty"`
	Status           string       `json:"status"`
	ErrorMessage     string       `json:"errorMessage,omitempty"`
	HTTPStatus       int          `json:"httpStatus,omitempty"`
	Attempts         int          `json:"attempts,omitempty"`
	// Chronicle's additions.
	Number          uint64            `json:"number,omitempty"` // the seq of its creation: a short, unique id
	Name            string            `json:"name,omitempty"`
	EndTime         int64             `json:"endTime,omitempty"`
	StopOnCallback  bool              `json:"stopOnCallback,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	UpdatedAt       int64             `json:"updatedAt,omitempty"` // epoch ms
	Counted         bool              `json:"counted,omitempty"`
	Overlap         string            `json:"overlap,omitempty"`
	KeepOutputs     int               `json:"keepOutputs,omitempty"`
	NotifyOnSuccess []string          `json:"notifyOnSuccess,omitempty"`
	NotifyOnFailure []string          `json:"notifyOnFailure,omitempty"`
	// Runs is how many runs a counted schedule has fired; Counter, a
	// run's number among them.
	Runs    int `json:"runs,omitempty"`
	Counter int `json:"counter,omitempty"`
}

func renderSchedule(s projections.Schedule) scheduleJSON {
	cb, job := s.Callback.Shown(), s.Jobs()
	out := scheduleJSON{
		ScheduleID: s.ScheduleID, ParentScheduleID: s.ParentID, Payload: s.Payload, AppID: s.AppID,
		ScheduleTime: s.ScheduleTime, ScheduleTimeMs: s.ScheduleTimeMs, PartitionID: s.Partition,
		Callback: callbackJSON{Type: cb.Type, Details: detailsOf(cb)},
		Status:   s.Status, ErrorMessage: s.ErrorMessage, HTTPStatus: s.HTTPStatus, Attempts: s.Attempts,
		Name: s.Name, EndTime: s.EndTime, StopOnCallback: s.StopOnCallback, Labels: s.Labels, UpdatedAt: s.UpdatedAt,
		Counted: job.Counted, Overlap: job.Overlap, KeepOutputs: job.KeepOutputs, Runs: s.Runs, Counter: s.Counter,
		NotifyOnSuccess: job.NotifyOnSuccess, NotifyOnFailure: job.NotifyOnFailure,
	}
	if s.ParentID == "" {
		out.Number = s.CreatedSeq
	}
	if s.ScheduleTime > 0 {
		out.ScheduleGroup = s.ScheduleTime - s.ScheduleTime%60
	}
	if s.ParentID == "" {
		out.CronExpression, out.TimeZone, out.NextRunTime = s.CronExpression, s.TimeZone, s.NextRunTime
	}
	if r := s.Retry; r != nil {
		out.Retry = &retryJSON{r.MaxAttempts, r.TimeoutMs, r.InitialBackoffMs, r.MaxBackoffMs, r.RetryOn4xx}
	}
	return out
}

func renderAll(list []projections.Schedule) []scheduleJSON {
	out := make([]scheduleJSON, 0, len(list))
	for _, s := range list {
		out = append(out, renderSchedule(s))
	}
	return out
}
