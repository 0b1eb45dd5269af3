package cronspec

import (
	"bytes"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorhill/cronexpr"
)

func mustParse(t testing.TB, expr, tz string) *Spec {
	t.Helper()
	s, err := Parse(expr, tz)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", expr, tz, err)
	}
	return s
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// checkSeq asserts that walking Next from `from` yields want (RFC 3339,
// UTC) in order.
func checkSeq(t *testing.T, s *Spec, from string, want ...string) {
	t.Helper()
	prev := utc(from)
	for i, w := range want {
		got := s.Next(prev)
		if !got.Equal(utc(w)) || got.Location() != time.UTC {
			t.Errorf("%q in %s: step %d Next(%s) = %s (%s), want %s",
				s.Expression(), s.Location(), i, prev.Format(time.RFC3339), got.Format(time.RFC3339),
				got.In(s.Location()).Format("2006-01-02 15:04:05 -0700"), w)
			return
		}
		prev = got
	}
}

func TestNextAcrossSyntaxes(t *testing.T) {
	const from = "2026-03-10T10:07:30Z" // a Tuesday
	cases := []struct {
		expr, tz string
		want     []string // consecutive occurrences after from
	}{
		// 5 fields: minute hour day-of-month month day-of-week.
		{"*/5 * * * *", "", []string{"2026-03-10T10:10:00Z", "2026-03-10T10:15:00Z"}},
		{"0 12 * * *", "", []string{"2026-03-10T12:00:00Z", "2026-03-11T12:00:00Z"}},
		{"7 10 * * *", "", []string{"2026-03-11T10:07:00Z"}}, // 10:07:00 today is before from
		{"0 9 * * MON-FRI", "", []string{"2026-03-11T09:00:00Z", "2026-03-12T09:00:00Z", "2026-03-13T09:00:00Z", "2026-03-16T09:00:00Z"}},
		{"0 9 * * mon,wed", "", []string{"2026-03-11T09:00:00Z", "2026-03-16T09:00:00Z"}},
		{"0 9 * * Friday", "", []string{"2026-03-13T09:00:00Z"}},
		{"0 9 * * 5-7", "", []string{"2026-03-13T09:00:00Z", "2026-03-14T09:00:00Z", "2026-03-15T09:00:00Z", "2026-03-20T09:00:00Z"}},
		{"0 9 * * 7", "", []string{"2026-03-15T09:00:00Z"}},  // 7 is Sunday
		{"0 9 * * 01", "", []string{"2026-03-16T09:00:00Z"}}, // 01 is Monday (cronexpr alone reads Sunday)
		{"0 9 * * */2", "", []string{"2026-03-12T09:00:00Z", "2026-03-14T09:00:00Z", "2026-03-15T09:00:00Z"}},
		{"0 0 1 JAN *", "", []string{"2027-01-01T00:00:00Z"}},
		{"0 0 1 january *", "", []string{"2027-01-01T00:00:00Z"}},
		{"0 0 1 04 *", "", []string{"2026-04-01T00:00:00Z"}}, // cronexpr alone reads month 04 as 0
		{"0 0 1 */4 *", "", []string{"2026-05-01T00:00:00Z", "2026-09-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{"5/20 * * * *", "", []string{"2026-03-10T10:25:00Z", "2026-03-10T10:45:00Z", "2026-03-10T11:05:00Z"}},
		{"0-10/5,30 10 * * *", "", []string{"2026-03-10T10:10:00Z", "2026-03-10T10:30:00Z", "2026-03-11T10:00:00Z"}},
		{"0 0 L * *", "", []string{"2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"}},
		{"0 0 LW * *", "", []string{"2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z", "2026-05-29T00:00:00Z"}},
		{"0 0 15W * *", "", []string{"2026-03-16T00:00:00Z", "2026-04-15T00:00:00Z"}}, // 15 Mar 2026 is a Sunday
		{"0 0 ? * 5L", "", []string{"2026-03-27T00:00:00Z", "2026-04-24T00:00:00Z"}},
		{"0 0 ? * MON#2", "", []string{"2026-04-13T00:00:00Z", "2026-05-11T00:00:00Z"}},
		{"0 0 13 * FRI", "", []string{"2026-03-13T00:00:00Z", "2026-03-20T00:00:00Z"}}, // day-of-month OR day-of-week
		// 6 fields: SECONDS first. cronexpr alone would read minute..year.
		{"15 10 * * * *", "", []string{"2026-03-10T10:10:15Z", "2026-03-10T11:10:15Z"}},
		{"*/20 * * * * *", "", []string{"2026-03-10T10:07:40Z", "2026-03-10T10:08:00Z"}},
		{"0 30 9 * * MON-FRI", "", []string{"2026-03-11T09:30:00Z"}},
		// 7 fields: seconds ... year.
		{"15 10 * * * * *", "", []string{"2026-03-10T10:10:15Z"}},
		{"0 0 0 1 1 * 2027", "", []string{"2027-01-01T00:00:00Z"}},
		{"0 0 0 1 1 * 2027-2028", "", []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", ""}},
		// Macros.
		{"@hourly", "", []string{"2026-03-10T11:00:00Z"}},
		{"@daily", "", []string{"2026-03-11T00:00:00Z"}},
		{"@DAILY", "", []string{"2026-03-11T00:00:00Z"}},
		{"@midnight", "", []string{"2026-03-11T00:00:00Z"}},
		{"@weekly", "", []string{"2026-03-15T00:00:00Z"}},
		{"@monthly", "", []string{"2026-04-01T00:00:00Z"}},
		{"@yearly", "", []string{"2027-01-01T00:00:00Z"}},
		{"@annually", "", []string{"2027-01-01T00:00:00Z"}},
		{"@daily", "Asia/Tokyo", []string{"2026-03-10T15:00:00Z"}},
		// @every: multiples of the interval since the Unix epoch.
		{"@every 5m", "", []string{"2026-03-10T10:10:00Z", "2026-03-10T10:15:00Z"}},
		{"@every 90s", "", []string{"2026-03-10T10:09:00Z", "2026-03-10T10:10:30Z"}},
		{"@every 7s", "", []string{"2026-03-10T10:07:34Z", "2026-03-10T10:07:41Z"}}, // 1773137254 = 7 × 253305322
		{"@every 1h30m", "", []string{"2026-03-10T10:30:00Z", "2026-03-10T12:00:00Z"}},
		{"@every 5m", "Asia/Kathmandu", []string{"2026-03-10T10:10:00Z"}}, // the zone plays no part
		// Zones: the parameter, CRON_TZ=, TZ=, or both when equal.
		{"0 9 * * *", "Europe/Berlin", []string{"2026-03-11T08:00:00Z"}}, // 09:00 CET
		{"CRON_TZ=America/New_York 0 9 * * *", "", []string{"2026-03-10T13:00:00Z"}},
		{"TZ=Asia/Kolkata 30 16 * * *", "Asia/Kolkata", []string{"2026-03-10T11:00:00Z"}},
		{"CRON_TZ=UTC 0 12 * * *", "", []string{"2026-03-10T12:00:00Z"}},
		{"  0 12 * * *\t", "UTC", []string{"2026-03-10T12:00:00Z"}},
	}
	for _, c := range cases {
		s := mustParse(t, c.expr, c.tz)
		prev := utc(from)
		for i, w := range c.want {
			got := s.Next(prev)
			if w == "" {
				if !got.IsZero() {
					t.Errorf("%q in %q: step %d: Next(%s) = %s, want none", c.expr, c.tz, i, prev, got)
				}
				break
			}
			if !got.Equal(utc(w)) || got.Location() != time.UTC {
				t.Errorf("%q in %q: step %d: Next(%s) = %s, want %s", c.expr, c.tz, i, prev, got, w)
				break
			}
			prev = got
		}
	}
}

func TestNextEdges(t *testing.T) {
	s := mustParse(t, "* * * * * *", "")
	// Strictly after; fractions of a second are truncated away.
	if got := s.Next(utc("2026-03-10T10:07:30.5Z")); !got.Equal(utc("2026-03-10T10:07:31Z")) {
		t.Errorf("per-second from x.5: %s", got)
	}
	if got := s.Next(utc("2026-03-10T10:07:30Z")); !got.Equal(utc("2026-03-10T10:07:31Z")) {
		t.Errorf("per-second from an occurrence: %s", got)
	}
	// The input's zone does not matter.
	berlin := mustZone(t, "Europe/Berlin")
	if got := mustParse(t, "0 12 * * *", "").Next(utc("2026-03-10T10:07:30Z").In(berlin)); !got.Equal(utc("2026-03-10T12:00:00Z")) || got.Location() != time.UTC {
		t.Errorf("input in another zone: %s", got)
	}
	// Before cronexpr's first year, including the zero Time.
	if got := mustParse(t, "@daily", "").Next(time.Time{}); !got.Equal(utc("1970-01-01T00:00:00Z")) {
		t.Errorf("from the zero Time: %s", got)
	}
	if got := mustParse(t, "0 12 * * *", "America/New_York").Next(time.Time{}); !got.Equal(utc("1970-01-01T17:00:00Z")) {
		t.Errorf("from the zero Time in New York: %s", got)
	}
	// After cronexpr's last year: never again.
	if got := mustParse(t, "@yearly", "").Next(utc("2099-01-01T00:00:00Z")); !got.IsZero() {
		t.Errorf("after 2099: %s", got)
	}
	// @every, before the epoch and at its limits.
	e := mustParse(t, "@every 3s", "")
	if got := e.Next(time.Unix(-5, 0)); got.Unix() != -3 {
		t.Errorf("@every 3s from -5: %d", got.Unix())
	}
	if got := e.Next(time.Unix(-6, 0)); got.Unix() != -3 {
		t.Errorf("@every 3s from -6: %d", got.Unix())
	}
	if got := e.Next(time.Unix(-1, 500)); got.Unix() != 0 {
		t.Errorf("@every 3s from -0.9999995: %d", got.Unix())
	}
	if got := e.Next(time.Unix(math.MaxInt64-1, 0)); !got.IsZero() { // the next multiple of 3 overflows
		t.Errorf("@every near the end of time: %s", got)
	}
}

func TestSixFieldsAreSecondsFirst(t *testing.T) {
	six := mustParse(t, "15 */10 9-17 * * MON-FRI", "Europe/Berlin")
	seven := mustParse(t, "15 */10 9-17 * * MON-FRI *", "Europe/Berlin")
	if !six.HasSeconds() || !seven.HasSeconds() {
		t.Fatal("HasSeconds is false for a seconds field of 15")
	}
	a, b := utc("2026-03-10T10:07:30Z"), utc("2026-03-10T10:07:30Z")
	for range 500 {
		a, b = six.Next(a), seven.Next(b)
		if !a.Equal(b) {
			t.Fatalf("6 fields %s, 7 fields %s", a, b)
		}
		if l := a.In(six.Location()); l.Second() != 15 || l.Minute()%10 != 0 || l.Hour() < 9 || l.Hour() > 17 {
			t.Fatalf("6 fields: %s does not match", l)
		}
	}
	// Read as cronexpr does (minute ... year), "15 10 * * * 2027" would be
	// 10:15 in 2027; seconds first it is hh:10:15 from now on.
	got := mustParse(t, "15 10 * * * *", "").Next(utc("2026-03-10T10:07:30Z"))
	if !got.Equal(utc("2026-03-10T10:10:15Z")) {
		t.Errorf("6 fields: %s", got)
	}
}

func TestAccessors(t *testing.T) {
	cases := []struct {
		expr, tz, zone string
		seconds        bool
	}{
		{"*/5 * * * *", "", "UTC", false},
		{"0 * * * * *", "", "UTC", false},
		{"00 * * * * *", "", "UTC", false},
		{"30 * * * * *", "", "UTC", true},
		{"0,30 * * * * *", "", "UTC", true},
		{"* * * * * * *", "", "UTC", true},
		{"@hourly", "", "UTC", false},
		{"@every 2m", "", "UTC", false},
		{"@every 90s", "", "UTC", true},
		{"CRON_TZ=Europe/Berlin 0 9 * * *", "", "Europe/Berlin", false},
		{"0 9 * * *", "America/New_York", "America/New_York", false},
	}
	for _, c := range cases {
		s := mustParse(t, c.expr, c.tz)
		if s.HasSeconds() != c.seconds {
			t.Errorf("%q: HasSeconds = %v", c.expr, s.HasSeconds())
		}
		if s.Location().String() != c.zone {
			t.Errorf("%q: Location = %s, want %s", c.expr, s.Location(), c.zone)
		}
		if s.Expression() != strings.TrimSpace(c.expr) {
			t.Errorf("%q: Expression = %q", c.expr, s.Expression())
		}
		// What the server stores (expression, zone name) parses again.
		if _, err := Parse(s.Expression(), s.Location().String()); err != nil {
			t.Errorf("%q: reparse: %v", c.expr, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ expr, tz, msg string }{
		{"", "", "cron expression is empty"},
		{"   ", "", "cron expression is empty"},
		{"* * * *", "", `cron expression "* * * *": has 4 fields: want 5`},
		{"* * * * * * * *", "", "has 8 fields"},
		{"5-3 * * * *", "", `cron expression "5-3 * * * *": range 5-3 in minute field is inverted`},
		{"* 5-3 * * *", "", "range 5-3 in hour field is inverted"},
		{"* * 5-3 * *", "", "range 5-3 in day-of-month field is inverted"},
		{"* * * 5-3 *", "", "range 5-3 in month field is inverted"},
		{"* * * * 5-3", "", "range 5-3 in day-of-week field is inverted"},
		{"* * * DEC-JAN *", "", "range DEC-JAN in month field is inverted"},
		{"* * * * SAT-MON", "", "range SAT-MON in day-of-week field is inverted"},
		{"* * * * 1,5-3/2", "", "range 5-3 in day-of-week field is inverted"},
		{"30-10 * * * * *", "", "range 30-10 in second field is inverted"},
		{"0 0 0 1 1 * 2030-2027", "", "range 2030-2027 in year field is inverted"},
		{"*/0 * * * *", "", "step 0 in minute field must be at least 1"},
		{"0/0 * * * * *", "", "step 0 in second field must be at least 1"},
		{"*/61 * * * *", "", "step 61 in minute field is out of range 1-60"},
		{"*/x * * * *", "", `step "x" in minute field is not a number`},
		{"*/-1 * * * *", "", `step "-1" in minute field is not a number`},
		{"61 * * * *", "", "minute value 61 is out of range 0-59"},
		{"60 * * * * *", "", "second value 60 is out of range 0-59"},
		{"* 24 * * *", "", "hour value 24 is out of range 0-23"},
		{"* * 0 * *", "", "day-of-month value 0 is out of range 1-31"},
		{"* * 32 * *", "", "day-of-month value 32 is out of range 1-31"},
		{"* * * 13 *", "", "month value 13 is out of range 1-12"},
		{"* * * 0 *", "", "month value 0 is out of range 1-12"},
		{"* * * * 8", "", "day-of-week value 8 is out of range 0-7"},
		{"0 0 0 1 1 * 1969", "", "year value 1969 is out of range 1970-2099"},
		{"0 0 0 1 1 * 2100", "", "year value 2100 is out of range 1970-2099"},
		{"* * * * FUNDAY", "", `"FUNDAY" is not a valid day-of-week value`},
		{"-5 * * * *", "", "missing value in minute field"},
		{"5- * * * *", "", "missing value in minute field"},
		{"+5 * * * *", "", `"+5" is not a valid minute value`},
		{"1,,2 * * * *", "", `empty list item in minute field "1,,2"`},
		{"L * * * *", "", `"L" is not a valid minute value`},
		{"* * * * L", "", `"L" is not a valid day-of-week value`},
		{"* * 32W * *", "", "day-of-month value 32 is out of range"},
		{"* * * * MON#6", "", `week "6" in day-of-week item "MON#6" must be 1-5`},
		{"* * * * 9L", "", "day-of-week value 9 is out of range"},
		{"@every 0s", "", "@every 0s: the interval must be at least 1s"},
		{"@every -5s", "", "at least 1s"},
		{"@every 500ms", "", "at least 1s"},
		{"@every 1.5s", "", "@every 1.5s: the interval must be whole seconds"},
		{"@every often", "", "@every often: not a duration"},
		{"@every", "", "@every takes one duration"},
		{"@every 1m 2m", "", "@every takes one duration"},
		{"@fortnightly", "", "unknown macro @fortnightly"},
		{"@daily 5", "", "@daily takes no fields"},
		{"* * * * *", "Mars/Base", `unknown time zone "Mars/Base"`},
		{"* * * * *", "Local", `time zone "Local" is not allowed`},
		{"* * * * *", "../../etc/passwd", "unknown time zone"},
		{"CRON_TZ=Mars/Base * * * * *", "", `unknown time zone "Mars/Base"`},
		{"CRON_TZ= * * * * *", "", "CRON_TZ= names no time zone"},
		{"CRON_TZ=Europe/Berlin", "", "has a time zone but no fields"},
		{"CRON_TZ=Europe/Paris * * * * *", "Europe/Berlin", "names time zone Europe/Paris but the schedule names Europe/Berlin"},
		{"CRON_TZ=Europe/Paris TZ=Europe/Berlin * * * * *", "", "names time zone Europe/Berlin but the schedule names Europe/Paris"},
		{"0 0 30 2 *", "", `cron expression "0 0 30 2 *" never fires`},
		{"0 0 31 4,6,9,11 *", "", "never fires"},
		{"0 0 0 1 1 * 2020", "", "never fires"},
		// 02:30 on the second Sunday of March only exists outside the US.
		{"30 2 * 3 SUN#2", "America/New_York", "never fires"},
	}
	for _, c := range cases {
		s, err := Parse(c.expr, c.tz)
		if err == nil || !strings.Contains(err.Error(), c.msg) || s != nil {
			t.Errorf("Parse(%q, %q) = %v, want error containing %q", c.expr, c.tz, err, c.msg)
		}
	}
	if _, err := Parse("30 2 * 3 SUN#2", "Europe/Berlin"); err != nil {
		t.Errorf("02:30 on the second Sunday of March in Berlin: %v", err)
	}
}

// DST transitions used below (2026):
//
//	America/New_York  spring 8 Mar 02:00 EST → 03:00 EDT (07:00Z); fall 1 Nov 02:00 EDT → 01:00 EST (06:00Z)
//	Europe/Berlin     spring 29 Mar 02:00 CET → 03:00 CEST (01:00Z); fall 25 Oct 03:00 CEST → 02:00 CET (01:00Z)
func TestDaylightSavingSpringForwardSkipsTheGap(t *testing.T) {
	// 02:30 does not exist on the spring-forward day: that day is skipped.
	checkSeq(t, mustParse(t, "30 2 * * *", "America/New_York"), "2026-03-07T00:00:00Z",
		"2026-03-07T07:30:00Z", // 7 Mar 02:30 EST
		"2026-03-09T06:30:00Z", // 9 Mar 02:30 EDT; no 8 Mar
		"2026-03-10T06:30:00Z")
	checkSeq(t, mustParse(t, "30 2 * * *", "Europe/Berlin"), "2026-03-28T00:00:00Z",
		"2026-03-28T01:30:00Z", // 28 Mar 02:30 CET
		"2026-03-30T00:30:00Z") // 30 Mar 02:30 CEST; no 29 Mar
	// Every wall time in the gap is skipped, per minute and per second too.
	checkSeq(t, mustParse(t, "* * * * *", "America/New_York"), "2026-03-08T06:58:00Z",
		"2026-03-08T06:59:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:01:00Z") // 01:59 EST, 03:00 EDT, 03:01 EDT
	checkSeq(t, mustParse(t, "* * * * * *", "Europe/Berlin"), "2026-03-29T00:59:58Z",
		"2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z", "2026-03-29T01:00:01Z")
	checkSeq(t, mustParse(t, "15,45 2 * * *", "Europe/Berlin"), "2026-03-29T00:00:00Z", "2026-03-30T00:15:00Z")
	// Zones that change at midnight skip a midnight cron that day.
	checkSeq(t, mustParse(t, "@daily", "America/Santiago"), "2026-09-05T12:00:00Z",
		"2026-09-07T03:00:00Z") // 6 Sep 00:00 does not exist; 7 Sep 00:00 -03
	// Samoa skipped 30 December 2011 entirely.
	checkSeq(t, mustParse(t, "0 12 * * *", "Pacific/Apia"), "2011-12-29T22:00:00Z",
		"2011-12-30T22:00:00Z") // 31 Dec 12:00 +14
	checkSeq(t, mustParse(t, "* * * * *", "Pacific/Apia"), "2011-12-30T09:58:00Z",
		"2011-12-30T09:59:00Z", "2011-12-30T10:00:00Z")
}

func TestDaylightSavingFallBackFiresOnce(t *testing.T) {
	// 01:30 happens twice in New York on 1 Nov and fires once, first.
	ny := mustParse(t, "30 1 * * *", "America/New_York")
	checkSeq(t, ny, "2026-11-01T04:00:00Z",
		"2026-11-01T05:30:00Z", // 01:30 EDT
		"2026-11-02T06:30:00Z") // next day 01:30 EST, not 1 Nov 01:30 EST
	// From inside the second pass of the hour: it has already fired.
	checkSeq(t, ny, "2026-11-01T06:10:00Z", "2026-11-02T06:30:00Z")
	checkSeq(t, ny, "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z")
	// In Berlin, where time.Date picks the later occurrence, still the first.
	checkSeq(t, mustParse(t, "30 2 * * *", "Europe/Berlin"), "2026-10-24T12:00:00Z",
		"2026-10-25T00:30:00Z", // 02:30 CEST
		"2026-10-26T01:30:00Z") // 26 Oct 02:30 CET
	// Per minute and per second: the repeated hour fires once, then time
	// moves on at the end of the repetition.
	checkSeq(t, mustParse(t, "* * * * *", "America/New_York"), "2026-11-01T05:58:00Z",
		"2026-11-01T05:59:00Z", "2026-11-01T07:00:00Z") // 01:59 EDT, 02:00 EST
	checkSeq(t, mustParse(t, "* * * * *", "America/New_York"), "2026-11-01T06:10:00Z", "2026-11-01T07:00:00Z")
	checkSeq(t, mustParse(t, "* * * * * *", "America/New_York"), "2026-11-01T06:59:59.5Z", "2026-11-01T07:00:00Z")
	// ... at once, not by stepping through 3600 seconds that already fired.
	checkSeq(t, mustParse(t, "* * * * * *", "America/New_York"), "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z")
	checkSeq(t, mustParse(t, "* * * * * *", "Europe/Berlin"), "2026-10-25T00:59:59Z",
		"2026-10-25T02:00:00Z") // 02:59:59 CEST, then 03:00:00 CET
	// Lord Howe goes back 30 minutes; Santiago at midnight.
	checkSeq(t, mustParse(t, "*/30 * * * *", "Australia/Lord_Howe"), "2026-04-04T14:00:00Z",
		"2026-04-04T14:30:00Z", // 01:30 +11
		"2026-04-04T15:30:00Z") // 02:00 +1030; 01:30 +1030 (15:00Z) is a repeat
	checkSeq(t, mustParse(t, "30 23 * * *", "America/Santiago"), "2026-04-04T12:00:00Z",
		"2026-04-05T02:30:00Z", // 4 Apr 23:30 -03
		"2026-04-06T03:30:00Z") // 5 Apr 23:30 -04
}

func TestDaylightSavingHourly(t *testing.T) {
	type hour struct{ utc, local string }
	cases := []struct {
		zone, from string
		want       []hour
	}{
		{"America/New_York", "2026-03-08T04:00:00Z", []hour{
			{"2026-03-08T05:00:00Z", "00:00 -0500"}, {"2026-03-08T06:00:00Z", "01:00 -0500"},
			{"2026-03-08T07:00:00Z", "03:00 -0400"}, {"2026-03-08T08:00:00Z", "04:00 -0400"}}},
		{"America/New_York", "2026-11-01T03:00:00Z", []hour{
			{"2026-11-01T04:00:00Z", "00:00 -0400"}, {"2026-11-01T05:00:00Z", "01:00 -0400"},
			{"2026-11-01T07:00:00Z", "02:00 -0500"}, {"2026-11-01T08:00:00Z", "03:00 -0500"}}},
		{"Europe/Berlin", "2026-03-28T22:00:00Z", []hour{
			{"2026-03-28T23:00:00Z", "00:00 +0100"}, {"2026-03-29T00:00:00Z", "01:00 +0100"},
			{"2026-03-29T01:00:00Z", "03:00 +0200"}, {"2026-03-29T02:00:00Z", "04:00 +0200"}}},
		{"Europe/Berlin", "2026-10-24T21:00:00Z", []hour{
			{"2026-10-24T22:00:00Z", "00:00 +0200"}, {"2026-10-24T23:00:00Z", "01:00 +0200"},
			{"2026-10-25T00:00:00Z", "02:00 +0200"}, {"2026-10-25T02:00:00Z", "03:00 +0100"},
			{"2026-10-25T03:00:00Z", "04:00 +0100"}}},
	}
	for _, c := range cases {
		s := mustParse(t, "0 * * * *", c.zone)
		prev := utc(c.from)
		for _, w := range c.want {
			got := s.Next(prev)
			if !got.After(prev) || !got.Equal(utc(w.utc)) || got.In(s.Location()).Format("15:04 -0700") != w.local {
				t.Errorf("%s hourly: Next(%s) = %s (%s), want %s (%s)", c.zone, prev.Format(time.RFC3339),
					got.Format(time.RFC3339), got.In(s.Location()).Format("15:04 -0700"), w.utc, w.local)
				break
			}
			prev = got
		}
	}
}

// Property: from random starts around daylight-saving transitions, walking
// Next is strictly increasing and equals a brute-force reference that
// scans real instants and keeps those whose local wall clock matches (and
// is the first instant with that wall clock).
func TestNextMatchesBruteForce(t *testing.T) {
	type prop struct {
		expr   string
		before time.Duration // how long before a transition walks start, at most
		step   time.Duration // reference scan step; every firing instant is a multiple of it
		pred   func(l time.Time) bool
	}
	props := []prop{
		{"*/7 * * * *", 3 * time.Hour, time.Minute, func(l time.Time) bool { return l.Second() == 0 && l.Minute()%7 == 0 }},
		{"0 */3 * * *", 48 * time.Hour, 15 * time.Minute, func(l time.Time) bool { return l.Second() == 0 && l.Minute() == 0 && l.Hour()%3 == 0 }},
		{"15,45 1-3 * * *", 72 * time.Hour, 15 * time.Minute, func(l time.Time) bool {
			return l.Second() == 0 && (l.Minute() == 15 || l.Minute() == 45) && l.Hour() >= 1 && l.Hour() <= 3
		}},
		{"30 2 * * *", 20 * 24 * time.Hour, 15 * time.Minute, func(l time.Time) bool { return l.Second() == 0 && l.Minute() == 30 && l.Hour() == 2 }},
		{"0 * * * *", 24 * time.Hour, 15 * time.Minute, func(l time.Time) bool { return l.Second() == 0 && l.Minute() == 0 }},
		{"*/20 * * * * *", 9 * time.Minute, 20 * time.Second, func(l time.Time) bool { return l.Second()%20 == 0 }},
		{"0 0 0 * * SUN *", 150 * 24 * time.Hour, 15 * time.Minute, func(l time.Time) bool {
			return l.Second() == 0 && l.Minute() == 0 && l.Hour() == 0 && l.Weekday() == time.Sunday
		}},
		{"0 30 0-2,23 * * MON-FRI", 5 * 24 * time.Hour, 15 * time.Minute, func(l time.Time) bool {
			h := l.Hour()
			return l.Second() == 0 && l.Minute() == 30 && (h <= 2 || h == 23) && l.Weekday() >= time.Monday && l.Weekday() <= time.Friday
		}},
	}
	zones := []string{"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata", "Pacific/Chatham"}
	rng := rand.New(rand.NewPCG(7, 11))
	calls, crossings := 0, 0
	for _, p := range props {
		for _, z := range zones {
			s := mustParse(t, p.expr, z)
			loc := s.Location()
			for walk := 0; walk < 6; walk++ {
				// Start shortly before an offset change between 1990 and 2080.
				at := nextChange(time.Unix(631152000+rng.Int64N(2840000000), 0), loc)
				prev := at.Add(-time.Duration(rng.Int64N(int64(p.before))))
				if walk%2 == 0 {
					prev = prev.Truncate(time.Second)
				}
				for range 30 {
					got := s.Next(prev)
					calls++
					want := bruteNext(loc, p.pred, p.step, prev, got)
					if !got.After(prev) || !got.Equal(want) {
						t.Fatalf("%q in %s: Next(%s) = %s (%s), reference %s (%s)", p.expr, z,
							prev.In(loc).Format(time.RFC3339), got.Format(time.RFC3339), got.In(loc).Format(time.RFC3339),
							want.Format(time.RFC3339), want.In(loc).Format(time.RFC3339))
					}
					if offsetAt(prev, loc) != offsetAt(got, loc) {
						crossings++
					}
					prev = got
				}
			}
		}
	}
	if crossings < 200 { // 240 walks start before a change
		t.Errorf("only %d steps crossed an offset change", crossings)
	}
	// @every: multiples of the interval, strictly increasing.
	for _, z := range zones {
		s := mustParse(t, "@every 7s", z)
		prev := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9))
		for range 200 {
			got := s.Next(prev)
			calls++
			if !got.After(prev) || got.Unix()%7 != 0 || got.Sub(prev) > 7*time.Second {
				t.Fatalf("@every 7s: Next(%s) = %s", prev, got)
			}
			prev = got
		}
	}
	if calls < 10000 {
		t.Fatalf("only %d calls", calls)
	}
	t.Logf("%d calls of Next, %d across an offset change", calls, crossings)
}

// nextChange is the next change of loc's offset within a year after t, or
// t if there is none.
func nextChange(t time.Time, loc *time.Location) time.Time {
	for d := t; d.Before(t.AddDate(1, 0, 1)); d = d.Add(24 * time.Hour) {
		if offsetAt(d, loc) != offsetAt(t, loc) {
			return transition(d.Add(-24*time.Hour), d, loc)
		}
	}
	return t
}

// bruteNext scans instants after t in steps (up to and including limit)
// for one whose wall clock in loc matches pred and has not occurred
// before (clocks going back repeat wall times; only the first counts).
func bruteNext(loc *time.Location, pred func(time.Time) bool, step time.Duration, t, limit time.Time) time.Time {
	x := t.Truncate(step)
	for !x.After(t) {
		x = x.Add(step)
	}
	for ; !x.After(limit); x = x.Add(step) {
		if l := x.In(loc); pred(l) && !repeated(x, loc) {
			return x
		}
	}
	return time.Time{}
}

// repeated reports whether the wall clock of x already read the same at
// an earlier instant (within 3 hours, in 15-minute steps: every real
// daylight-saving shift is a multiple of 15 minutes).
func repeated(x time.Time, loc *time.Location) bool {
	w := x.In(loc).Format("2006-01-02 15:04:05")
	for d := 15 * time.Minute; d <= 3*time.Hour; d += 15 * time.Minute {
		if x.Add(-d).In(loc).Format("2006-01-02 15:04:05") == w {
			return true
		}
	}
	return false
}

func TestConcurrentNext(t *testing.T) {
	specs := []*Spec{
		mustParse(t, "0 0 L * *", "Europe/Berlin"), // exercises cronexpr's day cache
		mustParse(t, "0 9 * * MON#2,5L", "America/New_York"),
		mustParse(t, "*/7 * * * * *", ""),
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range specs {
				prev := utc("2026-01-01T00:00:00Z").AddDate(0, g, 0)
				for range 200 {
					next := s.Next(prev)
					if !next.After(prev) {
						t.Errorf("%q: Next(%s) = %s", s.Expression(), prev, next)
						return
					}
					prev = next
				}
			}
		}()
	}
	wg.Wait()
}

// A panic inside cronexpr's Next (here: an inverted range that Parse
// would have refused) becomes the zero Time and one log line.
func TestNextRecoversAndLogsOnce(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)

	s := &Spec{expr: "5-3 * * * *", loc: time.UTC, cron: cronexpr.MustParse("0 5-3 * * * * *")}
	for range 3 {
		if got := s.Next(utc("2026-03-10T10:07:30Z")); !got.IsZero() {
			t.Fatalf("Next = %s, want zero", got)
		}
	}
	if n := strings.Count(buf.String(), "evaluating a cron expression failed"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "panicked") {
		t.Fatalf("log does not mention the panic:\n%s", buf.String())
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"* * * * *", "5-3 * * * *", "* 5-3 * * *", "* * 5-3 * *", "* * * 5-3 *", "* * * * 5-3",
		"0 0 30 2 *", "@every 1s", "@every 1.5s", "@daily", "@midnight", "L W # ?",
		"0 0 L * *", "0 0 LW * *", "0 0 * * 5L", "0 0 * * MON#2", "0 0 15W * *", "0 0 ? * 7L",
		"CRON_TZ=Europe/Berlin 0 9 * * *", "TZ=America/New_York 30 2 * * *", "1-60/0 * * * *", "*/61 * * * *",
		"0 0 0 1 1 * 2099", "0 0 0 29 2 * 2096-2099", "59 59 23 31 12 * 2099", "* * * * * *",
		"0 9 * * 01", "0 0 1 01 *", "1-7/2 * * * 1-7/3", "0/5 * * * * *", "0 0 * * 7/2",
		"30 2 * 3 SUN#2", "0 0 31 4,6,9,11 *", "*,5 * L,5 * *", "0 0 1W,LW * 1L,2#5",
	} {
		f.Add(seed)
	}
	starts := []time.Time{
		{}, time.Unix(0, 0), utc("2026-03-08T06:59:59Z"), utc("2026-11-01T05:30:00Z"),
		utc("2026-11-01T06:30:00.5Z"), utc("2026-10-25T00:59:59Z"), utc("2099-12-31T23:59:59Z"),
	}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, tz := range []string{"", "America/New_York", "Europe/Berlin"} {
			s, err := Parse(expr, tz)
			if err != nil {
				if s != nil {
					t.Fatalf("Parse(%q) returned a Spec and an error", expr)
				}
				continue
			}
			for _, st := range starts {
				prev := st
				for range 3 {
					n := s.Next(prev)
					if n.IsZero() {
						break
					}
					if !n.After(prev) || n.Location() != time.UTC || n.Nanosecond() != 0 {
						t.Fatalf("%q in %q: Next(%s) = %s", expr, tz, prev, n)
					}
					// n is an occurrence, so it is also the next one after n-1s.
					if again := s.Next(n.Add(-time.Second)); !again.Equal(n) {
						t.Fatalf("%q in %q: Next(%s) = %s but Next(%s) = %s", expr, tz, prev, n, n.Add(-time.Second), again)
					}
					if s.every > 0 {
						if n.Unix()%s.every != 0 {
							t.Fatalf("%q: %s is not a multiple of the interval", expr, n)
						}
					} else if e, w := *s.cron, wallClock(n, s.loc); !e.Next(w.Add(-time.Second)).Equal(w) {
						t.Fatalf("%q in %q: %s (wall %s) does not match", expr, tz, n, w)
					}
					prev = n
				}
			}
			if s.failed.Load() {
				t.Fatalf("%q in %q: cronexpr panicked inside Next", expr, tz)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, expr := range []string{"*/5 9-17 * * MON-FRI", "0 30 9 * * MON-FRI 2026-2099", "@every 90s"} {
		b.Run(expr, func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse(expr, "Europe/Berlin"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNext(b *testing.B) {
	for _, c := range []struct{ name, expr, tz string }{
		{"utc-5field", "*/5 9-17 * * MON-FRI", ""},
		{"berlin-5field", "*/5 9-17 * * MON-FRI", "Europe/Berlin"},
		{"newyork-seconds", "*/10 * * * * *", "America/New_York"},
		{"newyork-daily", "30 2 * * *", "America/New_York"},
		{"every", "@every 90s", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := mustParse(b, c.expr, c.tz)
			start := utc("2026-01-01T00:00:00Z")
			t := start
			for b.Loop() {
				if t = s.Next(t); t.IsZero() {
					t = start
				}
			}
		})
	}
}

// A stored expression whose occurrences have all passed still loads (its
// schedule is then closed as ended, not as broken); one this build cannot
// read is refused by Load as by Parse.
func TestLoadTellsEndedFromBroken(t *testing.T) {
	const ended = "0 0 12 1 1 * 2001"
	if _, err := Parse(ended, ""); err == nil || !strings.Contains(err.Error(), "never fires") {
		t.Fatalf("Parse of an expression that ended in 2001: %v, want never fires", err)
	}
	s, err := Load(ended, "")
	if err != nil {
		t.Fatalf("Load of a stored expression that ended: %v", err)
	}
	if got := s.Next(time.Date(2000, 6, 1, 0, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2001, 1, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("its last occurrence: %v", got)
	}
	if got := s.Next(time.Date(2001, 1, 1, 12, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Fatalf("after its last occurrence: %v, want none", got)
	}
	for _, broken := range []string{"0 0 30 2 *", "61 * * * *", "5-3 * * * *"} {
		if _, err := Load(broken, ""); err == nil {
			t.Errorf("Load(%q) accepted an expression that can never be evaluated", broken)
		}
	}
}

// TestUnionFiresAtEveryPartsOccurrences: several expressions as one
// schedule fire at each part's occurrences in time order, an instant two
// parts share once; a zone prefix before the first part applies to all.
func TestUnionFiresAtEveryPartsOccurrences(t *testing.T) {
	mustUnion := func(expr, tz string) *Spec {
		t.Helper()
		s, err := ParseUnion(expr, tz)
		if err != nil {
			t.Fatalf("ParseUnion(%q): %v", expr, err)
		}
		return s
	}
	// karajo's daily@08:15,17:45: no single cron expression says it.
	checkSeq(t, mustUnion("0 15 8 * * *; 0 45 17 * * *", ""), "2026-12-07T09:00:00Z",
		"2026-12-07T17:45:00Z", "2026-12-08T08:15:00Z", "2026-12-08T17:45:00Z")
	// A shared instant (noon is in both) fires once.
	checkSeq(t, mustUnion("0 0 12 * * *;0 0 */6 * * *", ""), "2026-12-07T05:00:00Z",
		"2026-12-07T06:00:00Z", "2026-12-07T12:00:00Z", "2026-12-07T18:00:00Z", "2026-12-08T00:00:00Z")
	// An interval and a calendar together; the union has seconds if a part does.
	u := mustUnion("@every 40s; 30 0 0 * * *", "")
	if !u.HasSeconds() {
		t.Error("a union with a seconds part has seconds")
	}
	checkSeq(t, u, "2026-12-06T23:59:50Z", "2026-12-07T00:00:00Z", "2026-12-07T00:00:30Z", "2026-12-07T00:00:40Z")
	// The zone prefix is the whole union's: 08:00 and 20:00 in Berlin (UTC+1 in December).
	z := mustUnion("CRON_TZ=Europe/Berlin 0 0 8 * * *; 0 0 20 * * *", "")
	if z.Location().String() != "Europe/Berlin" {
		t.Fatalf("zone %s", z.Location())
	}
	checkSeq(t, z, "2026-12-07T00:00:00Z", "2026-12-07T07:00:00Z", "2026-12-07T19:00:00Z")
	// Load reads a stored union, even one whose parts have all passed.
	if s, err := Load("0 0 0 1 1 * 1999; 0 0 0 1 1 * 2000", ""); err != nil || !s.Next(utc("2001-01-01T00:00:00Z")).IsZero() {
		t.Fatalf("Load of an ended union: %v", err)
	}
}

// TestUnionRefusals: Parse refuses a union (an API takes one only when
// every member can evaluate it); ParseUnion refuses an empty part, a bad
// part (naming which), too many parts, and a part naming another zone.
func TestUnionRefusals(t *testing.T) {
	if _, err := Parse("0 * * * *; 30 * * * *", ""); err == nil || !strings.Contains(err.Error(), "not accepted here") {
		t.Fatalf("Parse of a union: %v", err)
	}
	for expr, want := range map[string]string{
		"0 * * * *;":            "expression 2 of 2 is empty",
		"; 0 * * * *":           "expression 1 of 2 is empty",
		"0 * * * *; 61 * * * *": "expression 2 of",
		"0 * * * *; 0 0 30 2 *": "never fires",
		"TZ=Europe/Berlin 0 * * * *; TZ=UTC 0 * * * *":       "names time zone UTC but the schedule names Europe/Berlin",
		strings.Repeat("0 * * * *;", MaxParts) + "0 * * * *": "at most 32",
	} {
		if _, err := ParseUnion(expr, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseUnion(%q) = %v, want an error with %q", expr, err, want)
		}
	}
	if _, err := ParseUnion("CRON_TZ=Asia/Tokyo 0 * * * *; 0 30 * * * *", "Europe/Berlin"); err == nil {
		t.Error("a union naming a zone other than the schedule's was accepted")
	}
}
