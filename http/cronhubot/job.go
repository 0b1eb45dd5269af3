package cronhubot

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/projections"
)

// A CronHubot job is a cron schedule of the CronHubot app: its fields map
// onto the schedule's definition as follows.
//
//	name            Definition.Name (unique among the app's live schedules)
//	url             Callback.URL as given, method GET, NumberParam __cronId
//	expression      CronExpression (six fields, seconds first), in the API's zone
//	status          1: scheduled; 9 or 99: paused. What was sent is kept in
//	                the label cronhubot/status, so 99 reads back as 99.
//	retries         Retry.MaxAttempts - 1 (backoff from the server's policy)
//	request_timeout Retry.TimeoutMs / 1000 (seconds; 0 or absent: 3)
//	stop_at         Definition.EndTime (the cron expires then)
//	group_id        the label cronhubot/group_id
//
// Every job opts in to the stop contract (StopOnCallback).

const (
	// numberParam carries the job's id on every call, as CronHubot does.
	numberParam = "__cronId"
	// timeLayout is how CronHubot writes times.
	timeLayout = "2006-01-02 15:04:05"

	labelStatus  = "cronhubot/status"
	labelGroupID = "cronhubot/group_id"

	statusActive        = 1
	statusPaused        = 9
	statusPausedLegacy  = 99 // CronHubot's own code for paused
	defaultTimeoutSecs  = 3
	maxTimeoutSecs      = 300 // the core's bound on one attempt
	maxRetries          = 10
	maxExpressionLength = 200
)

// job is a CronHubot job's definition, in CronHubot's terms.
type job struct {
	Name       string
	URL        string
	Expression string
	Status     int
	Retries    int
	Timeout    int   // seconds
	StopAt     int64 // unix s; 0: none
	GroupID    int64

	spec *cronspec.Spec // Expression parsed, when a request gave it
}

// jobOf reads a schedule as the job it holds.
func jobOf(s projections.Schedule) job {
	j := job{Name: s.Name, URL: s.Callback.URL, Expression: s.CronExpression, Status: statusActive,
		Timeout: defaultTimeoutSecs, StopAt: s.EndTime}
	if r := s.Retry; r != nil {
		j.Retries = max(r.MaxAttempts-1, 0)
		if r.TimeoutMs > 0 {
			j.Timeout = int(r.TimeoutMs / 1000)
		}
	}
	if g, err := strconv.ParseInt(s.Labels[labelGroupID], 10, 64); err == nil {
		j.GroupID = g
	}
	sent, _ := strconv.Atoi(s.Labels[labelStatus])
	switch {
	case s.Status == event.StatusPaused && (sent == statusPaused || sent == statusPausedLegacy):
		j.Status = sent
	case s.Status == event.StatusPaused:
		j.Status = statusPaused // paused through the native API
	case s.Status == event.StatusScheduled:
		j.Status = statusActive
	case sent != 0:
		j.Status = sent // closed: the status it had; "state" says why it is over
	}
	return j
}

func (j job) paused() bool { return j.Status != statusActive }

// fields is a request body's members, each still undecoded: a member left
// out keeps its value, a member given (even 0) sets it.
type fields map[string]json.RawMessage

// decodeInto reads member name into v; a JSON null counts as left out.
// It reports whether the member was given.
func (f fields) decodeInto(name string, v any) (bool, error) {
	raw, ok := f[name]
	if !ok || string(raw) == "null" {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("%s must be %s", name, kindOf(v))
	}
	return true, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case *string:
		return "a string"
	case *int, *int64:
		return "an integer"
	}
	return fmt.Sprintf("%T", v)
}

// merge applies the given fields of a request onto j. Decoding errors
// (a member of the wrong JSON type) are the first result: CronHubot
// answers them as undecodable JSON. Content problems come second, each
// naming its field.
func (a *API) merge(j *job, f fields, creating bool) (decodeErr error, problems []string) {
	var (
		name, rawURL, expr, stopAt string
		status, retries, timeout   int
		groupID                    int64
	)
	given := map[string]bool{}
	for _, m := range []struct {
		name string
		v    any
	}{{"name", &name}, {"url", &rawURL}, {"expression", &expr}, {"status", &status}, {"retries", &retries},
		{"request_timeout", &timeout}, {"stop_at", &stopAt}, {"group_id", &groupID}} {
		ok, err := f.decodeInto(m.name, m.v)
		if err != nil {
			return err, nil
		}
		given[m.name] = ok
	}
	if given["name"] {
		j.Name = strings.TrimSpace(name)
	}
	if creating && j.Name == "" || given["name"] && j.Name == "" {
		problems = append(problems, "name is required")
	}
	if given["url"] {
		j.URL = strings.TrimSpace(rawURL)
	}
	if creating || given["url"] {
		problems = append(problems, a.checkJobURL(j.URL)...)
	}
	if given["expression"] {
		j.Expression = strings.TrimSpace(expr)
	}
	if creating || given["expression"] {
		if err := checkExpression(j.Expression); err != nil {
			problems = append(problems, err.Error())
		} else if j.spec, err = cronspec.Parse(j.Expression, a.zoneName()); err != nil {
			problems = append(problems, "expression: "+err.Error())
		}
	}
	if given["status"] {
		j.Status = status
		if status != statusActive && status != statusPaused && status != statusPausedLegacy {
			problems = append(problems, fmt.Sprintf("status must be 1 (active) or 9 (paused; 99 also means paused), not %d", status))
		}
	}
	if given["retries"] {
		j.Retries = retries
		if retries < 0 || retries > maxRetries {
			problems = append(problems, fmt.Sprintf("retries must be between 0 and %d, not %d", maxRetries, retries))
		}
	}
	if given["request_timeout"] {
		j.Timeout = timeout
		switch {
		case timeout == 0:
			j.Timeout = defaultTimeoutSecs
		case timeout < 0 || timeout > maxTimeoutSecs:
			problems = append(problems, fmt.Sprintf("request_timeout must be between 1 and %d seconds (0: the default, 3), not %d", maxTimeoutSecs, timeout))
		}
	}
	if _, sent := f["stop_at"]; sent {
		j.StopAt = 0 // null or "" removes it
		if stopAt = strings.TrimSpace(stopAt); stopAt != "" {
			t, err := time.ParseInLocation(timeLayout, stopAt, a.zone)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("stop_at must be a time written YYYY-MM-DD HH:MM:SS, not %q", clip(stopAt, 40)))
			case !t.After(a.now()):
				problems = append(problems, fmt.Sprintf("stop_at %s is not in the future", stopAt))
			default:
				j.StopAt = t.Unix()
				if msg := admit.DueTime("stop_at", j.StopAt); msg != "" {
					problems = append(problems, msg)
				}
			}
		}
	}
	if given["group_id"] {
		j.GroupID = groupID
		if groupID < 0 {
			problems = append(problems, "group_id must not be negative")
		}
	}
	return nil, problems
}

// checkJobURL refuses a url CronHubot clients could not mean: it must be
// absolute http(s) (CronHubot calls it with GET), carry no credentials,
// and not name an address the delivery guard denies.
func (a *API) checkJobURL(raw string) []string {
	if raw == "" {
		return []string{"url is required"}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return []string{fmt.Sprintf("url must be an absolute http or https URL (such as https://app.example/jobs), not %q", clip(raw, 200))}
	}
	var problems []string
	for _, p := range admit.Callback(callbackOf(raw)) {
		problems = append(problems, "url: "+p)
	}
	if err := a.checkURL(raw); err != nil {
		problems = append(problems, "url: "+err.Error())
	}
	return problems
}

// checkExpression holds an expression to CronHubot's format: six fields,
// seconds first, each made of values, names (months and days of the week),
// `*`, `?` (days only), and `/ , -`. cronspec accepts more (5 and 7
// fields, macros, L W #, day 7 as Sunday); none of it is CronHubot's.
func checkExpression(expr string) error {
	if expr == "" {
		return fmt.Errorf("expression is required")
	}
	if len(expr) > maxExpressionLength {
		return fmt.Errorf("expression is longer than %d characters", maxExpressionLength)
	}
	fieldsOf := strings.Fields(expr)
	if len(fieldsOf) != 6 {
		return fmt.Errorf("expression %q must have six fields: second minute hour day-of-month month day-of-week (it has %d)",
			clip(expr, 60), len(fieldsOf))
	}
	names := []string{"second", "minute", "hour", "day-of-month", "month", "day-of-week"}
	for i, field := range fieldsOf {
		if err := checkField(field, i); err != nil {
			return fmt.Errorf("expression %q: %s field %q: %v", clip(expr, 60), names[i], clip(field, 20), err)
		}
	}
	return nil
}

// checkField checks field i of a six-field expression character by
// character; cronspec then checks ranges and names.
func checkField(field string, i int) error {
	const month, dow, dom = 4, 5, 3
	for _, item := range strings.Split(field, ",") {
		base, step, hasStep := strings.Cut(item, "/")
		if hasStep && !digits(step) {
			return fmt.Errorf("step %q is not a number", step)
		}
		for _, atom := range strings.Split(base, "-") {
			switch {
			case atom == "*" && !strings.Contains(base, "-"):
			case atom == "?" && (i == dom || i == dow) && base == "?":
			case digits(atom):
				if i == dow {
					if n, _ := strconv.Atoi(atom); n > 6 {
						return fmt.Errorf("days of the week are 0-6 (SUN-SAT), not %s", atom)
					}
				}
			case letters(atom) && (i == month || i == dow):
			default:
				return fmt.Errorf("%q is not a value: use numbers, names, *, ?, and / , -", atom)
			}
		}
	}
	return nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func letters(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func callbackOf(rawURL string) event.Callback {
	return event.Callback{Type: "http", URL: rawURL, Method: "GET", NumberParam: numberParam}
}

// retryOf is the core's policy for a job's retries and timeout.
func retryOf(j job) *event.RetryPolicy {
	return &event.RetryPolicy{MaxAttempts: j.Retries + 1, TimeoutMs: int64(j.Timeout) * 1000}
}

// labelsOf is what a job keeps in its schedule's labels.
func labelsOf(j job) map[string]string {
	l := map[string]string{labelStatus: strconv.Itoa(j.Status)}
	if j.GroupID != 0 {
		l[labelGroupID] = strconv.FormatInt(j.GroupID, 10)
	}
	return l
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
