package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A cron with overlap buffer_one whose receiver takes longer than its
// interval never has two calls going at once: the occurrence due meanwhile
// waits and fires when the call ends, the occurrences after it that came
// due meanwhile are passed over (counted in its RunFired), and a trigger
// then is refused (409); a trigger that waits makes an occurrence coming
// due behind it a MISS saying why. Its runs are numbered as they fire.
// Cancel cuts the call going on short: its outcome is CANCELED.
func TestExclusiveCronsRunOneAtATime(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	tn.registerApp("solo", 1)
	rc := newReceiver(t)
	rc.answerAfter("/slow", 2500*time.Millisecond)
	c := tn.lifeCall(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "solo", "cronExpression": "@every 1s",
		"overlap": "buffer_one", "counted": true, "retry": map[string]any{"maxAttempts": 1, "timeoutMs": 10000},
		"callback": map[string]any{"type": "http", "details": map[string]any{"url": rc.url("/slow"), "method": "POST"}}})

	waitFor(t, 20*time.Second, "three calls", func() bool { return len(rc.hitsFor("/slow")) >= 3 })
	hits := rc.hitsFor("/slow")
	for i := 1; i < len(hits); i++ {
		if gap := hits[i].At.Sub(hits[i-1].At); gap < 2400*time.Millisecond {
			t.Fatalf("calls %d and %d started %s apart: the second began while the first (2.5 s) went on", i, i+1, gap)
		}
		if gap := hits[i].At.Sub(hits[i-1].At); gap > 4*time.Second {
			t.Fatalf("calls %d and %d started %s apart: the waiting run did not fire when the call ended", i, i+1, gap)
		}
	}
	// While a call goes on, a trigger waits behind it (unless the next
	// occurrence already does); one more is refused.
	waitFor(t, 10*time.Second, "a call just begun", func() bool {
		h := rc.hitsFor("/slow")
		return time.Since(h[len(h)-1].At) < time.Second
	})
	codes := []int{}
	var r resp
	for range 2 {
		var code int
		code, r = tn.call("POST", "/goscheduler/schedules/"+c.ScheduleID+"/trigger", nil)
		codes = append(codes, code)
	}
	if codes[1] != 409 || !strings.Contains(string(r.raw), "one is waiting") {
		t.Fatalf("two triggers while a run goes on: HTTP %v, the last %s; want the second refused with 409", codes, r.raw)
	}
	var passedOver, counters int
	numbers := map[int]bool{}
	for _, run := range decodeData[struct{ Schedules []lifeSchedule }](t,
		tn.must(200, "GET", "/goscheduler/schedules/"+c.ScheduleID+"/runs?size=100", nil)).Schedules {
		if run.Counter > 0 {
			numbers[run.Counter] = true
		}
	}
	for _, ev := range tn.scheduleHistory(c.ScheduleID) {
		if ev.Type == "RunFired" {
			counters++
			var d struct{ Skipped int }
			_ = json.Unmarshal(ev.Data, &d)
			passedOver += d.Skipped
		}
	}
	if passedOver == 0 {
		t.Fatal("no occurrence was passed over, though one came due every second of a 2.5 s call")
	}
	s := tn.lifeCall(200, "GET", "/goscheduler/schedules/"+c.ScheduleID, nil)
	if s.Runs != counters || s.Runs < 3 {
		t.Fatalf("schedule counted %d runs, its history fired %d", s.Runs, counters)
	}
	for n := 1; n <= 3; n++ {
		if !numbers[n] {
			t.Fatalf("no run numbered %d among %v", n, numbers)
		}
	}

	// Cancel what is running now: CANCELED, promptly.
	waitFor(t, 10*time.Second, "a call going on", func() bool {
		h := rc.hitsFor("/slow")
		return time.Since(h[len(h)-1].At) < 2*time.Second
	})
	r = tn.must(200, "POST", "/goscheduler/schedules/"+c.ScheduleID+"/cancel", nil)
	ids := decodeData[struct{ RunIDs []string }](t, r).RunIDs
	if len(ids) != 1 {
		t.Fatalf("cancel answered %s", r.raw)
	}
	if run := tn.lifeCall(200, "GET", "/goscheduler/schedules/"+ids[0], nil); run.Status != "CANCELED" {
		t.Fatalf("canceled run is %s (%s)", run.Status, run.ErrorMessage)
	}
	tn.must(200, "POST", "/goscheduler/schedules/"+c.ScheduleID+"/pause", nil)
	waitFor(t, 10*time.Second, "nothing running", func() bool {
		code, _ := tn.call("POST", "/goscheduler/schedules/"+c.ScheduleID+"/cancel", nil)
		return code == 409
	})
}

// @manual: a cron with no occurrences, run by triggers alone.
func TestManualCronsRunOnlyWhenTriggered(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	tn.registerApp("hooks", 1)
	rc := newReceiver(t)
	c := tn.lifeCall(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "hooks", "cronExpression": "@manual",
		"callback": map[string]any{"type": "http", "details": map[string]any{"url": rc.url("/hook"), "method": "POST"}}})
	if c.NextRunTime != 0 || c.Status != "SCHEDULED" {
		t.Fatalf("a manual cron: %+v", c)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := len(rc.hitsFor("/hook")); n != 0 {
		t.Fatalf("a manual cron fired %d times on its own", n)
	}
	tn.must(200, "POST", "/goscheduler/schedules/"+c.ScheduleID+"/trigger", nil)
	waitFor(t, 10*time.Second, "the triggered call", func() bool { return len(rc.hitsFor("/hook")) == 1 })
	if s := tn.lifeCall(200, "GET", "/goscheduler/schedules/"+c.ScheduleID, nil); s.Status != "SCHEDULED" {
		t.Fatalf("after its run the manual cron is %s", s.Status)
	}
}

// A cron made exclusive while one of its runs goes on: the occurrence due
// meanwhile waits for that run (which was not exclusive itself) and then
// fires; the cron goes on.
func TestACronMadeExclusiveWhileRunningGoesOn(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	tn.registerApp("late", 1)
	rc := newReceiver(t)
	rc.answerAfter("/slow", 2500*time.Millisecond)
	c := tn.lifeCall(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "late", "cronExpression": "@every 1s",
		"retry":    map[string]any{"maxAttempts": 1, "timeoutMs": 10000},
		"callback": map[string]any{"type": "http", "details": map[string]any{"url": rc.url("/slow"), "method": "POST"}}})
	waitFor(t, 10*time.Second, "a call going on", func() bool { return len(rc.hitsFor("/slow")) >= 1 })
	tn.lifeCall(200, "PATCH", "/goscheduler/schedules/"+c.ScheduleID, map[string]any{"overlap": "buffer_one"})
	patched := time.Now()
	waitFor(t, 20*time.Second, "three calls begun after the change, one at a time", func() bool {
		n := 0
		for _, h := range rc.hitsFor("/slow") {
			if h.At.After(patched.Add(3 * time.Second)) { // past the calls the change found going on
				n++
			}
		}
		return n >= 3
	})
}
