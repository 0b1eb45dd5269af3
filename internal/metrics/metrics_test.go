package metrics

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestAppLabelsAreBounded: past MaxApps apps, attempts of new apps are
// counted under OtherApp, and earlier apps keep their own series.
func TestAppLabelsAreBounded(t *testing.T) {
	m := New()
	for i := range MaxApps + 50 {
		m.Attempt(fmt.Sprintf("app-%d", i), 200, time.Millisecond)
	}
	m.Attempt("app-0", 503, time.Millisecond)
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	apps := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "chronicle_callback_attempts_total" {
			continue
		}
		for _, s := range f.Metric {
			for _, l := range s.Label {
				if l.GetName() == "app" {
					apps[l.GetValue()] += s.Counter.GetValue()
				}
			}
		}
	}
	if len(apps) != MaxApps+1 || apps[OtherApp] != 50 || apps["app-0"] != 2 {
		t.Fatalf("%d app label values, %v under %s, %v for app-0", len(apps), apps[OtherApp], OtherApp, apps["app-0"])
	}
}

// TestNilMetricsDoNothing: a layer built without metrics calls them all
// the same.
func TestNilMetricsDoNothing(t *testing.T) {
	var m *Metrics
	m.Attempt("a", 200, time.Second)
	m.Delivered("a", time.Second, time.Second, 2, false)
	m.RunCompleted("a", "SUCCESS")
	m.Command("goscheduler", "create", errors.New("refused"))
	m.Request("/x", "GET", 200, time.Second)
	m.Applied(1, 1, time.Second)
	m.Gauge("x", "x", func() float64 { return 1 })
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{0: "error", 200: "2xx", 204: "2xx", 302: "3xx", 404: "4xx", 503: "5xx", 600: "error"} {
		if got := StatusClass(status); got != want {
			t.Errorf("StatusClass(%d) = %s, want %s", status, got, want)
		}
	}
}

// TestGroupReadsOnceAScrape: a group's metrics come from one snapshot per
// scrape, each with its type.
func TestGroupReadsOnceAScrape(t *testing.T) {
	m := New()
	reads := 0
	Group(m, func() [2]float64 { reads++; return [2]float64{3, 7} },
		Reading[[2]float64]{Name: "test_a", Help: "a", Value: func(s [2]float64) float64 { return s[0] }},
		Reading[[2]float64]{Name: "test_b_total", Help: "b", Counter: true, Value: func(s [2]float64) float64 { return s[1] }},
	)
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range fams {
		switch f.GetName() {
		case "test_a":
			got["a"] = fmt.Sprint(f.GetType(), f.Metric[0].GetGauge().GetValue())
		case "test_b_total":
			got["b"] = fmt.Sprint(f.GetType(), f.Metric[0].GetCounter().GetValue())
		}
	}
	if reads != 1 || got["a"] != "GAUGE 3" || got["b"] != "COUNTER 7" {
		t.Fatalf("%d reads, %v", reads, got)
	}
}
