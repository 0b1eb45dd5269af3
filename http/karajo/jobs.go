package karajo

import (
	"fmt"
	"time"

	"github.com/chronicle-sched/chronicle/actors/reconcile"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/karajoconf"
	"github.com/chronicle-sched/chronicle/projections"
)

// karajo's job statuses.
const (
	statusStarted  = "started"
	statusRunning  = "running"
	statusSuccess  = "success"
	statusFailed   = "failed"
	statusCanceled = "canceled"
	statusPaused   = "paused"
)

// jobBase is karajo's JobBase as its API shows it (field order and
// omitempty rules as karajo's).
type jobBase struct {
	LastRun        time.Time     `json:"last_run"`
	NextRun        time.Time     `json:"next_run"`
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	Description    string        `json:"description,omitempty"`
	Status         string        `json:"status,omitempty"`
	Schedule       string        `json:"schedule,omitempty"`
	NotifOnSuccess []string      `json:"notif_on_success,omitempty"`
	NotifOnFailed  []string      `json:"notif_on_failed,omitempty"`
	Logs           []logSummary  `json:"logs,omitempty"`
	Interval       time.Duration `json:"interval,omitempty"`
	LogRetention   int           `json:"log_retention,omitempty"`
}

// jobExec is karajo's JobExec (a command job); never its secret.
type jobExec struct {
	Path       string   `json:"path,omitempty"`
	AuthKind   string   `json:"auth_kind,omitempty"`
	HeaderSign string   `json:"header_sign,omitempty"`
	Commands   []string `json:"commands,omitempty"`
	jobBase
}

// jobHTTP is karajo's JobHttp; never its secret.
type jobHTTP struct {
	HeaderSign      string   `json:"header_sign,omitempty"`
	HTTPMethod      string   `json:"http_method"`
	HTTPURL         string   `json:"http_url"`
	HTTPRequestType string   `json:"http_request_type"`
	HTTPHeaders     []string `json:"http_headers,omitempty"`
	jobBase
	HTTPTimeout  time.Duration `json:"http_timeout"`
	HTTPInsecure bool          `json:"http_insecure,omitempty"`
}

// logSummary is a JobLog in a job's logs (no content).
type logSummary struct {
	JobID   string `json:"job_id"`
	Name    string `json:"name"`
	Status  string `json:"status,omitempty"`
	Counter int64  `json:"counter,omitempty"`
}

// jobLog is a JobLog as the log endpoints answer it: every field, the
// content base64 (encoding/json's []byte).
type jobLog struct {
	JobID   string `json:"job_id"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Counter int64  `json:"counter"`
	Content []byte `json:"content"`
}

// env is karajo's Env.
type env struct {
	Jobs          map[string]jobExec `json:"jobs"`
	HTTPJobs      map[string]jobHTTP `json:"http_jobs"`
	Name          string             `json:"name"`
	ListenAddress string             `json:"listen_address"`
	DirBase       string             `json:"dir_base"`
	DirPublic     string             `json:"dir_public"`
	Version       string             `json:"version"`
	HTTPTimeout   time.Duration      `json:"http_timeout"`
	MaxJobRunning int                `json:"max_job_running"`
	IsDevelopment bool               `json:"is_development"`
}

// run is one counted run of a job: its number, karajo status and record.
type run struct {
	counter int64
	status  string
	rec     projections.Schedule
}

// history is what a job's schedule holds of its runs: its newest counted
// runs (at most retention, oldest first, as karajo lists logs) and the end
// of its last finished run.
type history struct {
	runs    []run
	lastRun time.Time
}

// runStatus is a run's status in karajo's words ("" for a MISS, which is
// no run of karajo's).
func runStatus(status string) string {
	switch status {
	case event.StatusScheduled:
		return statusRunning // fired, no outcome yet
	case event.StatusSuccess:
		return statusSuccess
	case event.StatusFailure:
		return statusFailed
	case event.StatusCanceled:
		return statusCanceled
	}
	return ""
}

// historyOf reads schedule s's newest retention counted runs.
func (a *API) historyOf(s projections.Schedule, retention int) (history, error) {
	var h history
	if retention <= 0 {
		retention = karajoconf.DefaultLogRetention
	}
	token := ""
	for pages := 0; len(h.runs) < retention && pages < 8; pages++ {
		page, err := a.q.PastRuns(s, 4*retention+16, token)
		if err != nil {
			return h, err
		}
		for _, r := range page.Items {
			st := runStatus(r.Status)
			if st == "" || r.Counter == 0 || len(h.runs) >= retention {
				continue
			}
			h.runs = append(h.runs, run{counter: int64(r.Counter), status: st, rec: r})
			if h.lastRun.IsZero() && r.CompletedAt != 0 {
				h.lastRun = time.UnixMilli(r.CompletedAt).UTC().Truncate(time.Second)
			}
		}
		if token = page.Next; token == "" {
			break
		}
	}
	for i, j := 0, len(h.runs)-1; i < j; i, j = i+1, j-1 { // oldest first
		h.runs[i], h.runs[j] = h.runs[j], h.runs[i]
	}
	return h, nil
}

// base is the JobBase of job b whose schedule is s.
func (a *API) base(b karajoconf.JobBase, s projections.Schedule, h history) jobBase {
	out := jobBase{ID: b.ID, Name: b.Name, Description: b.Description, Schedule: b.Schedule, Interval: b.Interval,
		NotifOnSuccess: b.NotifOnSuccess, NotifOnFailed: b.NotifOnFailed, LogRetention: b.LogRetention,
		LastRun: h.lastRun, Status: statusStarted}
	if s.NextRunTime != 0 && s.Status != event.StatusPaused {
		out.NextRun = time.Unix(s.NextRunTime, 0).UTC()
	}
	for _, r := range h.runs {
		out.Logs = append(out.Logs, logSummary{JobID: b.ID, Name: logName(b.ID, r), Status: r.status, Counter: r.counter})
	}
	if n := len(h.runs); n > 0 {
		out.Status = h.runs[n-1].status
	}
	if s.Status == event.StatusPaused {
		out.Status = statusPaused
	}
	return out
}

// execJob is command job j as karajo's API shows it.
func (a *API) execJob(j *karajoconf.Job) (jobExec, error) {
	s, h, err := a.jobState(reconcile.KindCommand, j.ID, j.LogRetention)
	if err != nil {
		return jobExec{}, err
	}
	return jobExec{Path: j.Path, AuthKind: j.AuthKind, HeaderSign: j.HeaderSign, Commands: j.Commands,
		jobBase: a.base(j.JobBase, s, h)}, nil
}

// httpJobOf is HTTP job j as karajo's API shows it.
func (a *API) httpJobOf(j *karajoconf.HTTPJob) (jobHTTP, error) {
	s, h, err := a.jobState(reconcile.KindHTTP, j.ID, j.LogRetention)
	if err != nil {
		return jobHTTP{}, err
	}
	out := jobHTTP{HeaderSign: j.HeaderSign, HTTPMethod: j.Method, HTTPURL: j.URL, HTTPRequestType: j.RequestType,
		jobBase: a.base(j.JobBase, s, h), HTTPTimeout: j.Timeout, HTTPInsecure: j.Insecure}
	for _, kv := range j.Headers {
		out.HTTPHeaders = append(out.HTTPHeaders, kv[0]+": "+kv[1])
	}
	return out, nil
}

// jobState is the schedule of job id of kind (reconcile.KindHTTP or
// KindCommand) and the newest runs of it that its retention keeps.
func (a *API) jobState(kind, id string, retention int) (projections.Schedule, history, error) {
	s, err := a.scheduleOf(kind, id)
	if err != nil {
		return s, history{}, err
	}
	h, err := a.historyOf(s, retention)
	return s, h, err
}

// httpLogContent is what an HTTP job's run log says: its call and answer,
// as the run's record keeps them.
func httpLogContent(j *karajoconf.HTTPJob, r run) []byte {
	rec := r.rec
	at := func(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05 MST") }
	out := fmt.Sprintf("%s job_http: %s: === BEGIN\n%s job_http: %s: --- HTTP request: %s %s\n", at(rec.FiredAt), j.ID,
		at(rec.FiredAt), j.ID, j.Method, j.URL)
	if rec.CompletedAt == 0 {
		return []byte(out)
	}
	if rec.HTTPStatus != 0 {
		out += fmt.Sprintf("%s job_http: %s: --- HTTP response: %d\n", at(rec.CompletedAt), j.ID, rec.HTTPStatus)
	}
	if r.status == statusSuccess {
		return []byte(out + fmt.Sprintf("%s job_http: %s: === DONE\n", at(rec.CompletedAt), j.ID))
	}
	return []byte(out + fmt.Sprintf("%s job_http: %s: !!! job_http: %s: execute: %s\n", at(rec.CompletedAt), j.ID, j.ID, rec.ErrorMessage))
}
