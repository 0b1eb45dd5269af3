package goscheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

const (
	maxIDLen         = 128
	maxPartitions    = 1024
	maxPageSize      = 1000
	defaultRunsSize  = 10
	defaultPageSize  = 100
	maxRange         = 30 * 24 * time.Hour
	maxScheduleTime  = 7258118400 // 2200-01-01: beyond this a time is a mistake
	looksLikeMillis  = 100000000000
	maxPayloadBytes  = 512 << 10
	maxHeaders       = 64
	maxAttemptsLimit = 20
)

var appIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// decodeBody reads a JSON body into v, answering every way it can be
// wrong with a message that names the problem.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &maxErr):
			return &APIError{HTTP: http.StatusRequestEntityTooLarge, Code: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes)}
		case errors.Is(err, io.EOF):
			return badRequest("request body is empty: a JSON object is required")
		case errors.As(err, &typeErr):
			field := typeErr.Field
			if field == "" {
				return badRequest("request body must be a JSON object, not %s", typeErr.Value)
			}
			return badRequest("field %s must be %s, not %s", field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		case errors.As(err, &syntaxErr):
			return badRequest("malformed JSON at byte %d: %v", syntaxErr.Offset, err)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badRequest("malformed JSON: the body ends too early")
		}
		return badRequest("malformed JSON: %v", err)
	}
	if dec.More() {
		return badRequest("malformed JSON: unexpected data after the object")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "int32":
		return "an integer"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	}
	return goKind
}

func validateAppID(id string) error {
	switch {
	case strings.TrimSpace(id) == "":
		return badRequest("AppId cannot be empty")
	case len(id) > maxIDLen || !appIDPattern.MatchString(id):
		return badRequest("AppId %q is invalid: use at most %d letters, digits, '.', '_' or '-'", truncate(id, 40), maxIDLen)
	}
	return nil
}

func validateScheduleID(id string) error {
	if len(id) > maxIDLen {
		return badRequest("scheduleId is longer than %d characters", maxIDLen)
	}
	return nil
}

var methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// validateCallback checks a callback and normalises its method. Problems
// are appended to errs, GoScheduler style (all reported at once).
func validateCallback(cb *callbackJSON, errs *[]string) *event.Callback {
	if cb == nil {
		*errs = append(*errs, "callback is required")
		return nil
	}
	typ := strings.ToLower(strings.TrimSpace(cb.Type))
	if typ == "" {
		typ = "http"
	}
	if typ != "http" {
		*errs = append(*errs, fmt.Sprintf("unsupported callback type %q: only http is supported", truncate(cb.Type, 40)))
	}
	d := cb.Details
	if u, err := url.ParseRequestURI(d.URL); err != nil {
		*errs = append(*errs, err.Error())
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		*errs = append(*errs, fmt.Sprintf("callback url %q must be an absolute http or https URL", truncate(d.URL, 200)))
	}
	method := strings.ToUpper(strings.TrimSpace(d.Method))
	if !methods[method] {
		*errs = append(*errs, "Invalid http callback method "+truncate(d.Method, 40))
	}
	if len(d.Headers) > maxHeaders {
		*errs = append(*errs, fmt.Sprintf("at most %d callback headers are allowed", maxHeaders))
	}
	for k, v := range d.Headers {
		if !headerName.MatchString(k) {
			*errs = append(*errs, fmt.Sprintf("invalid callback header name %q", truncate(k, 40)))
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			*errs = append(*errs, fmt.Sprintf("callback header %q has a control character in its value", truncate(k, 40)))
		}
	}
	return &event.Callback{Type: "http", URL: d.URL, Method: method, Headers: d.Headers}
}

func validateRetry(r *retryJSON, errs *[]string) *event.RetryPolicy {
	if r == nil {
		return nil
	}
	check := func(name string, v, lo, hi int64) {
		if v != 0 && (v < lo || v > hi) {
			*errs = append(*errs, fmt.Sprintf("retry.%s must be between %d and %d", name, lo, hi))
		}
	}
	check("maxAttempts", int64(r.MaxAttempts), 1, maxAttemptsLimit)
	check("timeoutMs", r.TimeoutMs, 1, 300000)
	check("initialBackoffMs", r.InitialBackoffMs, 1, 3600000)
	check("maxBackoffMs", r.MaxBackoffMs, 1, 3600000)
	return &event.RetryPolicy{MaxAttempts: r.MaxAttempts, TimeoutMs: r.TimeoutMs,
		InitialBackoffMs: r.InitialBackoffMs, MaxBackoffMs: r.MaxBackoffMs, RetryOn4xx: r.RetryOn4xx}
}

var statuses = map[string]bool{event.StatusScheduled: true, event.StatusSuccess: true, event.StatusFailure: true,
	event.StatusMiss: true, event.StatusDeleted: true}

func parseStatus(q url.Values) (string, error) {
	s := strings.ToUpper(strings.TrimSpace(q.Get("status")))
	if s != "" && !statuses[s] {
		return "", badRequest("invalid status %q: use SCHEDULED, SUCCESS, FAILURE, MISS or DELETED", truncate(q.Get("status"), 40))
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
	case ms < looksLikeMillis:
		*errs = append(*errs, fmt.Sprintf("scheduleTimeMs %d looks like seconds: send epoch milliseconds", ms))
	case ms/1000 > maxScheduleTime:
		*errs = append(*errs, fmt.Sprintf("scheduleTimeMs %d is after the year 2200", ms))
	case sec != nil && *sec != ms/1000:
		*errs = append(*errs, fmt.Sprintf("scheduleTime %d and scheduleTimeMs %d name different seconds: send one of them", *sec, ms))
	case ms/1000 < now:
		*errs = append(*errs, fmt.Sprintf("schedule time : %d is less than current time: %d for app: %s. Time cannot be in past.", ms/1000, now, app))
	}
	return ms
}
