package karajo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/actors/reconcile"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/karajoconf"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/julienschmidt/httprouter"
)

// requestCtx is what a handler carries about its request.
type requestCtx struct {
	ctx context.Context
	now time.Time
}

func (a *API) req(r *http.Request) *requestCtx {
	return &requestCtx{ctx: r.Context(), now: a.cfg.Now()}
}

// maxBody bounds what a signed request's body may be (a GitHub push event
// is well under it).
const maxBody = 1 << 20

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, &apiError{Message: "reading the request: " + err.Error(), Code: http.StatusBadRequest}
	}
	if len(b) > maxBody {
		return nil, &apiError{Message: "the request body is larger than 1 MiB", Code: http.StatusRequestEntityTooLarge}
	}
	return b, nil
}

func (a *API) environment(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	k := a.cfg.Karajo
	out := env{Name: k.Name, ListenAddress: k.ListenAddress, DirBase: k.DirBase, DirPublic: k.DirPublic,
		Version: a.cfg.Version, HTTPTimeout: k.HTTPTimeout, MaxJobRunning: k.MaxJobRunning, IsDevelopment: k.IsDevelopment}
	for _, j := range k.Jobs {
		v, err := a.execJob(j)
		if err != nil {
			return err
		}
		if out.Jobs == nil {
			out.Jobs = map[string]jobExec{}
		}
		out.Jobs[j.Name] = v
	}
	for _, j := range k.HTTPJobs {
		v, err := a.httpJobOf(j)
		if err != nil {
			return err
		}
		if out.HTTPJobs == nil {
			out.HTTPJobs = map[string]jobHTTP{}
		}
		out.HTTPJobs[j.Name] = v
	}
	writeJSON(w, r, http.StatusOK, ok{Data: out, Code: http.StatusOK})
	return nil
}

// jobByPath is the command job whose path p names (compared as karajo
// does: without regard to case or a trailing slash), or nil.
func (a *API) jobByPath(p string) *karajoconf.Job {
	p = strings.ToLower(path.Clean("/" + strings.Trim(p, "/")))
	for _, j := range a.cfg.Karajo.Jobs {
		if j.Path != "" && strings.ToLower(j.Path) == p {
			return j
		}
	}
	return nil
}

// run is a command job's webhook: authorised by its signature (403),
// refused while paused (412) or while a run goes on and one waits (429),
// answered at once with the job.
func (a *API) run(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	j := a.jobByPath(ps.ByName("path"))
	if j == nil {
		w.WriteHeader(http.StatusNotFound) // karajo's: an empty body, which its client reads as "job not found"
		return nil
	}
	rc := a.req(r)
	body, err := readBody(r)
	if err != nil {
		return err
	}
	sig := ""
	switch j.AuthKind {
	case karajoconf.AuthGitHub:
		sig = strings.TrimPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256=")
	default:
		sig = r.Header.Get(j.HeaderSign)
	}
	if !checkSign(j.Secret, body, sig) {
		return errForbidden("")
	}
	// A webhook is not once-only, unlike a management request: karajo's
	// client sends the same bytes for two triggers within a second, and a
	// GitHub redelivery is a deliberate act; a replay starts at most one
	// queued run (then 429). Its time, when it carries one, must be fresh.
	var payload struct {
		Epoch json.RawMessage `json:"_karajo_epoch"`
	}
	if json.Unmarshal(body, &payload) == nil && len(payload.Epoch) > 0 {
		if _, err := epochOf(strings.Trim(string(payload.Epoch), `"`), rc.now); err != nil {
			return errForbidden(err.Error())
		}
	}
	s, err := a.scheduleOf(reconcile.KindCommand, j.ID)
	if err != nil {
		return err
	}
	if s.Status == event.StatusPaused {
		return errJobPaused
	}
	if _, err := a.cmd.TriggerRun(rc.ctx, s.ScheduleID); err != nil {
		switch {
		case errors.Is(err, actors.ErrRunWaiting):
			return errJobAlreadyRun
		case errors.Is(err, projections.ErrSchedulePaused):
			return errJobPaused
		}
		return err
	}
	v, err := a.execJob(j)
	if err != nil {
		return err
	}
	writeJSON(w, nil, http.StatusOK, ok{Data: v, Message: "OK", Code: http.StatusOK})
	return nil
}

type action int

const (
	actionPause action = iota
	actionResume
	actionCancel
)

func (a *API) act(ctx context.Context, s projections.Schedule, act action) error {
	var err error
	switch act {
	case actionPause:
		_, err = a.cmd.PauseSchedule(ctx, s.ScheduleID)
		if errors.Is(err, projections.ErrSchedulePaused) {
			err = nil // karajo pauses a paused job again
		}
	case actionResume:
		_, err = a.cmd.ResumeSchedule(ctx, s.ScheduleID)
		if errors.Is(err, projections.ErrScheduleNotPaused) {
			err = nil
		}
	case actionCancel:
		_, err = a.cmd.CancelRun(ctx, s.ScheduleID)
		if errors.Is(err, actors.ErrNotRunning) {
			err = nil // karajo answers 200 when nothing runs
		}
	}
	return err
}

// signedForm checks a job_exec management request: the raw body signed
// with the global secret in X-Karajo-Sign (401), an _karajo_epoch within
// the window and a signature not used before (401). It returns the form,
// read from the body alone: only what is signed is trusted (karajo also
// reads the query, which no signature covers, so a captured body could be
// sent again with a fresh epoch or another id there).
func (a *API) signedForm(r *http.Request, rc *requestCtx) (url.Values, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	sig := r.Header.Get("X-Karajo-Sign")
	if !checkSign(a.cfg.Karajo.Secret, body, sig) {
		return nil, errSignature("")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &apiError{Message: "the form does not parse: " + err.Error(), Code: http.StatusBadRequest}
	}
	if err := a.fresh(rc, sig, form.Get("_karajo_epoch")); err != nil {
		return nil, err
	}
	return form, nil
}

// fresh refuses a management request whose epoch is out of the window or
// whose signature was used before (401).
func (a *API) fresh(rc *requestCtx, sig, rawEpoch string) error {
	epoch, err := epochOf(rawEpoch, rc.now)
	if err != nil {
		return errSignature(err.Error())
	}
	fresh, err := a.spend(rc, sig, epoch)
	switch {
	case err != nil:
		return err
	case !fresh:
		return errSignature("this signature was already used (a replayed request)")
	}
	return nil
}

func (a *API) execAction(act action) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
		rc := a.req(r)
		form, err := a.signedForm(r, rc)
		if err != nil {
			return err
		}
		id := form.Get("id")
		j := a.cfg.Karajo.Job(id)
		if j == nil {
			return errJobNotFound(id)
		}
		s, err := a.scheduleOf(reconcile.KindCommand, j.ID)
		if err != nil {
			return err
		}
		if err := a.act(rc.ctx, s, act); err != nil {
			return err
		}
		v, err := a.execJob(j)
		if err != nil {
			return err
		}
		writeJSON(w, nil, http.StatusOK, ok{Data: v, Code: http.StatusOK})
		return nil
	}
}

func (a *API) httpAction(act action) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
		rc := a.req(r)
		sig := r.Header.Get("X-Karajo-Sign")
		if !checkSign(a.cfg.Karajo.Secret, []byte(r.URL.RawQuery), sig) {
			return errSignature("")
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return &apiError{Message: "the query does not parse: " + err.Error(), Code: http.StatusBadRequest}
		}
		if err := a.fresh(rc, sig, q.Get("_karajo_epoch")); err != nil {
			return err
		}
		id := q.Get("id")
		j := a.cfg.Karajo.HTTPJob(id)
		if j == nil {
			return errInvalidJobID(id)
		}
		s, err := a.scheduleOf(reconcile.KindHTTP, j.ID)
		if err != nil {
			return err
		}
		if err := a.act(rc.ctx, s, act); err != nil {
			return err
		}
		v, err := a.httpJobOf(j)
		if err != nil {
			return err
		}
		writeJSON(w, nil, http.StatusOK, ok{Data: v, Code: http.StatusOK})
		return nil
	}
}

func (a *API) httpJob(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	id := r.URL.Query().Get("id")
	j := a.cfg.Karajo.HTTPJob(id)
	if j == nil {
		return errInvalidJobID(id)
	}
	v, err := a.httpJobOf(j)
	if err != nil {
		return err
	}
	writeJSON(w, nil, http.StatusOK, ok{Data: v, Code: http.StatusOK})
	return nil
}

// logAnswer is the log endpoints' success body: code first, as karajo.
type logAnswer struct {
	Code int    `json:"code"`
	Data jobLog `json:"data"`
}

// counterOf reads the counter parameter; karajo answers a bad one 404.
func counterOf(r *http.Request) (int64, error) {
	raw := r.URL.Query().Get("counter")
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, &apiError{Message: "log #" + raw + " not found", Code: http.StatusNotFound}
	}
	return n, nil
}

// findRun is the run numbered counter among those kept; a real 404
// otherwise (karajo answers HTTP 200 with code 404 in the body).
func findRun(h history, counter int64) (run, error) {
	for _, r := range h.runs {
		if r.counter == counter {
			return r, nil
		}
	}
	return run{}, &apiError{Message: "log #" + strconv.FormatInt(counter, 10) + " not found", Code: http.StatusNotFound}
}

func logName(id string, r run) string {
	name := id + "." + strconv.FormatInt(r.counter, 10)
	if r.status != statusRunning {
		name += "." + r.status
	}
	return name
}

func (a *API) execLog(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	id := strings.ToLower(r.URL.Query().Get("id"))
	j := a.cfg.Karajo.Job(id)
	if j == nil {
		return &apiError{Message: "job ID " + id + " not found", Code: http.StatusNotFound}
	}
	counter, err := counterOf(r)
	if err != nil {
		return err
	}
	_, h, err := a.jobState(reconcile.KindCommand, j.ID, j.LogRetention)
	if err != nil {
		return err
	}
	run, err := findRun(h, counter)
	if err != nil {
		return err
	}
	content, _, _, err := a.q.RunOutput(run.rec.ScheduleID)
	if err != nil {
		return err
	}
	if content == nil {
		content = []byte{}
	}
	writeJSON(w, r, http.StatusOK, logAnswer{Code: http.StatusOK,
		Data: jobLog{JobID: j.ID, Name: logName(j.ID, run), Status: run.status, Counter: run.counter, Content: content}})
	return nil
}

func (a *API) httpLog(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	id := strings.ToLower(r.URL.Query().Get("id"))
	j := a.cfg.Karajo.HTTPJob(id)
	if j == nil {
		return errInvalidJobID(id)
	}
	counter, err := counterOf(r)
	if err != nil {
		return err
	}
	_, h, err := a.jobState(reconcile.KindHTTP, j.ID, j.LogRetention)
	if err != nil {
		return err
	}
	run, err := findRun(h, counter)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, logAnswer{Code: http.StatusOK,
		Data: jobLog{JobID: j.ID, Name: logName(j.ID, run), Status: run.status, Counter: run.counter, Content: httpLogContent(j, run)}})
	return nil
}

// httpLogs is the documented GET /karajo/api/job_http/logs (karajo up to
// v0.7): the job's kept logs, oldest first, each as its text.
func (a *API) httpLogs(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	id := r.URL.Query().Get("id")
	j := a.cfg.Karajo.HTTPJob(id)
	if j == nil {
		return errInvalidJobID(id)
	}
	_, h, err := a.jobState(reconcile.KindHTTP, j.ID, j.LogRetention)
	if err != nil {
		return err
	}
	logs := make([]string, 0, len(h.runs))
	for _, run := range h.runs {
		logs = append(logs, string(httpLogContent(j, run)))
	}
	writeJSON(w, r, http.StatusOK, ok{Data: logs, Code: http.StatusOK})
	return nil
}
