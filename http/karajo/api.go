// Package karajo serves karajo's HTTP API (/karajo/api/...) over the jobs
// of a karajo configuration (serve --karajo-config), which the leader
// reconciled into schedules of the app karajo (actors/reconcile): a thin
// mapping onto the engine's commands (pause, resume, trigger, cancel) and
// the projections (runs, their outputs), in karajo's envelopes, error
// names and JSON shapes, so karajo's clients work unchanged.
//
// Where it differs from karajo (README, "karajo's jobs"): a management
// request's _karajo_epoch, read from the signed bytes only, must be within
// 5 minutes of the server's clock and each signature is accepted once,
// cluster-wide (SignatureSpent); a webhook's epoch, when its body has one,
// must be fresh, but a webhook is not once-only; an unknown log counter is
// a real 404; responses are gzip-compressed only for clients that accept
// it; with auth on, the reading endpoints need a token like every other
// API of the server.
package karajo

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/actors/reconcile"
	"github.com/chronicle-sched/chronicle/http/respond"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/internal/karajoconf"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/julienschmidt/httprouter"
)

// Prefix is the path of every endpoint of this API.
const Prefix = "/karajo/api/"

// Commands is what the API asks of the engine.
type Commands interface {
	PauseSchedule(ctx context.Context, id string) (projections.Schedule, error)
	ResumeSchedule(ctx context.Context, id string) (projections.Schedule, error)
	TriggerRun(ctx context.Context, id string) (string, error)
	CancelRun(ctx context.Context, id string) ([]string, error)
	SpendSignature(ctx context.Context, digest string, until time.Time) error
}

// Queries is what the API reads; projections.Reader has it.
type Queries interface {
	ScheduleByName(app, name string) (projections.Schedule, bool, error)
	PastRuns(s projections.Schedule, size int, token string) (projections.Page, error)
	RunOutput(runID string) (output []byte, cut, found bool, err error)
}

// Config is what the API serves.
type Config struct {
	Karajo  *karajoconf.Config // the node's configuration: jobs, secrets, settings
	Version string             // the build, shown as the environment's version
	Logger  *slog.Logger
	Now     func() time.Time // default time.Now
}

// API serves karajo's endpoints.
type API struct {
	cfg     Config
	cmd     Commands
	q       Queries
	timeout time.Duration
}

// New builds the API.
func New(cmd Commands, q Queries, cfg Config) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &API{cfg: cfg, cmd: cmd, q: q, timeout: 10 * time.Second}
}

// Register adds the routes.
func (a *API) Register(r *httprouter.Router) {
	r.GET(Prefix+"environment", a.handle(a.environment))
	r.POST(Prefix+"job_exec/run/*path", a.handle(a.run))
	r.POST(Prefix+"job_exec/pause", a.handle(a.execAction(actionPause)))
	r.POST(Prefix+"job_exec/resume", a.handle(a.execAction(actionResume)))
	r.POST(Prefix+"job_exec/cancel", a.handle(a.execAction(actionCancel)))
	r.GET(Prefix+"job_exec/log", a.handle(a.execLog))
	r.GET(Prefix+"job_http", a.handle(a.httpJob))
	r.GET(Prefix+"job_http/log", a.handle(a.httpLog))
	r.GET(Prefix+"job_http/logs", a.handle(a.httpLogs))
	r.POST(Prefix+"job_http/pause", a.handle(a.httpAction(actionPause)))
	r.POST(Prefix+"job_http/resume", a.handle(a.httpAction(actionResume)))
}

// Owns reports whether path is one of this API's, whose errors are
// answered in karajo's format.
func (a *API) Owns(path string) bool { return strings.HasPrefix(path, Prefix) }

type handlerFunc func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error

func (a *API) handle(h handlerFunc) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		ctx, cancel := context.WithTimeout(actors.WithAPI(r.Context(), "karajo"), a.timeout)
		defer cancel()
		if err := h(w, r.WithContext(ctx), ps); err != nil {
			a.WriteError(w, err)
		}
	}
}

// apiError is one of karajo's errors: {"message","name","code"}, the
// HTTP status being code.
type apiError struct {
	Message string `json:"message,omitempty"`
	Name    string `json:"name,omitempty"`
	Code    int    `json:"code"`
}

func (e *apiError) Error() string { return e.Message }

// karajo's errors, names and messages verbatim.
func errJobNotFound(id string) *apiError {
	return &apiError{"job not found: " + id, "ERR_JOB_NOT_FOUND", http.StatusNotFound}
}
func errInvalidJobID(id string) *apiError {
	return &apiError{"invalid or empty job id: " + id, "ERR_INVALID_JOB_ID", http.StatusBadRequest}
}
func errForbidden(why string) *apiError {
	msg := "forbidden"
	if why != "" {
		msg += ": " + why
	}
	return &apiError{msg, "ERR_JOB_FORBIDDEN", http.StatusForbidden}
}

var (
	errJobPaused     = &apiError{"job is paused", "ERR_JOB_PAUSED", http.StatusPreconditionFailed}
	errJobAlreadyRun = &apiError{"job already run", "ERR_JOB_ALREADY_RUN", http.StatusTooManyRequests}
)

func errSignature(why string) *apiError {
	msg := "empty or invalid signature"
	if why != "" {
		msg += ": " + why
	}
	return &apiError{Message: msg, Code: http.StatusUnauthorized}
}

// WriteError answers err in karajo's error format; an error of the
// lower layers keeps its status and message, with no name.
func (a *API) WriteError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ans := respond.Answer(a.cfg.Logger, err) // logs an internal failure with its id
		ae = &apiError{Message: ans.Message, Code: ans.HTTP}
		if ans.HTTP == http.StatusInternalServerError {
			ae.Name = "ERR_INTERNAL"
		}
	}
	if ae.Code == http.StatusTooManyRequests || ae.Code == http.StatusServiceUnavailable {
		respond.ErrorHeaders(w, ae.Code)
	}
	writeJSON(w, nil, ae.Code, ae)
}

// writeJSON writes v with status code, gzip-compressed when r (if any)
// accepts it.
func writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"message":"internal server error","name":"ERR_INTERNAL","code":500}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r != nil && acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		w.WriteHeader(code)
		zw := gzip.NewWriter(w)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return
	}
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// ok is karajo's success envelope: {"data":...,"message"?,"code":200}.
type ok struct {
	Data    any    `json:"data"`
	Message string `json:"message,omitempty"`
	Code    int    `json:"code"`
}

// scheduleOf is the schedule a job became, by its kind and id; a job
// the leader has not reconciled yet is unavailable for now.
func (a *API) scheduleOf(kind, id string) (projections.Schedule, error) {
	s, found, err := a.q.ScheduleByName(reconcile.KarajoApp, kind+"/"+id)
	switch {
	case err != nil:
		return s, err
	case !found:
		return s, errkind.Newf(errkind.Unavailable, "%s %s is not in the cluster's state yet: the leader reconciles the "+
			"configuration when it takes over; retry", kind, id)
	}
	return s, nil
}
