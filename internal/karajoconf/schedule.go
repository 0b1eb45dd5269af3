package karajoconf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ParseSchedule reads karajo's calendar schedule (pakakeh.go's
// time.Scheduler) and gives the same times as 6-field cron expressions,
// seconds first, read in UTC:
//
//	minutely                         0 * * * * *
//	hourly[@M,...]                   0 M,... * * * *          (default minute 0)
//	daily[@HH:MM,...]                0 MM HH * * *            one per time (default 00:00)
//	weekly[@Day,...][@HH:MM,...]     0 MM HH * * Day,...      one per time (default Sunday, 00:00)
//	monthly[@D,...][@HH:MM,...]      0 MM HH D,... * *        one per time (default day 1, 00:00)
//
// As in karajo, the kind and the day names are case-insensitive, days are
// full names or their first three letters (Sunday or Sun), blanks around
// days and times are allowed (not around minutes and days of the month,
// which karajo drops), a time is H, HH,
// H:MM or HH:MM (karajo also reads HH:MM:SS and drops the seconds; we accept
// only :00), and an empty part ("hourly@", "weekly@@10:00") takes the
// default. Lists are sorted and repeated items dropped. A day of the month
// that a month lacks (31 in April) is skipped in that month, in karajo and in
// cron alike.
//
// Where karajo reads something silently (an unknown day, a minute out of
// range, an empty item, text after the parts a kind has), ParseSchedule
// refuses it: karajo skips such items or reads them as 0 or as the default,
// so the schedule would not be the one written. The empty schedule is
// refused too (karajo reads it as minutely, but in a config file an empty
// `schedule =` means no schedule, which the loader handles).
func ParseSchedule(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("empty schedule")
	}
	parts := strings.Split(strings.ToLower(s), "@")
	kind, args := parts[0], parts[1:]
	maxArgs := map[string]int{"minutely": 0, "hourly": 1, "daily": 1, "weekly": 2, "monthly": 2}
	n, ok := maxArgs[kind]
	if !ok {
		return nil, fmt.Errorf("unknown schedule kind %q (want minutely, hourly, daily, weekly or monthly)", parts[0])
	}
	if len(args) > n {
		return nil, fmt.Errorf("%s takes at most %d '@' part(s), got %d (karajo ignores the rest)", kind, n, len(args))
	}
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch kind {
	case "minutely":
		return []string{"0 * * * * *"}, nil
	case "hourly":
		mins, err := numberList(arg(0), "minute", 0, 59, 0)
		if err != nil {
			return nil, err
		}
		return []string{"0 " + joinInts(mins) + " * * * *"}, nil
	case "daily":
		return perTime(arg(0), "* * *")
	case "weekly":
		days, err := dayList(arg(0))
		if err != nil {
			return nil, err
		}
		return perTime(arg(1), "* * "+strings.Join(days, ","))
	default: // monthly
		doms, err := numberList(arg(0), "day of month", 1, 31, 1)
		if err != nil {
			return nil, err
		}
		return perTime(arg(1), joinInts(doms)+" * *")
	}
}

// perTime gives one expression per time of day in list (00:00 when list is
// empty), with rest as the day-of-month, month and day-of-week fields.
func perTime(list, rest string) ([]string, error) {
	times := []int{0} // minutes since midnight
	if list != "" {
		times = nil
		for _, item := range splitItems(list) {
			t, err := timeOfDay(item, list)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(times, t) {
				times = append(times, t)
			}
		}
		slices.Sort(times)
	}
	out := make([]string, len(times))
	for i, t := range times {
		out[i] = fmt.Sprintf("0 %d %d %s", t%60, t/60, rest)
	}
	return out, nil
}

// timeOfDay reads H, HH, H:MM, HH:MM or HH:MM:00 as minutes since midnight.
func timeOfDay(item, list string) (int, error) {
	if item == "" {
		return 0, fmt.Errorf("empty time in %q", list)
	}
	fs := strings.Split(item, ":")
	if len(fs) > 3 {
		return 0, fmt.Errorf("time %q: want HH:MM", item)
	}
	h, okH := smallInt(fs[0], 0, 23)
	m, okM := 0, true
	if len(fs) > 1 {
		m, okM = smallInt(fs[1], 0, 59)
	}
	if !okH || !okM {
		return 0, fmt.Errorf("time %q: want HH:MM from 00:00 to 23:59", item)
	}
	if len(fs) == 3 {
		if sec, ok := smallInt(fs[2], 0, 59); !ok || sec != 0 {
			return 0, fmt.Errorf("time %q: seconds are not part of a schedule (karajo drops them); write %02d:%02d", item, h, m)
		}
	}
	return h*60 + m, nil
}

// numberList reads "a,b,..." of numbers in [lo, hi]; the empty list is def.
func numberList(list, what string, lo, hi, def int) ([]int, error) {
	if list == "" {
		return []int{def}, nil
	}
	var out []int
	for _, item := range strings.Split(list, ",") {
		v, ok := smallInt(item, lo, hi)
		if !ok {
			hint := ""
			if strings.TrimSpace(item) != item {
				hint = " without blanks (karajo drops such an item)"
			}
			return nil, fmt.Errorf("%s %q: want a number from %d to %d%s", what, item, lo, hi, hint)
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

var weekdays = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// dayList reads "Day,Day,..." into cron day names (Sun, Mon...) in week
// order; the empty list is Sunday.
func dayList(list string) ([]string, error) {
	if list == "" {
		return []string{"Sun"}, nil
	}
	var nums []int
	for _, item := range splitItems(list) {
		d := -1
		for i, name := range weekdays {
			if item == name || item == name[:3] {
				d = i
			}
		}
		if d < 0 {
			return nil, fmt.Errorf("day %q: want Sunday ... Saturday or Sun ... Sat", item)
		}
		if !slices.Contains(nums, d) {
			nums = append(nums, d)
		}
	}
	slices.Sort(nums)
	out := make([]string, len(nums))
	for i, d := range nums {
		out[i] = strings.ToUpper(weekdays[d][:1]) + weekdays[d][1:3]
	}
	return out, nil
}

// splitItems splits a comma list of days or times, trimming blanks around
// each item as karajo does. (Around minutes and days of the month karajo
// does not trim: it drops the item, and numberList refuses it.)
func splitItems(list string) []string {
	items := strings.Split(list, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items
}

// smallInt reads one or two decimal digits as a number in [lo, hi].
func smallInt(s string, lo, hi int) (int, bool) {
	if len(s) == 0 || len(s) > 2 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, _ := strconv.Atoi(s)
	return v, v >= lo && v <= hi
}

func joinInts(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}
