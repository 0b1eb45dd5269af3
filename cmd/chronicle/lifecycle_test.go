package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCronFiresRepeatedlyAndDeleteStopsIt(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	tn.registerApp("athena", 1)
	r := tn.must(200, "POST", "/goscheduler/schedules", map[string]any{
		"appId": "athena", "payload": "tick", "cronExpression": "* * * * * *", // every second (seconds field first)
		"callback": map[string]any{"type": "http", "details": map[string]any{"url": rc.url("/cron"), "method": "POST"}},
	})
	if r.Status.StatusCode != 201 {
		t.Fatalf("create cron: %s", r.raw)
	}
	cron := decodeData[struct{ Schedule schedule }](t, r).Schedule
	if cron.CronExpression != "* * * * * *" || cron.Status != "SCHEDULED" || cron.NextRunTime == 0 {
		t.Fatalf("cron as created: %+v", cron)
	}
	waitFor(t, 10*time.Second, "3 cron callbacks", func() bool { return len(rc.hitsFor("/cron")) >= 3 })

	var past []schedule
	waitFor(t, 5*time.Second, "3 past runs recorded", func() bool {
		r = tn.must(200, "GET", "/goscheduler/schedules/"+cron.ScheduleID+"/runs?when=past&size=3", nil)
		past = decodeData[struct{ Schedules []schedule }](t, r).Schedules
		return len(past) == 3 && past[2].Status == "SUCCESS"
	})
	for i, run := range past {
		if run.ParentScheduleID != cron.ScheduleID || run.ScheduleID == cron.ScheduleID || run.Payload != "tick" {
			t.Fatalf("run %d: %+v", i, run)
		}
		if i > 0 && run.ScheduleTime >= past[i-1].ScheduleTime {
			t.Fatalf("past runs must be newest first: %+v", past)
		}
	}
	// Every call carried its run's id, and distinct occurrences have distinct ids.
	ids := map[string]bool{}
	for _, h := range rc.hitsFor("/cron") {
		ids[h.RunID] = true
	}
	if len(ids) != len(rc.hitsFor("/cron")) {
		t.Fatalf("occurrences share run ids: %d ids for %d calls", len(ids), len(rc.hitsFor("/cron")))
	}
	if !ids[past[0].ScheduleID] && !ids[past[1].ScheduleID] {
		t.Fatalf("run ids in the API are not the ones sent: %v vs %s", ids, past[0].ScheduleID)
	}
	// A run is addressable by its id.
	if got := tn.getSchedule(past[1].ScheduleID); got.ParentScheduleID != cron.ScheduleID {
		t.Fatalf("run by id: %+v", got)
	}
	// Token pagination continues where the page ended.
	r = tn.must(200, "GET", "/goscheduler/schedules/"+cron.ScheduleID+"/runs?when=past&size=1", nil)
	tok := decodeData[struct{ ContinuationToken string }](t, r).ContinuationToken
	r = tn.must(200, "GET", "/goscheduler/schedules/"+cron.ScheduleID+"/runs?when=past&size=1&continuationToken="+tok, nil)
	next := decodeData[struct{ Schedules []schedule }](t, r).Schedules
	first := decodeData[struct{ Schedules []schedule }](t, tn.must(200, "GET", "/goscheduler/schedules/"+cron.ScheduleID+"/runs?when=past&size=1", nil)).Schedules
	if tok == "" || len(next) != 1 || next[0].ScheduleTime >= first[0].ScheduleTime {
		t.Fatalf("second page: token %q, %+v after %+v", tok, next, first)
	}

	r = tn.must(200, "GET", "/goscheduler/schedules/"+cron.ScheduleID+"/runs?when=future&size=3", nil)
	future := decodeData[struct{ Schedules []schedule }](t, r).Schedules
	if len(future) != 3 || future[0].Status != "SCHEDULED" || future[1].ScheduleTime != future[0].ScheduleTime+1 {
		t.Fatalf("future runs: %s", r.raw)
	}
	r = tn.must(200, "GET", "/goscheduler/crons/schedules?app_id=athena&status=SCHEDULED", nil)
	if *r.Status.TotalCount != 1 || !strings.Contains(string(r.Data), cron.ScheduleID) {
		t.Fatalf("crons list: %s", r.raw)
	}

	r = tn.must(200, "DELETE", "/goscheduler/schedules/"+cron.ScheduleID, nil)
	if !strings.Contains(string(r.Data), `"status":"DELETED"`) {
		t.Fatalf("delete answer: %s", r.raw)
	}
	// Proof that it stopped, without waiting to see nothing happen: a
	// schedule of the same app (one partition, one timer, fired in due
	// order) due two occurrences later has fired, and no occurrence was
	// recorded as fired after the delete. A call already in flight may
	// land after the delete; it must be of an occurrence fired before it.
	deleted := tn.lastEventSeq(cron.ScheduleID, "ScheduleDeleted")
	sentinel := tn.createOnce("athena", time.Now().Unix()+2, rc.url("/sentinel"), "POST", "")
	tn.waitStatus(sentinel.ScheduleID, "SUCCESS", 10*time.Second)
	if runs := tn.firedAfter(cron.ScheduleID, deleted); len(runs) > 0 {
		t.Fatalf("deleted cron kept firing: %v", runs)
	}
	firedBefore := map[string]bool{}
	for _, id := range tn.firedAfter(cron.ScheduleID, 0) {
		firedBefore[id] = true
	}
	for _, h := range rc.hitsFor("/cron") {
		if !firedBefore[h.RunID] {
			t.Fatalf("a call of run %s that was never recorded as fired", h.RunID)
		}
	}
	code, r := tn.call("GET", "/goscheduler/schedules/"+cron.ScheduleID+"/runs?when=future", nil)
	if code != 404 {
		t.Fatalf("future runs of a deleted cron: %d %s", code, r.raw)
	}
	code, r = tn.call("DELETE", "/goscheduler/schedules/"+cron.ScheduleID, nil)
	if code != 404 || r.Status.StatusMessage != "not found" {
		t.Fatalf("second delete: %d %s", code, r.raw)
	}
	code, r = tn.call("GET", "/goscheduler/crons/schedules?app_id=athena&status=SCHEDULED", nil)
	if code != 404 || r.Status.StatusMessage != "No cron schedules found" {
		t.Fatalf("crons after delete: %d %s", code, r.raw)
	}
	code, r = tn.call("GET", "/goscheduler/crons/schedules?status=BOGUS", nil)
	if code != 400 || !strings.Contains(r.Status.StatusMessage, "invalid status") {
		t.Fatalf("bad status: %d %s", code, r.raw)
	}
}

func TestDeactivatedAppNeitherCreatesNorFires(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	tn.registerApp("quiet", 1)
	at := time.Now().Unix() + 2
	s := tn.createOnce("quiet", at, rc.url("/q"), "GET", "")
	tn.must(200, "POST", "/goscheduler/apps/quiet/deactivate", nil)
	code, r := tn.call("POST", "/goscheduler/schedules", validCreate("quiet", at+60, rc.url("/q2")))
	if code != 409 || !strings.Contains(r.Status.StatusMessage, "deactivated") {
		t.Fatalf("create on a deactivated app: %d %s", code, r.raw)
	}
	// Proof that nothing fired, without waiting to see nothing happen: a
	// schedule of another app due a second later has fired, and the
	// deactivated app's run has no RunFired.
	tn.registerApp("witness", 1)
	witness := tn.createOnce("witness", at+1, rc.url("/w"), "GET", "")
	tn.waitStatus(witness.ScheduleID, "SUCCESS", 10*time.Second)
	if runs := tn.firedAfter(s.ScheduleID, 0); len(runs) != 0 {
		t.Fatalf("a deactivated app fired %v", runs)
	}
	if n := len(rc.hitsFor("/q")); n != 0 {
		t.Fatalf("a deactivated app fired %d callbacks", n)
	}
	if got := tn.getSchedule(s.ScheduleID); got.Status != "SCHEDULED" {
		t.Fatalf("schedule of a deactivated app: %+v", got)
	}
	tn.must(200, "POST", "/goscheduler/apps/quiet/activate", nil)
	tn.waitStatus(s.ScheduleID, "SUCCESS", 5*time.Second) // overdue, within the misfire threshold
	if n := len(rc.hitsFor("/q")); n != 1 {
		t.Fatalf("after activation: %d calls", n)
	}
}

func TestAppSchedulesPaginationAndBulkActions(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	tn.registerApp("revamp", 3)
	base := time.Now().Unix() + 3600
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, tn.createOnce("revamp", base+int64(i), rc.url("/p"), "GET", "").ScheduleID)
	}
	q := func(extra string) string {
		return fmt.Sprintf("/goscheduler/apps/revamp/schedules?start_time=%s&end_time=%s%s",
			urlTime(time.Unix(base, 0)), urlTime(time.Unix(base+100, 0)), extra)
	}
	var got []string
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		r := tn.must(200, "GET", q("&size=3&continuationToken="+tok), nil)
		page := decodeData[struct {
			Schedules             []schedule
			ContinuationToken     string
			ContinuationStartTime int64
		}](t, r)
		for _, s := range page.Schedules {
			got = append(got, s.ScheduleID)
		}
		if *r.Status.TotalCount != len(page.Schedules) || (len(page.Schedules) > 0 && page.ContinuationStartTime != page.Schedules[len(page.Schedules)-1].ScheduleTime) {
			t.Fatalf("page status: %s", r.raw)
		}
		if page.ContinuationToken == "" {
			break
		}
		tok = page.ContinuationToken
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("paginated schedules out of time order or incomplete:\n got %v\nwant %v", got, ids)
	}
	r := tn.must(200, "GET", q("&status=SUCCESS"), nil)
	if *r.Status.TotalCount != 0 {
		t.Fatalf("status filter: %s", r.raw)
	}
	for _, c := range []struct {
		method, path, msg string
		http              int
	}{
		{"GET", q("&size=-1"), "size must not be negative", 400},
		{"GET", q("&size=abc"), "size must be an integer", 400},
		{"GET", q("&size=5000"), "size must be at most", 400},
		{"GET", q("&continuationToken=zzz"), "invalid continuationToken", 400},
		{"GET", "/goscheduler/apps/revamp/schedules?start_time=2023-01-01%2000:00:00&end_time=2023-03-01%2000:00:00", "Time range of more than 30 days is not allowed", 400},
		{"GET", "/goscheduler/apps/revamp/schedules?start_time=2023-02-01%2000:00:00&end_time=2023-01-01%2000:00:00", "end_time must not be before start_time", 400},
		{"GET", "/goscheduler/apps/revamp/schedules?start_time=yesterday&end_time=2023-01-01%2000:00:00", "is not a time", 400},
		{"GET", "/goscheduler/apps/revamp/schedules", "start_time and end_time are required", 400},
		{"GET", "/goscheduler/apps/ghost/schedules?start_time=2023-01-01T00:00:00Z&end_time=2023-01-02T00:00:00Z", "unregistered App", 400},
		{"POST", "/goscheduler/apps/revamp/bulk-action/explode?start_time=2023-01-01%2000:00:00&end_time=2023-01-02%2000:00:00", "invalid action type", 400},
		{"POST", "/goscheduler/apps/revamp/bulk-action/delete?status=NOPE&start_time=2023-01-01%2000:00:00&end_time=2023-01-02%2000:00:00", "invalid status", 400},
		{"POST", "/goscheduler/apps/ghost/bulk-action/delete?start_time=2023-01-01%2000:00:00&end_time=2023-01-02%2000:00:00", "unregistered App", 400},
	} {
		code, r := tn.call(c.method, c.path, nil)
		if code != c.http || !strings.Contains(r.Status.StatusMessage, c.msg) {
			t.Errorf("%s %s: %d %s; want %d %q", c.method, c.path, code, r.raw, c.http, c.msg)
		}
	}

	// Bulk delete of the first three (by time range) leaves the rest.
	del := fmt.Sprintf("/goscheduler/apps/revamp/bulk-action/delete?status=SCHEDULED&start_time=%s&end_time=%s",
		urlTime(time.Unix(base, 0)), urlTime(time.Unix(base+2, 0)))
	r = tn.must(200, "POST", del, nil)
	if *r.Status.TotalCount != 3 || !strings.HasPrefix(r.Remarks, "delete initiated successfully for app: revamp") {
		t.Fatalf("bulk delete: %s", r.raw)
	}
	for i, id := range ids {
		want := "SCHEDULED"
		if i < 3 {
			want = "DELETED"
		}
		if s := tn.getSchedule(id); s.Status != want {
			t.Fatalf("schedule %d after bulk delete: %s, want %s", i, s.Status, want)
		}
	}
	r = tn.must(200, "POST", del, nil)
	if *r.Status.TotalCount != 0 {
		t.Fatalf("second bulk delete touched %d", *r.Status.TotalCount)
	}
}

func TestReconcileReRunsFailures(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	rc.answer("/flaky", 500)
	tn.registerApp("revamp", 1)
	at := time.Now().Unix() + 1
	s := tn.createOnce("revamp", at, rc.url("/flaky"), "GET", "")
	tn.waitStatus(s.ScheduleID, "FAILURE", 10*time.Second)
	rc.answer("/flaky", 200)
	rec := fmt.Sprintf("/goscheduler/apps/revamp/bulk-action/reconcile?status=FAILURE&start_time=%s&end_time=%s",
		urlTime(time.Unix(at-10, 0)), urlTime(time.Unix(at+10, 0)))
	r := tn.must(200, "POST", rec, nil)
	if *r.Status.TotalCount != 1 || !strings.HasPrefix(r.Remarks, "reconcile initiated successfully for app: revamp") {
		t.Fatalf("reconcile: %s", r.raw)
	}
	tn.waitStatus(s.ScheduleID, "SUCCESS", 10*time.Second)
	hits := rc.hitsFor("/flaky")
	last := hits[len(hits)-1]
	if last.RunID != s.ScheduleID+".r1" {
		t.Fatalf("reconcile run id %q, want %s.r1", last.RunID, s.ScheduleID)
	}
}
