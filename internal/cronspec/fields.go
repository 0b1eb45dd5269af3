package cronspec

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// field describes one of the seven cron fields as this package accepts it.
// Every field is parsed here, independently of cronexpr, and re-emitted in
// a canonical form (plain numbers, ascending runs, no names, no leading
// zeros) that cronexpr is known to handle. This closes off cronexpr's
// parsing bugs: inverted ranges that make Next panic, "01" read as 0 in the
// month and day-of-week fields, and ranges ending in day-of-week 7.
type field struct {
	name     string
	min, max int
	names    map[string]int
	dom, dow bool // day-of-month (L, LW, nW) / day-of-week (nL, n#k)
}

var monthNames = map[string]int{
	"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
	"JANUARY": 1, "FEBRUARY": 2, "MARCH": 3, "APRIL": 4, "JUNE": 6, "JULY": 7,
	"AUGUST": 8, "SEPTEMBER": 9, "OCTOBER": 10, "NOVEMBER": 11, "DECEMBER": 12,
}

var dayNames = map[string]int{
	"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6,
	"SUNDAY": 0, "MONDAY": 1, "TUESDAY": 2, "WEDNESDAY": 3, "THURSDAY": 4, "FRIDAY": 5, "SATURDAY": 6,
}

// fields are in cronexpr's seven-field order.
var fields = [7]field{
	{name: "second", min: 0, max: 59},
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31, dom: true},
	{name: "month", min: 1, max: 12, names: monthNames},
	{name: "day-of-week", min: 0, max: 7, names: dayNames, dow: true}, // 7 is Sunday too
	{name: "year", min: 1970, max: 2099},
}

// valueSet is a set of field values, as offsets from the field's min.
// The widest field (year, 130 values) fits in three words.
type valueSet [3]uint64

func (v *valueSet) add(i int)      { v[i/64] |= 1 << (i % 64) }
func (v *valueSet) has(i int) bool { return v[i/64]&(1<<(i%64)) != 0 }
func (v *valueSet) count() (n int) {
	return bits.OnesCount64(v[0]) + bits.OnesCount64(v[1]) + bits.OnesCount64(v[2])
}
func (v *valueSet) only(i int) bool  { return v.count() == 1 && v.has(i) }
func (v *valueSet) del(i int)        { v[i/64] &^= 1 << (i % 64) }
func (v *valueSet) union(o valueSet) { v[0], v[1], v[2] = v[0]|o[0], v[1]|o[1], v[2]|o[2] }
func (f field) width() int           { return f.max - f.min + 1 }

// canonical parses one field and returns it in cronexpr-safe form, and
// whether it is exactly the value 0 (used to tell whether seconds are
// used).
func (f field) canonical(text string) (out string, zeroOnly bool, err error) {
	var set valueSet
	var specials []string // L, LW, nW, nL, n#k in canonical form
	wildcard := false
	for _, item := range strings.Split(text, ",") {
		if item == "" {
			return "", false, fmt.Errorf("empty list item in %s field %q", f.name, text)
		}
		upper := strings.ToUpper(item)
		if upper == "*" || upper == "?" {
			wildcard = true
			continue
		}
		if sp, ok, err := f.special(upper, item); ok || err != nil {
			if err != nil {
				return "", false, err
			}
			specials = append(specials, sp)
			continue
		}
		s, err := f.item(item)
		if err != nil {
			return "", false, err
		}
		set.union(s)
	}
	if wildcard {
		// `*` (or `?`) anywhere in the list covers every value, including
		// whatever L/W/# items name; cronexpr treats it as unrestricted.
		return "*", false, nil
	}
	if f.dow && set.has(7) { // 7 is another name for Sunday
		set.del(7)
		set.add(0)
	}
	var parts []string
	for i := 0; i < f.width(); {
		if !set.has(i) {
			i++
			continue
		}
		j := i
		for j+1 < f.width() && set.has(j+1) {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(f.min+i))
		} else {
			parts = append(parts, strconv.Itoa(f.min+i)+"-"+strconv.Itoa(f.min+j))
		}
		i = j + 1
	}
	parts = append(parts, specials...)
	return strings.Join(parts, ","), f.min == 0 && len(specials) == 0 && set.only(0), nil
}

// item parses `v`, `a-b`, `*/s`, `a/s` or `a-b/s`.
func (f field) item(item string) (valueSet, error) {
	var set valueSet
	rng, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || !isDigits(stepText) {
			return set, fmt.Errorf("step %q in %s field is not a number", stepText, f.name)
		}
		if n < 1 {
			return set, fmt.Errorf("step %d in %s field must be at least 1", n, f.name)
		}
		if n > f.width() {
			return set, fmt.Errorf("step %d in %s field is out of range 1-%d", n, f.name, f.width())
		}
		step = n
	}
	var lo, hi int
	switch loText, hiText, isRange := strings.Cut(rng, "-"); {
	case rng == "*" || rng == "?":
		if !hasStep {
			return set, fmt.Errorf("%q in %s field is not valid", item, f.name) // unreachable: the caller handles it
		}
		lo, hi = f.min, f.max
		if f.dow {
			hi = 6 // */2 means 0,2,4,6, not 0,2,4,6 and 7=Sunday again
		}
	case isRange:
		var err error
		if lo, err = f.value(loText); err != nil {
			return set, err
		}
		if hi, err = f.value(hiText); err != nil {
			return set, err
		}
		if lo > hi {
			return set, fmt.Errorf("range %s in %s field is inverted", rng, f.name)
		}
	default:
		var err error
		if lo, err = f.value(rng); err != nil {
			return set, err
		}
		hi = lo
		if hasStep { // `a/s` means a, a+s, ... up to the field's maximum
			hi = f.max
			if f.dow && lo <= 6 {
				hi = 6 // as for */s: 7 would be Sunday a second time
			}
		}
	}
	for v := lo; v <= hi; v += step {
		set.add(v - f.min)
	}
	return set, nil
}

// value parses a number or a name and checks it is in the field's range.
func (f field) value(text string) (int, error) {
	if n, ok := f.names[strings.ToUpper(text)]; ok {
		return n, nil
	}
	if text == "" {
		return 0, fmt.Errorf("missing value in %s field", f.name)
	}
	if !isDigits(text) {
		return 0, fmt.Errorf("%q is not a valid %s value", text, f.name)
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < f.min || n > f.max {
		return 0, fmt.Errorf("%s value %s is out of range %d-%d", f.name, text, f.min, f.max)
	}
	return n, nil
}

// special handles the day fields' L, LW, nW (day of month) and nL, n#k
// (day of week). ok is false if item is none of these.
func (f field) special(upper, item string) (out string, ok bool, err error) {
	switch {
	case f.dom && (upper == "L" || upper == "LW"):
		return upper, true, nil
	case f.dom && strings.HasSuffix(upper, "W") && len(upper) > 1:
		n, err := f.value(item[:len(item)-1])
		if err != nil {
			return "", true, err
		}
		return strconv.Itoa(n) + "W", true, nil
	case f.dow && strings.HasSuffix(upper, "L") && len(upper) > 1 && !strings.ContainsAny(upper, "-/#"):
		n, err := f.value(item[:len(item)-1])
		if err != nil {
			return "", true, err
		}
		return strconv.Itoa(n%7) + "L", true, nil
	case f.dow && strings.Contains(upper, "#"):
		dayText, weekText, _ := strings.Cut(item, "#")
		n, err := f.value(dayText)
		if err != nil {
			return "", true, err
		}
		k, err := strconv.Atoi(weekText)
		if err != nil || !isDigits(weekText) || k < 1 || k > 5 {
			return "", true, fmt.Errorf("week %q in day-of-week item %q must be 1-5", weekText, item)
		}
		return strconv.Itoa(n%7) + "#" + strconv.Itoa(k), true, nil
	}
	return "", false, nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
