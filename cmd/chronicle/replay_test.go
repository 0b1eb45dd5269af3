package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/raftfsm"
	"github.com/cockroachdb/pebble/v2"
)

// mixedWorkload drives a node through thousands of creates, firings
// (successes and failures), deletes, crons and bulk actions, and returns
// the ids of one fired one-time schedule and of one deleted cron.
func mixedWorkload(t *testing.T, tn *testNode) (firedID, cronID string) {
	t.Helper()
	rc := newReceiver(t)
	rc.answer("/fail", 500)
	tn.registerApp("mix", 4)
	tn.registerApp("other", 1)
	now := time.Now().Unix()
	const n = 2400
	ids := make([]string, n)
	errs := make(chan string, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				at, path := now+3600+int64(i%50), "/later"
				if i%3 == 0 { // a third falls due within seconds
					at, path = time.Now().Unix()+2, "/ok"
					if i%9 == 0 {
						path = "/fail"
					}
				}
				// No t.Fatal off the test goroutine: collect and report.
				code, r := tn.call("POST", "/goscheduler/schedules", map[string]any{
					"appId": "mix", "payload": fmt.Sprint(i), "scheduleTime": at,
					"callback": map[string]any{"type": "http", "details": map[string]any{"url": rc.url(path), "method": "POST"}}})
				if code != 200 {
					errs <- fmt.Sprintf("create %d: HTTP %d %s", i, code, r.raw)
					continue
				}
				ids[i] = decodeData[struct{ Schedule schedule }](t, r).Schedule.ScheduleID
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	cron := tn.must(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "other", "payload": "c",
		"cronExpression": "* * * * * *",
		"callback":       map[string]any{"type": "http", "details": map[string]any{"url": rc.url("/cron"), "method": "GET"}}})
	cronID = decodeData[struct{ Schedule schedule }](t, cron).Schedule.ScheduleID
	for i := 1; i < n; i += 10 { // deletes of pending schedules
		if i%3 != 0 {
			tn.must(200, "DELETE", "/goscheduler/schedules/"+ids[i], nil)
		}
	}
	for i := 0; i < n; i += 3 {
		waitFor(t, 30*time.Second, "schedule "+fmt.Sprint(i)+" fired", func() bool {
			return tn.getSchedule(ids[i]).Status != "SCHEDULED"
		})
	}
	waitFor(t, 10*time.Second, "cron fired twice", func() bool { return len(rc.hitsFor("/cron")) >= 2 })
	tn.must(200, "DELETE", "/goscheduler/schedules/"+cronID, nil)
	// Bulk actions: reconcile the failures, delete a slice of the future.
	tn.must(200, "POST", fmt.Sprintf("/goscheduler/apps/mix/bulk-action/reconcile?status=FAILURE&start_time=%s&end_time=%s",
		urlTime(time.Unix(now, 0)), urlTime(time.Unix(now+600, 0))), nil)
	tn.must(200, "POST", fmt.Sprintf("/goscheduler/apps/mix/bulk-action/delete?status=SCHEDULED&start_time=%s&end_time=%s",
		urlTime(time.Unix(now+3600, 0)), urlTime(time.Unix(now+3610, 0))), nil)
	// The lifecycle's events: a cron updated, paused, resumed and
	// triggered, one expired at its end time, one stopped by its receiver,
	// a CronHubot job created paused and resumed.
	rc.answerWith("/stopme", 200, `{"code":400}`)
	life := tn.createCronWith("mix", "*/2 * * * * *", rc.url("/life"), map[string]any{"name": "life"})
	path := "/goscheduler/schedules/" + life.ScheduleID
	tn.lifeCall(200, "PATCH", path, map[string]any{"cronExpression": "*/3 * * * * *", "endTime": time.Now().Unix() + 3600})
	tn.lifeCall(200, "POST", path+"/pause", nil)
	tn.lifeCall(200, "POST", path+"/resume", nil)
	tn.must(200, "POST", path+"/trigger", nil)
	expiring := tn.createCronWith("mix", "* * * * * *", rc.url("/exp"), map[string]any{"endTime": time.Now().Unix() + 2})
	stopped := tn.createCronWith("mix", "* * * * * *", rc.url("/stopme"), map[string]any{"stopOnCallback": true})
	var job hubJob
	tn.hub(201, "POST", "/cronjobs", map[string]any{"name": "mix", "url": rc.url("/hub"), "expression": "*/2 * * * * *", "status": 9}, &job)
	tn.hub(200, "PATCH", fmt.Sprintf("/cronjobs/%d", job.ID), map[string]any{"status": 1}, nil)
	waitFor(t, 15*time.Second, "the cron expired and the other stopped", func() bool {
		return tn.getSchedule(expiring.ScheduleID).Status == "EXPIRED" && tn.getSchedule(stopped.ScheduleID).Status == "STOPPED"
	})
	tn.must(200, "POST", "/goscheduler/apps/other/deactivate", nil)
	return ids[3], cronID
}

func runReplay(t *testing.T, args ...string) (replayReport, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := replay(append(args, "--json"), &out, &errOut)
	var r replayReport
	if jerr := json.Unmarshal(out.Bytes(), &r); jerr != nil {
		t.Fatalf("replay output is not the JSON report (%v): %s / %s", jerr, out.String(), errOut.String())
	}
	return r, errOut.String(), err
}

func TestReplayOfAMixedWorkloadIsIdenticalAndDetectsCorruption(t *testing.T) {
	dir := t.TempDir()
	tn := startTestNode(t, testConfig(t, dir))
	firedID, cronID := mixedWorkload(t, tn)
	tn.stop()

	r, _, err := runReplay(t, "--data-dir", dir)
	if err != nil {
		t.Fatalf("replay of an untouched data dir: %v (%+v)", err, r)
	}
	if !r.Identical || r.Events < 4000 || r.EventsPerSec <= 0 || r.CPUSeconds <= 0 || len(r.Projections) < 10 {
		t.Fatalf("replay report: %+v", r)
	}
	for name, c := range r.Projections {
		if !c.Equal {
			t.Errorf("projection %s differs: %s vs %s", name, c.Live, c.Rebuilt)
		}
	}
	t.Logf("replayed %d events at %.0f events/s", r.Events, r.EventsPerSec)

	// --into keeps a complete rebuilt store: a node started on it serves
	// the same history.
	into := t.TempDir()
	if r, _, err := runReplay(t, "--data-dir", dir, "--into", into); err != nil || !r.Identical {
		t.Fatalf("replay --into: %v %+v", err, r)
	}
	var out bytes.Buffer
	if err := audit([]string{"--data-dir", into, firedID}, &out, &out); err != nil ||
		!strings.Contains(out.String(), "RunCompleted") {
		t.Fatalf("audit of the rebuilt store: %v\n%s", err, out.String())
	}

	// Corrupt one stored projection record, as a disk or a bug might.
	db, err := raftfsm.OpenState(dir, false, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("p/sch/" + cronID)
	v, closer, err := db.Get(key)
	if err != nil {
		t.Fatalf("stored cron record: %v", err)
	}
	// The status is stored as its bytes in either record form.
	bad := bytes.Replace(v, []byte("DELETED"), []byte("DELETEX"), 1)
	closer.Close()
	if bytes.Equal(bad, v) {
		t.Fatalf("cron record has no DELETED status to corrupt: %s", v)
	}
	if err := db.Set(key, bad, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	r, _, err = runReplay(t, "--data-dir", dir)
	if !errors.Is(err, errProjectionsDiffer) || r.Identical {
		t.Fatalf("replay after corruption: err=%v identical=%v", err, r.Identical)
	}
	for name, c := range r.Projections {
		if c.Equal == (name == "sch") {
			t.Errorf("projection %s: equal=%v after corrupting one schedule record", name, c.Equal)
		}
	}
	// The human report names the projection.
	out.Reset()
	if err := replay([]string{"--data-dir", dir}, &out, &out); !errors.Is(err, errProjectionsDiffer) ||
		!strings.Contains(out.String(), "differ from a replay of the event log: sch") {
		t.Fatalf("human report: %v\n%s", err, out.String())
	}
}

func TestAuditPrintsAScheduleHistory(t *testing.T) {
	dir := t.TempDir()
	tn := startTestNode(t, testConfig(t, dir))
	rc := newReceiver(t)
	tn.registerApp("aud", 1)
	s := tn.createOnce("aud", time.Now().Unix()+1, rc.url("/a"), "PUT", "x")
	tn.waitStatus(s.ScheduleID, "SUCCESS", 10*time.Second)
	tn.stop()

	var out bytes.Buffer
	if err := audit([]string{"--data-dir", dir, s.ScheduleID}, &out, &out); err != nil {
		t.Fatalf("audit: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "SEQ") {
		t.Fatalf("audit table: %q", lines)
	}
	for i, want := range []string{"ScheduleCreated", "RunFired", "RunCompleted"} {
		if !strings.Contains(lines[i+1], want) || !strings.Contains(lines[i+1], "node1") {
			t.Errorf("line %d: %q, want %s by node1", i+1, lines[i+1], want)
		}
	}
	if !strings.Contains(lines[1], "PUT "+rc.url("/a")) || !strings.Contains(lines[3], "SUCCESS, HTTP 200") {
		t.Errorf("details: %q", lines)
	}
	out.Reset()
	if err := audit([]string{"--data-dir", dir, "--app", "aud"}, &out, &out); err != nil ||
		!strings.Contains(out.String(), "AppRegistered") {
		t.Fatalf("app audit: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := audit([]string{"--data-dir", dir, "no-such-id"}, &out, &out); err == nil ||
		!strings.Contains(err.Error(), "no schedule no-such-id") {
		t.Fatalf("audit of an unknown id: %v", err)
	}
	if err := audit([]string{"--data-dir", t.TempDir(), s.ScheduleID}, &out, &out); err == nil ||
		!strings.Contains(err.Error(), "no state store") {
		t.Fatalf("audit of an empty dir: %v", err)
	}
}

// TestProgressLineSaysHowFar: long CLI work (replay, audit) prints, at
// most every two seconds off a terminal, how far through the log it is.
func TestProgressLineSaysHowFar(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, "reading history", 1000)
	p.update(100, 10) // too soon after the start: nothing yet
	if out.Len() != 0 {
		t.Fatalf("a line before two seconds passed: %q", out.String())
	}
	p.last = p.last.Add(-3 * time.Second)
	p.update(250, 5000)
	line := out.String()
	for _, want := range []string{"reading history [#######", " 25%", "seq 250/1000", "5000 events"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	p.done()
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("off a terminal, one line per update and nothing more: %q", out.String())
	}
}
