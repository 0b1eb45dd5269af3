package karajoconf

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/internal/cronspec"
)

func TestParseScheduleGivesCronExpressions(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"minutely", []string{"0 * * * * *"}},
		{"Minutely", []string{"0 * * * * *"}},
		{"hourly", []string{"0 0 * * * *"}},
		{"hourly@", []string{"0 0 * * * *"}},
		{"hourly@5", []string{"0 5 * * * *"}},
		{"hourly@45,0,15,30,15", []string{"0 0,15,30,45 * * * *"}},
		{"daily", []string{"0 0 0 * * *"}},
		{"daily@08:15,17:45", []string{"0 15 8 * * *", "0 45 17 * * *"}},
		{"daily@17:45, 8:15 ,17:45", []string{"0 15 8 * * *", "0 45 17 * * *"}},
		{"daily@6", []string{"0 0 6 * * *"}},
		{"daily@23:59:00", []string{"0 59 23 * * *"}},
		{"weekly", []string{"0 0 0 * * Sun"}},
		{"weekly@@10:00", []string{"0 0 10 * * Sun"}},
		{"weekly@Friday,mon,SUN@09:30,18:00", []string{"0 30 9 * * Sun,Mon,Fri", "0 0 18 * * Sun,Mon,Fri"}},
		{"WEEKLY@Sat, Wednesday", []string{"0 0 0 * * Wed,Sat"}},
		{"monthly", []string{"0 0 0 1 * *"}},
		{"monthly@15,1@18:00", []string{"0 0 18 1,15 * *"}},
		{"monthly@31@00:30,12:00", []string{"0 30 0 31 * *", "0 0 12 31 * *"}},
	}
	for _, c := range cases {
		got, err := ParseSchedule(c.in)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseSchedule(%q) = %q, want %q", c.in, got, c.want)
		}
		// Every expression is one the scheduler's cron parser takes.
		for _, expr := range got {
			if _, err := cronspec.Parse(expr, "UTC"); err != nil {
				t.Errorf("ParseSchedule(%q): %q is refused by cronspec: %v", c.in, expr, err)
			}
		}
	}
}

// The cron expressions fire when karajo's scheduler does: a few fixed
// instants computed by hand from karajo's documented grammar.
func TestParseScheduleFiresAtKarajosTimes(t *testing.T) {
	from := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC) // a Monday
	cases := []struct {
		in   string
		next time.Time
	}{
		{"hourly@5,35", time.Date(2026, 12, 7, 9, 5, 0, 0, time.UTC)},
		{"daily@08:15,17:45", time.Date(2026, 12, 7, 17, 45, 0, 0, time.UTC)},
		{"weekly@Sun,Wed@06:00", time.Date(2026, 12, 9, 6, 0, 0, 0, time.UTC)},
		{"monthly@1@00:00", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		exprs, err := ParseSchedule(c.in)
		if err != nil {
			t.Fatal(err)
		}
		var first time.Time
		for _, expr := range exprs {
			spec, err := cronspec.Parse(expr, "UTC")
			if err != nil {
				t.Fatal(err)
			}
			if n := spec.Next(from); first.IsZero() || n.Before(first) {
				first = n
			}
		}
		if !first.Equal(c.next) {
			t.Errorf("%s: next after %s = %s, want %s", c.in, from, first, c.next)
		}
	}
}

func TestParseScheduleRefusesWhatKarajoWouldMisread(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "empty schedule"},
		{"yearly", `unknown schedule kind "yearly"`},
		{"daily @ 08:00", `unknown schedule kind "daily "`},
		{"minutely@5", "minutely takes at most 0 '@' part(s), got 1 (karajo ignores the rest)"},
		{"hourly@5@10", "hourly takes at most 1"},
		{"monthly@1@10:00@x", "monthly takes at most 2"},
		{"hourly@60", `minute "60": want a number from 0 to 59`},
		{"hourly@5,,10", `minute "": want a number from 0 to 59`},
		{"hourly@0, 30", `minute " 30": want a number from 0 to 59 without blanks (karajo drops such an item)`},
		{"hourly@x", `minute "x": want a number`},
		{"hourly@-1", `minute "-1": want a number`},
		{"daily@24:00", `time "24:00": want HH:MM from 00:00 to 23:59`},
		{"daily@08:60", `time "08:60": want HH:MM`},
		{"daily@08:00,", `empty time in "08:00,"`},
		{"daily@8h", `time "8h": want HH:MM`},
		{"daily@08:00:30", `time "08:00:30": seconds are not part of a schedule (karajo drops them); write 08:00`},
		{"daily@1:2:3:4", `time "1:2:3:4": want HH:MM`},
		{"weekly@Sundya@10:00", `day "sundya": want Sunday ... Saturday or Sun ... Sat`},
		{"weekly@su", `day "su"`},
		{"weekly@Mon,@10:00", `day ""`},
		{"monthly@0", `day of month "0": want a number from 1 to 31`},
		{"monthly@32@10:00", `day of month "32"`},
		{"monthly@1@25:00", `time "25:00"`},
	}
	for _, c := range cases {
		got, err := ParseSchedule(c.in)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("ParseSchedule(%q) = %q, %v; want an error starting with %q", c.in, got, err, c.want)
		}
	}
}

func TestNormalizeIDAsKarajo(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Test job", "test_job"},
		{"test_job", "test_job"},
		{"Deploy-Site", "deploy-site"},
		{"Deploy ", "deploy_"},
		{" deploy", "_deploy"},
		{"a.b/c:d", "a_b_c_d"},
		{"1st job", "_1st_job"},
		{"-x", "_-x"},
		{"_x", "_x"},
		{"Café", "caf__"}, // é is two bytes in UTF-8
		{"", "_"},
		{"Test interval 1m", "test_interval_1m"},
	}
	for _, c := range cases {
		if got := NormalizeID(c.in); got != c.want {
			t.Errorf("NormalizeID(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Whatever ParseSchedule accepts gives expressions the scheduler's cron
// parser takes.
func FuzzParseSchedule(f *testing.F) {
	for _, seed := range []string{"minutely", "hourly@5,35", "daily@8:15,17:45", "weekly@sun,Fri@00:00", "monthly@31@23:59", "weekly@@", "daily@24:00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exprs, err := ParseSchedule(s)
		if err != nil {
			return
		}
		if len(exprs) == 0 {
			t.Fatalf("%q: no expression and no error", s)
		}
		for _, expr := range exprs {
			if _, err := cronspec.Parse(expr, "UTC"); err != nil {
				t.Fatalf("%q gives %q, refused by cronspec: %v", s, expr, err)
			}
		}
	})
}
