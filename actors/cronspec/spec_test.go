package cronspec

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, expr, tz string) *Spec {
	t.Helper()
	s, err := Parse(expr, tz)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", expr, tz, err)
	}
	return s
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNextAcrossSyntaxes(t *testing.T) {
	from := utc("2026-03-10T10:07:30Z") // a Tuesday
	cases := []struct{ expr, tz, want string }{
		{"*/5 * * * *", "", "2026-03-10T10:10:00Z"},
		{"0 12 * * *", "", "2026-03-10T12:00:00Z"},
		{"15 * * * * *", "", "2026-03-10T10:08:15Z"},     // 6 fields: seconds first
		{"0 0 0 1 1 * 2027", "", "2027-01-01T00:00:00Z"}, // 7 fields: with year
		{"0 9 * * MON-FRI", "", "2026-03-11T09:00:00Z"},  // names
		{"0 0 1 JAN *", "", "2027-01-01T00:00:00Z"},      // month name
		{"@hourly", "", "2026-03-10T11:00:00Z"},
		{"@daily", "", "2026-03-11T00:00:00Z"},
		{"@midnight", "", "2026-03-11T00:00:00Z"},
		{"@weekly", "", "2026-03-15T00:00:00Z"},
		{"@monthly", "", "2026-04-01T00:00:00Z"},
		{"@yearly", "", "2027-01-01T00:00:00Z"},
		{"@every 5m", "", "2026-03-10T10:10:00Z"},
		{"@every 90s", "", "2026-03-10T10:09:00Z"},             // epoch-aligned multiples of 90s
		{"0 9 * * *", "Europe/Berlin", "2026-03-11T08:00:00Z"}, // 09:00 CET
		{"CRON_TZ=America/New_York 0 9 * * *", "", "2026-03-10T13:00:00Z"},
		{"TZ=Asia/Kolkata 30 16 * * *", "Asia/Kolkata", "2026-03-10T11:00:00Z"},
	}
	for _, c := range cases {
		got := mustParse(t, c.expr, c.tz).Next(from)
		if want := utc(c.want); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%q in %q: Next(%s) = %s, want %s", c.expr, c.tz, from, got, want)
		}
	}
}

func TestParseRejectsWithClearMessages(t *testing.T) {
	cases := []struct{ expr, tz, msg string }{
		{"", "", "empty"},
		{"* * * *", "", "has 4 fields"},
		{"* * * * * * * *", "", "has 8 fields"},
		{"5-3 * * * *", "", "range 5-3 in minute field is inverted"},
		{"* 5-3 * * *", "", "range 5-3 in hour field is inverted"},
		{"* * 5-3 * *", "", "range 5-3 in day-of-month field is inverted"},
		{"* * * 5-3 *", "", "range 5-3 in month field is inverted"},
		{"* * * * 5-3", "", "range 5-3 in day-of-week field is inverted"},
		{"* * * DEC-JAN *", "", "range DEC-JAN in month field is inverted"},
		{"30-10 * * * * *", "", "range 30-10 in second field is inverted"},
		{"*/0 * * * *", "", "step \"0\" in minute field must be a positive number"},
		{"61 * * * *", "", "minute value 61 is out of range 0-59"},
		{"* 24 * * *", "", "hour value 24 is out of range"},
		{"* * 0 * *", "", "day-of-month value 0 is out of range"},
		{"* * * 13 *", "", "month value 13 is out of range"},
		{"* * * * FUNDAY", "", "\"FUNDAY\" is not a valid day-of-week value"},
		{"@every 0s", "", "at least 1s"},
		{"@every 1.5s", "", "whole seconds"},
		{"@every often", "", "needs a duration"},
		{"@fortnightly", "", "unknown macro"},
		{"* * * * *", "Mars/Base", "unknown time zone \"Mars/Base\""},
		{"CRON_TZ=Europe/Paris * * * * *", "Europe/Berlin", "names zone Europe/Paris but the schedule names Europe/Berlin"},
		{"0 0 30 2 *", "", "never fires"},
		{"0 0 0 1 1 * 2020", "", "never fires"},
	}
	for _, c := range cases {
		_, err := Parse(c.expr, c.tz)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Parse(%q, %q) = %v, want error containing %q", c.expr, c.tz, err, c.msg)
		}
	}
}

func TestDaylightSaving(t *testing.T) {
	ny := "America/New_York" // 2026: spring forward Mar 8 02:00→03:00, fall back Nov 1 02:00→01:00
	// Spring-forward: 02:30 does not exist on Mar 8, so that day is skipped.
	s := mustParse(t, "30 2 * * *", ny)
	if got := s.Next(utc("2026-03-07T08:00:00Z")); !got.Equal(utc("2026-03-09T06:30:00Z")) {
		t.Errorf("spring-forward gap: got %s, want 2026-03-09 02:30 EDT", got)
	}
	// Fall-back: 01:30 happens twice on Nov 1 and fires once, at the first.
	s = mustParse(t, "30 1 * * *", ny)
	first := s.Next(utc("2026-11-01T04:00:00Z"))
	if !first.Equal(utc("2026-11-01T05:30:00Z")) { // 01:30 EDT
		t.Fatalf("fall-back first: got %s", first)
	}
	if second := s.Next(first); !second.Equal(utc("2026-11-02T06:30:00Z")) { // next day, 01:30 EST
		t.Errorf("fall-back fired twice: got %s after %s", second, first)
	}
	// Hourly across both transitions: strictly increasing, on the hour locally.
	for _, tz := range []string{ny, "Europe/Berlin"} {
		loc, _ := time.LoadLocation(tz)
		s := mustParse(t, "0 * * * *", tz)
		for _, start := range []string{"2026-03-07T00:00:00Z", "2026-03-28T00:00:00Z", "2026-10-24T00:00:00Z", "2026-10-31T00:00:00Z"} {
			prev := utc(start)
			for i := 0; i < 96; i++ {
				next := s.Next(prev)
				if !next.After(prev) || next.In(loc).Minute() != 0 || next.Sub(prev) > 2*time.Hour {
					t.Fatalf("%s hourly from %s: %s after %s", tz, start, next, prev)
				}
				prev = next
			}
		}
	}
	// A per-second cron inside the repeated hour still makes progress.
	s = mustParse(t, "* * * * * *", ny)
	in := utc("2026-11-01T06:30:00Z") // 01:30 EST, the second pass
	if got := s.Next(in); got.IsZero() || !got.After(in) {
		t.Fatalf("per-second cron in the repeated hour: %s", got)
	}
}

// Property: from random starts, Next is strictly increasing and matches
// the expression, in several zones.
func TestNextIsMonotonicAndMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	exprs := []string{"*/7 * * * *", "0 */3 * * *", "15,45 2-4 * * *", "0 0 * * SUN", "*/20 * * * * *", "@every 7s"}
	zones := []string{"", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"}
	for _, e := range exprs {
		for _, z := range zones {
			s := mustParse(t, e, z)
			t0 := time.Unix(1_700_000_000+rng.Int64N(200_000_000), 0)
			for i := 0; i < 10000/len(zones)/len(exprs)*10; i++ {
				n := s.Next(t0)
				if n.IsZero() || !n.After(t0) {
					t.Fatalf("%q %q: Next(%s) = %s", e, z, t0, n)
				}
				if e == "*/7 * * * *" && n.In(s.Location()).Minute()%7 != 0 {
					t.Fatalf("%q %q: %s does not match", e, z, n.In(s.Location()))
				}
				t0 = n
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"* * * * *", "5-3 * * * *", "0 0 30 2 *", "@every 1s", "L W # ?", "0 0 L * *",
		"0 0 * * 5L", "0 0 * * MON#2", "0 0 15W * *", "CRON_TZ=Europe/Berlin 0 9 * * *", "1-60/0 * * * *", "*/61 * * * *"} {
		f.Add(seed)
	}
	starts := []time.Time{time.Unix(0, 0), utc("2026-03-08T06:59:59Z"), utc("2026-11-01T05:30:00Z"), utc("2099-12-31T23:59:59Z")}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr, "America/New_York")
		if err != nil {
			return
		}
		for _, st := range starts {
			if n := s.Next(st); !n.IsZero() && !n.After(st) {
				t.Fatalf("%q: Next(%s) = %s is not after its input", expr, st, n)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Parse("*/5 9-17 * * MON-FRI", "Europe/Berlin"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNext(b *testing.B) {
	s, _ := Parse("*/5 9-17 * * MON-FRI", "Europe/Berlin")
	t := time.Now()
	for i := 0; i < b.N; i++ {
		t = s.Next(t)
	}
}
