// Package cronspec parses cron expressions safely and computes their fire
// times correctly across daylight-saving changes, on top of
// github.com/gorhill/cronexpr.
//
// # Syntax
//
// A cron expression is one of:
//
//   - 5 fields: standard cron, minute first:
//     `minute hour day-of-month month day-of-week`, e.g. `*/15 9-17 * * MON-FRI`.
//   - 6 fields: seconds first, then the 5 standard fields (as Quartz and
//     robfig/cron with seconds): `second minute hour day-of-month month
//     day-of-week`, e.g. `30 */5 * * * *` (second 30 of every fifth minute).
//   - 7 fields: `second minute hour day-of-month month day-of-week year`,
//     e.g. `0 0 12 1 1 * 2030`. Years run from 1970 to 2099.
//   - A macro: `@yearly` (or `@annually`, 00:00 on 1 January), `@monthly`
//     (00:00 on the 1st), `@weekly` (00:00 on Sunday), `@daily` (or
//     `@midnight`, 00:00), `@hourly` (minute 0 of every hour).
//   - `@manual`: no occurrences at all; a schedule of it never closes for
//     lack of one and runs only when triggered (a job started by a
//     webhook). It cannot be part of a union.
//   - `@every <duration>`, a Go duration such as `@every 90s`, `@every 5m`
//     or `@every 1h30m`: whole seconds, at least 1s. Occurrences are the
//     instants whose Unix time is a multiple of the interval (they are
//     anchored at 1970-01-01T00:00:00Z, not at the creation time), so
//     `@every 5m` fires at :00, :05, :10, ... The time zone plays no part.
//
// Field values: second and minute 0-59, hour 0-23, day-of-month 1-31, month
// 1-12 or JAN-DEC, day-of-week 0-7 or SUN-SAT (0 and 7 are both Sunday),
// year 1970-2099. Names are case-insensitive and may be spelled out
// (JANUARY, MONDAY). Each field is `*`, or a comma-separated list of
// values `5`, ranges `1-5` and steps `*/15`, `5/15` (5, 20, 35, 50) or
// `1-30/7`. `?` is the same as `*`. The day-of-month field also takes `L`
// (last day of the month), `LW` (last weekday of the month) and `15W` (the
// weekday nearest the 15th, within the month); the day-of-week field takes
// `5L` (the month's last Friday) and `MON#2` (its second Monday). When both
// day-of-month and day-of-week are restricted (neither is `*` or `?`), a
// day matches if either matches, as in standard cron.
//
// # Several expressions as one schedule
//
// ParseUnion (and Load) also take several expressions separated by `;`,
// e.g. `0 15 8 * * *; 0 45 17 * * *` (08:15 and 17:45): the schedule's
// occurrences are those of every part, an instant that several parts share
// counted once, like a Temporal schedule's list of calendars. This is what
// a calendar such as karajo's `daily@08:15,17:45` needs, which no single
// cron expression can say. A `CRON_TZ=` prefix before the first part
// applies to every part; a part may not name another zone. At most
// MaxParts parts; an empty part is refused. Parse refuses `;`: the APIs
// accept a union only once every member of a cluster can evaluate one.
//
// An expression may start with `CRON_TZ=Area/City ` or `TZ=Area/City ` to
// name the IANA time zone it is evaluated in (e.g.
// `CRON_TZ=Europe/Berlin 0 9 * * *`). Without a prefix the zone is the one
// given to Parse, UTC by default. If both are given they must be equal.
//
// Rejected, with a message naming the problem: an empty expression, a
// wrong number of fields, an unknown macro, values out of range, unknown
// names, inverted ranges (`5-3`, `DEC-JAN`), a step of 0 or wider than its
// field, `@every` intervals under 1s or with fractions of a second, an
// unknown time zone (and `Local`, which differs between machines), and
// expressions that never fire (`0 0 30 2 *`, or a year in the past).
//
// # Time zones and daylight saving
//
// Cron fields are matched against wall-clock time in the schedule's zone;
// Next returns instants in UTC. Where a zone's clocks jump:
//
//   - Spring forward: wall-clock times that do not exist that day are
//     skipped, not moved. `30 2 * * *` in America/New_York does not fire on
//     the day clocks go from 02:00 to 03:00; in zones that change at
//     midnight (e.g. America/Santiago) a midnight cron skips that day.
//   - Fall back: a wall-clock time that happens twice fires once, at its
//     first occurrence (the one before the change). `0 * * * *` in
//     America/New_York fires at 01:00 EDT and next at 02:00 EST, not at
//     01:00 EST.
//
// # Robustness
//
// User input never crashes the caller. cronexpr accepts inputs on which its
// Next panics (such as the inverted range `5-3`) and misreads others
// (`01` as month 0); Parse therefore validates every field itself and hands
// cronexpr only a canonical rewrite made of plain numbers and ascending
// ranges. Parse runs cronexpr under recover and evaluates Next once (from
// the current time), so an input that would still panic, or that never
// fires, is rejected at Parse time. Next recovers too: should cronexpr
// panic there, Next returns the zero Time and logs the first such failure
// of each Spec. Every search in Next is bounded; if the bound is reached
// Next returns the zero Time ("never again").
package cronspec

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // zones resolve even on hosts without a zoneinfo database

	"github.com/gorhill/cronexpr"
)

// Spec is a parsed, validated cron expression bound to a time zone. It is
// safe for concurrent use.
type Spec struct {
	expr       string
	parts      []*Spec // the parts of a union (ParseUnion); nil otherwise
	loc        *time.Location
	every      int64                // seconds; 0 unless @every
	manual     bool                 // @manual: no occurrences; it runs when triggered
	cron       *cronexpr.Expression // nil for @every; never called directly (see next)
	canonical  string               // what cronexpr parsed
	hasSeconds bool
	failed     atomic.Bool // Next failed (and logged so) once
}

// maxSteps bounds the candidates Next considers: each step is one call of
// cronexpr's Next, and steps are only repeated for wall-clock times that
// do not exist or have already passed (daylight-saving changes).
const maxSteps = 1000

// macros, in the seven-field form (second ... year).
var macros = map[string]string{
	"@yearly":   "0 0 0 1 1 * *",
	"@annually": "0 0 0 1 1 * *",
	"@monthly":  "0 0 0 1 * * *",
	"@weekly":   "0 0 0 * * 0 *",
	"@daily":    "0 0 0 * * * *",
	"@midnight": "0 0 0 * * * *",
	"@hourly":   "0 0 * * * * *",
}

// Parse validates expr and binds it to the IANA zone tz ("" is UTC; a
// CRON_TZ= or TZ= prefix in expr may name it instead). It refuses an
// expression that has no occurrence after now. It never panics.
// It refuses several expressions separated by `;` (see ParseUnion).
func Parse(expr, tz string) (*Spec, error) {
	if strings.Contains(expr, ";") {
		return nil, fmt.Errorf("cron expression %q: several expressions separated by ';' are not accepted here", strings.TrimSpace(expr))
	}
	return parse(expr, tz, time.Now())
}

// ParseUnion is Parse that also takes several expressions separated by
// `;`, each validated as Parse would (each must fire after now).
func ParseUnion(expr, tz string) (*Spec, error) { return parseUnion(expr, tz, time.Now()) }

// Load is Parse for an expression that was accepted before (a stored
// schedule's): it refuses only what this build cannot evaluate, not an
// expression whose occurrences have all passed, so that the caller can
// tell "cannot be evaluated" from "ends here" (Next returns the zero Time).
// It reads unions too.
func Load(expr, tz string) (*Spec, error) { return parseUnion(expr, tz, time.Unix(0, 0)) }

// MaxParts bounds the expressions of a union: Next evaluates each.
const MaxParts = 32

// parseUnion parses expr, which may be several expressions separated by
// `;`, bound to tz or to a zone prefix before the first part.
func parseUnion(expr, tz string, from time.Time) (*Spec, error) {
	original := strings.TrimSpace(expr)
	if !strings.Contains(original, ";") {
		return parse(original, tz, from)
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("cron expressions %q: "+format, append([]any{original}, a...)...)
	}
	texts := strings.Split(original, ";")
	if len(texts) > MaxParts {
		return nil, fail("%d expressions: at most %d", len(texts), MaxParts)
	}
	// A zone prefix before the first part is the whole union's.
	tokens := strings.Fields(texts[0])
	for len(tokens) > 0 {
		name, ok := zonePrefix(tokens[0])
		if !ok {
			break
		}
		if name == "" {
			return nil, fail("%s names no time zone", tokens[0])
		}
		if tz != "" && tz != name {
			return nil, fail("names time zone %s but the schedule names %s", name, tz)
		}
		tz, tokens = name, tokens[1:]
	}
	texts[0] = strings.Join(tokens, " ")
	u := &Spec{expr: original}
	for i, text := range texts {
		if strings.TrimSpace(text) == "" {
			return nil, fail("expression %d of %d is empty", i+1, len(texts))
		}
		part, err := parse(text, tz, from)
		if err != nil {
			return nil, fmt.Errorf("expression %d of %q: %w", i+1, original, err)
		}
		if part.manual {
			return nil, fail("@manual has no occurrences to join with others")
		}
		u.parts = append(u.parts, part)
		u.loc, u.hasSeconds = part.loc, u.hasSeconds || part.hasSeconds
	}
	return u, nil
}

func parse(expr, tz string, from time.Time) (spec *Spec, err error) {
	defer func() {
		if v := recover(); v != nil {
			spec, err = nil, fmt.Errorf("cron expression %q cannot be used: %v", expr, v)
		}
	}()
	original := strings.TrimSpace(expr)
	if original == "" {
		return nil, errors.New("cron expression is empty")
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("cron expression %q: "+format, append([]any{original}, a...)...)
	}
	tokens := strings.Fields(original)
	zone := tz
	for len(tokens) > 0 {
		name, ok := zonePrefix(tokens[0])
		if !ok {
			break
		}
		switch {
		case name == "":
			return nil, fail("%s names no time zone", tokens[0])
		case zone != "" && zone != name:
			return nil, fail("names time zone %s but the schedule names %s", name, zone)
		}
		zone, tokens = name, tokens[1:]
	}
	if len(tokens) == 0 {
		return nil, fail("has a time zone but no fields")
	}
	loc, err := loadZone(zone)
	if err != nil {
		return nil, err
	}
	s := &Spec{expr: original, loc: loc}

	if first := strings.ToLower(tokens[0]); strings.HasPrefix(first, "@") {
		if first == "@every" {
			return s.parseEvery(tokens[1:], fail)
		}
		if first == "@manual" {
			if len(tokens) > 1 {
				return nil, fail("%s takes no fields", tokens[0])
			}
			s.manual = true
			return s, nil
		}
		m, ok := macros[first]
		switch {
		case !ok:
			return nil, fail("unknown macro %s (use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration> or @manual)", tokens[0])
		case len(tokens) > 1:
			return nil, fail("%s takes no fields", tokens[0])
		}
		tokens = strings.Fields(m)
	}
	switch len(tokens) {
	case 5: // minute ... day-of-week: seconds 0, any year
		tokens = append(append([]string{"0"}, tokens...), "*")
	case 6: // second ... day-of-week (NOT minute ... year, as cronexpr reads 6)
		tokens = append(tokens, "*")
	case 7:
	default:
		return nil, fail("has %d fields: want 5 (minute hour day-of-month month day-of-week), 6 (second first) or 7 (second ... year)", len(tokens))
	}
	canon := make([]string, len(tokens))
	for i, tok := range tokens {
		c, zeroOnly, err := fields[i].canonical(tok)
		if err != nil {
			return nil, fail("%w", err)
		}
		canon[i] = c
		if i == 0 {
			s.hasSeconds = !zeroOnly
		}
	}
	s.canonical = strings.Join(canon, " ")
	if s.cron, err = cronexpr.Parse(s.canonical); err != nil {
		return nil, fail("%w", err)
	}
	// Exercise Next now, so that an input that would panic (or never
	// fire) is refused here rather than when the schedule runs.
	next, err := s.next(from)
	switch {
	case err != nil:
		return nil, fail("cannot be evaluated: %w", err)
	case next.IsZero():
		return nil, fmt.Errorf("cron expression %q never fires (no occurrence after %s)", original, from.UTC().Format(time.RFC3339))
	}
	return s, nil
}

func (s *Spec) parseEvery(args []string, fail func(string, ...any) error) (*Spec, error) {
	if len(args) != 1 {
		return nil, fail("@every takes one duration, such as @every 90s or @every 5m")
	}
	d, err := time.ParseDuration(args[0])
	switch {
	case err != nil:
		return nil, fail("@every %s: not a duration such as 90s or 5m", args[0])
	case d < time.Second:
		return nil, fail("@every %s: the interval must be at least 1s", args[0])
	case d%time.Second != 0:
		return nil, fail("@every %s: the interval must be whole seconds", args[0])
	}
	s.every, s.hasSeconds = int64(d/time.Second), d%time.Minute != 0
	return s, nil
}

// zonePrefix recognises a leading CRON_TZ=zone or TZ=zone token.
func zonePrefix(tok string) (string, bool) {
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		if strings.HasPrefix(tok, p) {
			return tok[len(p):], true
		}
	}
	return "", false
}

var zones sync.Map // name → *time.Location; only names that loaded

func loadZone(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, errors.New(`time zone "Local" is not allowed: name an IANA zone such as Europe/Berlin`)
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as America/New_York", name)
	}
	zones.Store(name, loc)
	return loc, nil
}

// Expression is the expression as given (trimmed), including any CRON_TZ=
// prefix.
func (s *Spec) Expression() string { return s.expr }

// Manual reports whether s is `@manual`: it has no occurrences, and a
// schedule of it runs only when triggered (karajo's jobs with only a
// webhook path).
func (s *Spec) Manual() bool { return s.manual }

// Parts is the number of expressions s is the union of: 1 for one
// expression (see ParseUnion).
func (s *Spec) Parts() int { return max(1, len(s.parts)) }

// Location is the zone the expression is evaluated in; never nil.
func (s *Spec) Location() *time.Location { return s.loc }

// HasSeconds reports whether the expression has sub-minute resolution: a
// seconds field other than 0, or an @every interval that is not whole
// minutes.
func (s *Spec) HasSeconds() bool { return s.hasSeconds }

// NextOrError is Next that tells a failed evaluation (an error) from the
// end of the expression's occurrences (the zero Time and no error).
func (s *Spec) NextOrError(t time.Time) (time.Time, error) { return s.next(t) }

// Next returns the first occurrence strictly after t, in UTC, truncated to
// whole seconds; the zero Time if there is none (or none within the
// bounded search, or if evaluation failed).
func (s *Spec) Next(t time.Time) time.Time {
	next, err := s.next(t)
	if err != nil {
		if s.failed.CompareAndSwap(false, true) {
			slog.Default().Error("cronspec: evaluating a cron expression failed; it will not fire",
				"expression", s.expr, "zone", s.loc.String(), "from", t.UTC().Format(time.RFC3339), "err", err)
		}
		return time.Time{}
	}
	return next
}

// minNaive is a wall-clock time before cronexpr's first year (1970):
// earlier inputs, including the zero Time that cronexpr echoes back, start
// the search here.
var minNaive = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)

func (s *Spec) next(t time.Time) (next time.Time, err error) {
	if s.manual {
		return time.Time{}, nil
	}
	if s.parts != nil {
		return s.nextOfParts(t)
	}
	if s.every > 0 {
		return s.nextEvery(t), nil
	}
	defer func() {
		if v := recover(); v != nil {
			next, err = time.Time{}, fmt.Errorf("cronexpr panicked: %v", v)
		}
	}()
	// cronexpr's Next writes to its receiver (a per-month day cache): a
	// private copy per call keeps Spec safe for concurrent use.
	e := *s.cron

	// Search over "naive" wall-clock times (local fields written as UTC),
	// where cronexpr's arithmetic has no daylight saving to get wrong, and
	// map each candidate back to a real instant.
	naive := wallClock(t, s.loc)
	if naive.Before(minNaive) {
		naive = minNaive
	}
	if end, ok := repeatEnd(t, s.loc); ok && end.Add(-time.Second).After(naive) {
		// t is in the second pass of a repeated hour: every wall time up to
		// the end of the repetition already fired on the first pass.
		naive = end.Add(-time.Second)
	}
	for range maxSteps {
		cand := e.Next(naive)
		if cand.IsZero() {
			return time.Time{}, nil
		}
		if !cand.After(naive) {
			return time.Time{}, fmt.Errorf("cronexpr did not advance from %s (got %s)", naive, cand)
		}
		at, gapEnd, ok := resolve(cand, s.loc)
		switch {
		case ok && at.After(t):
			return at.UTC(), nil
		case ok:
			naive = cand // first occurrence is not after t: it already fired
		case gapEnd.After(cand):
			naive = gapEnd.Add(-time.Second) // skip the rest of the gap at once
		default:
			naive = cand
		}
	}
	return time.Time{}, nil
}

// nextOfParts is the earliest next occurrence of a union's parts; the
// zero Time once none has one.
func (s *Spec) nextOfParts(t time.Time) (time.Time, error) {
	var first time.Time
	for _, p := range s.parts {
		next, err := p.next(t)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: %w", p.expr, err)
		}
		if !next.IsZero() && (first.IsZero() || next.Before(first)) {
			first = next
		}
	}
	return first, nil
}

// nextEvery is the first multiple of the interval (in Unix seconds)
// strictly after t.
func (s *Spec) nextEvery(t time.Time) time.Time {
	u := t.Unix() // floor: whole seconds at or before t
	q := u / s.every
	if u%s.every < 0 {
		q--
	}
	if q >= math.MaxInt64/s.every {
		return time.Time{}
	}
	return time.Unix((q+1)*s.every, 0).UTC()
}

// wallClock is t's wall-clock time in loc, in whole seconds, expressed as
// a UTC time.
func wallClock(t time.Time, loc *time.Location) time.Time {
	_, off := t.In(loc).Zone()
	return time.Unix(t.Unix()+int64(off), 0).UTC()
}

// zoneWindow bounds how far a wall-clock time can be from UTC (real
// offsets are within -12h..+14h), and so the instants that can show a
// given wall-clock time.
const zoneWindow = 16 * time.Hour

func offsetAt(x time.Time, loc *time.Location) int64 {
	_, off := x.In(loc).Zone()
	return int64(off)
}

// transition finds, by bisection to the second, the instant in (lo, hi]
// at which loc's offset stops being its offset at lo. It assumes the
// offset changes once in that interval (zones change offset weeks apart).
//
// Location.ZoneBounds is not used: beyond the transitions listed in a
// zone's data (rule-based, e.g. Pacific/Chatham after 2037) it reports
// year boundaries as period bounds, and for leap years not even those.
func transition(lo, hi time.Time, loc *time.Location) time.Time {
	a := offsetAt(lo, loc)
	l, h := lo.Unix(), hi.Unix()
	for h-l > 1 {
		m := l + (h-l)/2
		if offsetAt(time.Unix(m, 0), loc) == a {
			l = m
		} else {
			h = m
		}
	}
	return time.Unix(h, 0)
}

// resolve maps the naive wall-clock time w to the earliest instant whose
// wall clock in loc reads w. If there is none (w falls in a
// spring-forward gap), ok is false and gapEnd is the naive wall-clock time
// at which the gap ends (zero if that could not be determined).
//
// time.Date is not used for this: for a repeated wall time it may pick
// either occurrence (it picks the later one in Europe/Berlin).
func resolve(w time.Time, loc *time.Location) (at, gapEnd time.Time, ok bool) {
	if loc == time.UTC {
		return w, time.Time{}, true
	}
	// An instant x shows w if x = w - offset(x). With at most one offset
	// change around w, the offsets before and after are the candidates.
	lo, hi := w.Add(-zoneWindow), w.Add(zoneWindow)
	a, b := offsetAt(lo, loc), offsetAt(hi, loc)
	for _, off := range [2]int64{a, b} {
		x := time.Unix(w.Unix()-off, 0)
		if offsetAt(x, loc) == off && (!ok || x.Before(at)) {
			at, ok = x, true
		}
	}
	if ok {
		return at.UTC(), time.Time{}, true
	}
	if a < b { // clocks went forward at T, from T+a to T+b
		T := transition(lo, hi, loc).Unix()
		if from, to := T+a, T+b; w.Unix() >= from && w.Unix() < to {
			gapEnd = time.Unix(to, 0).UTC()
		}
	}
	return time.Time{}, gapEnd, false
}

// repeatEnd reports whether t lies in the second pass of a repeated
// wall-clock interval (just after clocks went back) and, if so, returns
// the naive wall-clock time at which the repetition ends.
func repeatEnd(t time.Time, loc *time.Location) (time.Time, bool) {
	if loc == time.UTC {
		return time.Time{}, false
	}
	lo := t.Add(-zoneWindow)
	before, now := offsetAt(lo, loc), offsetAt(t, loc)
	if before <= now {
		return time.Time{}, false
	}
	// Clocks went back at T, from T+before to T+now: the wall times in
	// [T+now, T+before) show twice, the second time until T+before-now.
	T := transition(lo, t, loc).Unix()
	if t.Unix() >= T+before-now {
		return time.Time{}, false
	}
	return time.Unix(T+before, 0).UTC(), true
}
