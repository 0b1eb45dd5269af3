package goscheduler

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/http/auth"
	"github.com/chronicle-sched/chronicle/http/jsonbody"
	"github.com/julienschmidt/httprouter"
)

const (
	maxIDLen        = admit.MaxIDLen
	maxPartitions   = admit.MaxPartitions
	maxPageSize     = 1000
	defaultRunsSize = 10
	defaultPageSize = 100
	maxRange        = admit.MaxBulkRange
)

// decodeBody reads a JSON body into v (see jsonbody.Decode).
func decodeBody(r *http.Request, v any) error { return jsonbody.Decode(r, v) }

func validateAppID(id string) error { return admit.AppID(id) }

func validateScheduleID(id string) error {
	switch {
	case len(id) > maxIDLen:
		return badRequest("scheduleId is longer than %d characters", maxIDLen)
	case strings.Contains(id, "/") || strings.Contains(id, ".."):
		return notFound("Schedule with id: %s not found", truncate(id, 40)) // a path, never a schedule
	}
	return nil
}

// validateCallback normalises a callback (type http by default, method
// upper case) and appends its problems to errs, GoScheduler style (all
// reported at once), by the rules the log admits events by.
func validateCallback(cb *callbackJSON, errs *[]string) *event.Callback {
	if cb == nil {
		*errs = append(*errs, "callback is required")
		return nil
	}
	typ := strings.ToLower(strings.TrimSpace(cb.Type))
	if typ == "" {
		typ = "http"
	}
	d := cb.Details
	if typ == event.CallbackWorkflow {
		c := event.Callback{Type: typ, Workflow: workflowOf(d, errs)}
		if d.URL != "" || d.Method != "" || len(d.Headers) > 0 {
			*errs = append(*errs, "a workflow callback makes no call of its own: give its tasks")
		}
		*errs = append(*errs, admit.Callback(c)...)
		return &c
	}
	if typ != "http" {
		*errs = append(*errs, fmt.Sprintf("unsupported callback type %q: use http, or workflow with tasks", truncate(cb.Type, 40)))
	}
	if d.Command != nil {
		*errs = append(*errs, "a command callback is defined only in the server's configuration (karajo's jobs, --karajo-config), never through the API")
	}
	c := d.callback()
	c.Method = strings.ToUpper(strings.TrimSpace(d.Method))
	if c.Shape != nil {
		c.Shape.Params = strings.ToLower(strings.TrimSpace(d.Params))
	}
	for _, p := range admit.Callback(c) {
		if strings.HasPrefix(p, "Invalid http callback method ") {
			p = "Invalid http callback method " + truncate(d.Method, 40) // as sent, not normalised
		}
		*errs = append(*errs, p)
	}
	return &c
}

func validateRetry(r *retryJSON, errs *[]string) *event.RetryPolicy {
	if r == nil {
		return nil
	}
	p := &event.RetryPolicy{MaxAttempts: r.MaxAttempts, TimeoutMs: r.TimeoutMs,
		InitialBackoffMs: r.InitialBackoffMs, MaxBackoffMs: r.MaxBackoffMs, RetryOn4xx: r.RetryOn4xx}
	*errs = append(*errs, admit.Retry(p)...)
	return p
}

func parseStatus(q url.Values) (string, error) {
	s := strings.ToUpper(strings.TrimSpace(q.Get("status")))
	if s != "" && !admit.Statuses[s] {
		return "", badRequest("invalid status %q: use SCHEDULED, SUCCESS, FAILURE, MISS, DELETED, EXPIRED, PAUSED, STOPPED or CANCELED", truncate(q.Get("status"), 40))
	}
	return s, nil
}

func parseSize(q url.Values, def int) (int, error) {
	raw := q.Get("size")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	switch {
	case err != nil:
		return 0, badRequest("size must be an integer, not %q", truncate(raw, 40))
	case n < 0:
		return 0, badRequest("size must not be negative")
	case n > maxPageSize:
		return 0, badRequest("size must be at most %d", maxPageSize)
	case n == 0:
		return def, nil
	}
	return n, nil
}

// parseTime reads "YYYY-MM-DD HH:MM:SS" (UTC, as GoScheduler's examples
// write it) or RFC 3339.
func parseTime(name, raw string) (time.Time, error) {
	raw = strings.TrimSpace(raw)
	for _, layout := range []string{"2006-01-02 15:04:05", time.RFC3339, "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, raw, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, badRequest("%s %q is not a time: use YYYY-MM-DD HH:MM:SS (UTC) or RFC 3339", name, truncate(raw, 40))
}

// parseRange reads start_time and end_time, both required, at most 30 days
// apart.
func parseRange(q url.Values) (time.Time, time.Time, error) {
	if q.Get("start_time") == "" || q.Get("end_time") == "" {
		return time.Time{}, time.Time{}, badRequest("start_time and end_time are required (YYYY-MM-DD HH:MM:SS, UTC)")
	}
	start, err := parseTime("start_time", q.Get("start_time"))
	if err != nil {
		return start, start, err
	}
	end, err := parseTime("end_time", q.Get("end_time"))
	if err != nil {
		return start, end, err
	}
	if end.Before(start) {
		return start, end, badRequest("end_time must not be before start_time")
	}
	if end.Sub(start) > maxRange {
		return start, end, badRequest("Time range of more than 30 days is not allowed")
	}
	return start, end, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// validateScheduleTimeMs checks a sub-second due time (epoch milliseconds,
// a Chronicle extension of the seed) and, if scheduleTime is also given,
// that both name the same second. Like scheduleTime, a time earlier in the
// current second is accepted; an earlier second is in the past.
func (a *API) validateScheduleTimeMs(ms int64, sec *int64, app string, errs *[]string) int64 {
	now := a.now().Unix()
	switch {
	case ms < admit.LooksLikeMillis:
		*errs = append(*errs, fmt.Sprintf("scheduleTimeMs %d looks like seconds: send epoch milliseconds", ms))
	case ms/1000 > admit.MaxScheduleTime:
		*errs = append(*errs, fmt.Sprintf("scheduleTimeMs %d is after the year 2200", ms))
	case sec != nil && *sec != ms/1000:
		*errs = append(*errs, fmt.Sprintf("scheduleTime %d and scheduleTimeMs %d name different seconds: send one of them", *sec, ms))
	case ms/1000 < now:
		*errs = append(*errs, fmt.Sprintf("schedule time : %d is less than current time: %d for app: %s. Time cannot be in past.", ms/1000, now, app))
	}
	return ms
}

// futureEndTime appends a problem unless end (a cron's endTime, epoch
// seconds; 0 removes it in an update) is in the future.
func (a *API) futureEndTime(end int64, errs *[]string) {
	if end != 0 && end <= a.now().Unix() {
		*errs = append(*errs, fmt.Sprintf("endTime %d is not in the future (now %d)", end, a.now().Unix()))
	}
}

// allowed reports why the request's token may not read (write false) or
// change (write true) app, or nil.
func allowed(r *http.Request, app string, write bool) error {
	return auth.From(r.Context()).Check(app, write)
}

// appParam is the path's app id, valid and allowed to the request's token.
func appParam(r *http.Request, ps httprouter.Params, write bool) (string, error) {
	id := ps.ByName("appId")
	if err := validateAppID(id); err != nil {
		return "", err
	}
	return id, allowed(r, id, write)
}
