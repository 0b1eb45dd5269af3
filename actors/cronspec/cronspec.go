// Package cronspec parses cron expressions safely and computes fire times
// correctly across daylight-saving changes, on top of gorhill/cronexpr.
//
// Accepted syntax:
//   - 5 fields: minute hour day-of-month month day-of-week (standard cron);
//   - 6 fields: second minute hour day-of-month month day-of-week;
//   - 7 fields: second minute hour day-of-month month day-of-week year;
//   - @yearly @annually @monthly @weekly @daily @midnight @hourly;
//   - @every <duration>: whole seconds, at least 1s, aligned to the Unix
//     epoch (`@every 5m` fires at :00, :05, ...), independent of zone;
//   - an optional `CRON_TZ=Area/City ` or `TZ=Area/City ` prefix names the
//     zone; otherwise the zone passed to Parse, UTC by default.
//
// Names (JAN-DEC, SUN-SAT) and cronexpr's L, W, # and ? are accepted.
//
// Safety: cronexpr accepts inverted ranges such as 5-3 and then panics in
// Next. Parse checks every field's values, ranges and steps itself, runs
// cronexpr under recover, and evaluates Next once so that any input that
// would still panic is refused at Parse time. Next recovers too.
//
// Daylight saving: expressions are matched against local wall-clock time.
// A wall-clock time that does not exist (the spring-forward gap) is
// skipped; a wall-clock time that occurs twice (fall back) fires once, at
// its first occurrence. Next is always strictly after its input.
package cronspec

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gorhill/cronexpr"
)

// Spec is a parsed, validated cron expression bound to a zone. It is safe
// for concurrent use.
type Spec struct {
	expr       string
	loc        *time.Location
	every      int64 // seconds; 0 unless @every
	cron       *cronexpr.Expression
	hasSeconds bool
}

// maxSteps bounds the search in Next (DST skips, ambiguous hours).
const maxSteps = 10000

var macros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// Parse validates expr and binds it to the zone tz ("" is UTC). It never
// panics.
func Parse(expr, tz string) (spec *Spec, err error) {
	defer func() {
		if v := recover(); v != nil {
			spec, err = nil, fmt.Errorf("cron expression %q is not supported: %v", expr, v)
		}
	}()
	original := strings.TrimSpace(expr)
	body := original
	if body == "" {
		return nil, fmt.Errorf("cron expression is empty")
	}
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if strings.HasPrefix(body, prefix) {
			zone, rest, _ := strings.Cut(body[len(prefix):], " ")
			if tz != "" && tz != zone {
				return nil, fmt.Errorf("cron expression %q names zone %s but the schedule names %s", original, zone, tz)
			}
			tz, body = zone, strings.TrimSpace(rest)
		}
	}
	loc := time.UTC
	if tz != "" {
		if loc, err = time.LoadLocation(tz); err != nil {
			return nil, fmt.Errorf("unknown time zone %q", tz)
		}
	}
	s := &Spec{expr: original, loc: loc}
	if strings.HasPrefix(body, "@every") {
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(body, "@every")))
		switch {
		case err != nil:
			return nil, fmt.Errorf("cron expression %q: @every needs a duration such as 90s or 5m", original)
		case d < time.Second || d%time.Second != 0:
			return nil, fmt.Errorf("cron expression %q: @every needs whole seconds, at least 1s", original)
		}
		s.every, s.hasSeconds = int64(d/time.Second), d%time.Minute != 0
		return s, nil
	}
	if m, ok := macros[strings.ToLower(body)]; ok {
		body = m
	} else if strings.HasPrefix(body, "@") {
		return nil, fmt.Errorf("cron expression %q: unknown macro (use @yearly, @monthly, @weekly, @daily, @hourly or @every)", original)
	}
	fields := strings.Fields(body)
	switch len(fields) {
	case 5:
		fields = append(append([]string{"0"}, fields...), "*")
	case 6:
		fields = append(fields, "*")
	case 7:
	default:
		return nil, fmt.Errorf("cron expression %q has %d fields: want 5 (minute hour day month weekday), 6 (second first) or 7 (with year)", original, len(fields))
	}
	for i, f := range fields {
		if err := checkField(fieldSpecs[i], f); err != nil {
			return nil, fmt.Errorf("cron expression %q: %w", original, err)
		}
	}
	s.hasSeconds = fields[0] != "0"
	if s.cron, err = cronexpr.Parse(strings.Join(fields, " ")); err != nil {
		return nil, fmt.Errorf("cron expression %q: %v", original, err)
	}
	// Exercise Next so that an input that would panic is refused now.
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("cron expression %q never fires", original)
	}
	return s, nil
}

// Expression is the expression as given.
func (s *Spec) Expression() string { return s.expr }

// Location is the zone the expression is evaluated in.
func (s *Spec) Location() *time.Location { return s.loc }

// HasSeconds reports whether the expression fires more finely than minutes.
func (s *Spec) HasSeconds() bool { return s.hasSeconds }

// Next returns the first occurrence strictly after t, in UTC, in whole
// seconds; the zero Time if there is none.
func (s *Spec) Next(t time.Time) (next time.Time) {
	if s.every > 0 {
		u := t.Unix()
		if t.Before(time.Unix(u, 0)) { // negative fractional seconds
			u--
		}
		return time.Unix((u/s.every+1)*s.every, 0).UTC()
	}
	defer func() {
		if recover() != nil {
			next = time.Time{}
		}
	}()
	wall := func(x time.Time) time.Time { // x's local wall clock, written as UTC
		l := x.In(s.loc)
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
	}
	naive := wall(t)
	for i := 0; i < maxSteps; i++ {
		cand := s.cron.Next(naive)
		if cand.IsZero() || !cand.After(naive) {
			return time.Time{}
		}
		naive = cand
		real := time.Date(cand.Year(), cand.Month(), cand.Day(), cand.Hour(), cand.Minute(), cand.Second(), 0, s.loc)
		if !wall(real).Equal(cand) {
			continue // does not exist in this zone (spring-forward gap)
		}
		if !real.After(t) {
			continue // the earlier of a repeated wall time, already past
		}
		return real.UTC().Truncate(time.Second)
	}
	return time.Time{}
}

// fieldSpec describes one cron field for validation.
type fieldSpec struct {
	name     string
	min, max int
	names    map[string]int
	special  string // extra characters cronexpr gives meaning to here
}

var months = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var days = map[string]int{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

var fieldSpecs = []fieldSpec{
	{name: "second", min: 0, max: 59},
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31, special: "LW?"},
	{name: "month", min: 1, max: 12, names: months},
	{name: "day-of-week", min: 0, max: 7, names: days, special: "L#?"},
	{name: "year", min: 1970, max: 2099},
}

// checkField validates values, ranges and steps of one field. Items using
// L, W or # are left to cronexpr (run under recover).
func checkField(spec fieldSpec, field string) error {
	for _, item := range strings.Split(field, ",") {
		if item == "" {
			return fmt.Errorf("empty item in %s field %q", spec.name, field)
		}
		if spec.special != "" && strings.ContainsAny(strings.ToUpper(item), strings.Trim(spec.special, "?")) {
			continue
		}
		rng, step, hasStep := strings.Cut(item, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n <= 0 {
				return fmt.Errorf("step %q in %s field must be a positive number", step, spec.name)
			}
			if n > spec.max-spec.min+1 && spec.name != "year" {
				return fmt.Errorf("step %d in %s field is larger than the field's range", n, spec.name)
			}
		}
		if rng == "*" || rng == "?" {
			continue
		}
		lo, hi, isRange := strings.Cut(rng, "-")
		a, err := value(spec, lo)
		if err != nil {
			return err
		}
		if !isRange {
			continue
		}
		b, err := value(spec, hi)
		if err != nil {
			return err
		}
		if a > b {
			return fmt.Errorf("range %s in %s field is inverted", rng, spec.name)
		}
	}
	return nil
}

func value(spec fieldSpec, s string) (int, error) {
	if n, ok := spec.names[strings.ToUpper(s)]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a valid %s value", s, spec.name)
	}
	if n < spec.min || n > spec.max {
		return 0, fmt.Errorf("%s value %d is out of range %d-%d", spec.name, n, spec.min, spec.max)
	}
	return n, nil
}
