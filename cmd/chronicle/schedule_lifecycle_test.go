package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// lifeSchedule is a schedule as the native API shows it, with
// Chronicle's additions.
type lifeSchedule struct {
	ScheduleID     string            `json:"scheduleId"`
	ParentID       string            `json:"parentScheduleId"`
	Status         string            `json:"status"`
	CronExpression string            `json:"cronExpression"`
	NextRunTime    int64             `json:"nextRunTime"`
	ScheduleTime   int64             `json:"scheduleTime"`
	Payload        string            `json:"payload"`
	ErrorMessage   string            `json:"errorMessage"`
	Number         uint64            `json:"number"`
	Name           string            `json:"name"`
	EndTime        int64             `json:"endTime"`
	StopOnCallback bool              `json:"stopOnCallback"`
	Labels         map[string]string `json:"labels"`
	UpdatedAt      int64             `json:"updatedAt"`
	Runs           int               `json:"runs"`
	Counter        int               `json:"counter"`
}

func (tn *testNode) lifeCall(want int, method, path string, body any) lifeSchedule {
	tn.t.Helper()
	r := tn.must(want, method, path, body)
	return decodeData[struct{ Schedule lifeSchedule }](tn.t, r).Schedule
}

// createCronWith creates a cron of app calling url, with the extra fields
// of body merged in.
func (tn *testNode) createCronWith(app, expr, url string, extra map[string]any) lifeSchedule {
	tn.t.Helper()
	body := map[string]any{"appId": app, "payload": "p", "cronExpression": expr,
		"callback": map[string]any{"type": "http", "details": map[string]any{"url": url, "method": "POST"}}}
	for k, v := range extra {
		body[k] = v
	}
	return tn.lifeCall(200, "POST", "/goscheduler/schedules", body)
}

// scheduleHistory is schedule id's history (its first 1000 events).
func (tn *testNode) scheduleHistory(id string) []eventView {
	tn.t.Helper()
	return tn.history("/goscheduler/schedules/" + id + "/events?size=1000").Events
}

// firedAfterSeq returns the scheduled times (unix s) of the runs of cron
// id fired after event seq.
func (tn *testNode) firedAfterSeq(id string, seq uint64) []int64 {
	tn.t.Helper()
	var out []int64
	for _, ev := range tn.scheduleHistory(id) {
		if ev.Type != "RunFired" || ev.Seq <= seq {
			continue
		}
		var rf struct {
			ScheduledTime int64  `json:"scheduledTime"`
			RunID         string `json:"runId"`
		}
		_ = json.Unmarshal(ev.Data, &rf)
		if !strings.Contains(rf.RunID, ".t") {
			out = append(out, rf.ScheduledTime)
		}
	}
	return out
}

// lastSeqOf is the seq of the latest event of type typ in id's history.
func (tn *testNode) lastSeqOf(id, typ string) uint64 {
	tn.t.Helper()
	var seq uint64
	for _, ev := range tn.scheduleHistory(id) {
		if ev.Type == typ {
			seq = ev.Seq
		}
	}
	if seq == 0 {
		tn.t.Fatalf("no %s in the history of %s", typ, id)
	}
	return seq
}

// TestScheduleLifecycleThroughTheNativeAPI: update, pause and resume, a
// triggered run, an end time, stop-by-callback and the number parameter,
// each as a user of /goscheduler would see them, and what is refused.
func TestScheduleLifecycleThroughTheNativeAPI(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	tn.registerApp("life", 1)
	rc := newReceiver(t)

	t.Run("update", func(t *testing.T) {
		t.Parallel()
		c := tn.createCronWith("life", "*/2 * * * * *", rc.url("/upd"), map[string]any{"name": "upd", "labels": map[string]string{"team": "a"}})
		waitFor(t, 10*time.Second, "a run before the update", func() bool { return len(rc.hitsFor("/upd")) >= 1 })
		u := tn.lifeCall(200, "PATCH", "/goscheduler/schedules/"+c.ScheduleID, map[string]any{"cronExpression": "*/3 * * * * *", "payload": "v2"})
		if u.CronExpression != "*/3 * * * * *" || u.Payload != "v2" || u.NextRunTime%3 != 0 || u.UpdatedAt == 0 ||
			u.Name != "upd" || u.Labels["team"] != "a" {
			t.Fatalf("after the update: %+v", u)
		}
		seq := tn.lastSeqOf(c.ScheduleID, "ScheduleUpdated")
		waitFor(t, 15*time.Second, "two runs after the update", func() bool { return len(tn.firedAfterSeq(c.ScheduleID, seq)) >= 2 })
		for _, at := range tn.firedAfterSeq(c.ScheduleID, seq) {
			if at%3 != 0 {
				t.Fatalf("fired at second %d after the update to */3", at)
			}
		}
		waitFor(t, 10*time.Second, "a call with the new payload", func() bool {
			hits := rc.hitsFor("/upd")
			return hits[len(hits)-1].Body == "v2"
		})
	})

	t.Run("pause and resume", func(t *testing.T) {
		t.Parallel()
		c := tn.createCronWith("life", "* * * * * *", rc.url("/pause"), nil)
		waitFor(t, 10*time.Second, "a run before the pause", func() bool { return len(rc.hitsFor("/pause")) >= 1 })
		if p := tn.lifeCall(200, "POST", "/goscheduler/schedules/"+c.ScheduleID+"/pause", nil); p.Status != "PAUSED" || p.NextRunTime != 0 {
			t.Fatalf("paused: %+v", p)
		}
		paused := tn.lastSeqOf(c.ScheduleID, "SchedulePaused")
		sentinel := tn.createOnce("life", time.Now().Unix()+3, rc.url("/pause-sentinel"), "POST", "")
		tn.waitStatus(sentinel.ScheduleID, "SUCCESS", 15*time.Second)
		if got := tn.firedAfterSeq(c.ScheduleID, paused); len(got) != 0 {
			t.Fatalf("a paused cron fired at %v", got)
		}
		resumedAt := time.Now().Unix()
		r := tn.lifeCall(200, "POST", "/goscheduler/schedules/"+c.ScheduleID+"/resume", nil)
		if r.Status != "SCHEDULED" || r.NextRunTime < resumedAt {
			t.Fatalf("resumed: %+v (at %d)", r, resumedAt)
		}
		resumed := tn.lastSeqOf(c.ScheduleID, "ScheduleResumed")
		waitFor(t, 10*time.Second, "runs after the resume", func() bool { return len(tn.firedAfterSeq(c.ScheduleID, resumed)) >= 2 })
		for _, at := range tn.firedAfterSeq(c.ScheduleID, resumed) {
			if at < resumedAt {
				t.Fatalf("after the resume at %d an occurrence of %d fired: a burst of missed runs", resumedAt, at)
			}
		}
	})

	t.Run("trigger", func(t *testing.T) {
		t.Parallel()
		c := tn.createCronWith("life", "0 0 0 1 1 *", rc.url("/trig"), nil)
		r := tn.must(200, "POST", "/goscheduler/schedules/"+c.ScheduleID+"/trigger", nil)
		got := decodeData[struct{ RunID, ScheduleID string }](t, r)
		if r.Status.StatusCode != 201 || got.RunID != c.ScheduleID+".t1" {
			t.Fatalf("trigger: %s", r.raw)
		}
		waitFor(t, 10*time.Second, "the triggered call", func() bool { return len(rc.hitsFor("/trig")) == 1 })
		if h := rc.hitsFor("/trig")[0]; h.RunID != got.RunID {
			t.Fatalf("called with run id %q, want %q", h.RunID, got.RunID)
		}
		tn.waitStatus(got.RunID, "SUCCESS", 10*time.Second)
		if s := tn.lifeCall(200, "GET", "/goscheduler/schedules/"+c.ScheduleID, nil); s.NextRunTime != c.NextRunTime {
			t.Fatalf("the cron's next run moved from %d to %d", c.NextRunTime, s.NextRunTime)
		}
	})

	t.Run("end time", func(t *testing.T) {
		t.Parallel()
		end := time.Now().Unix() + 3
		c := tn.createCronWith("life", "* * * * * *", rc.url("/end"), map[string]any{"endTime": end})
		if c.EndTime != end {
			t.Fatalf("endTime shown %d, want %d", c.EndTime, end)
		}
		waitFor(t, 15*time.Second, "the cron expired", func() bool {
			return tn.lifeCall(200, "GET", "/goscheduler/schedules/"+c.ScheduleID, nil).Status == "EXPIRED"
		})
		for _, at := range tn.firedAfterSeq(c.ScheduleID, 0) {
			if at > end {
				t.Fatalf("fired at %d, after its end time %d", at, end)
			}
		}
		for _, ev := range tn.scheduleHistory(c.ScheduleID) {
			if ev.Type != "ScheduleClosed" {
				continue
			}
			at, _ := time.Parse(time.RFC3339Nano, ev.Time)
			if !strings.Contains(string(ev.Data), `"expired"`) || at.Unix() < end || at.Unix() > end+2 {
				t.Fatalf("closed at %s by %s, want reason expired at its end time %d", ev.Time, ev.Data, end)
			}
		}
	})

	t.Run("stop by callback", func(t *testing.T) {
		t.Parallel()
		rc.answerWith("/stop", 200, `{"code":400,"message":"no more"}`)
		body := map[string]any{"stopOnCallback": true, "callback": map[string]any{"type": "http", "details": map[string]any{
			"url": rc.url("/stop?x=1&y=2"), "method": "GET", "numberParam": "__cronId"}}}
		c := tn.createCronWith("life", "* * * * * *", "", body)
		waitFor(t, 10*time.Second, "the cron stopped", func() bool {
			return tn.lifeCall(200, "GET", "/goscheduler/schedules/"+c.ScheduleID, nil).Status == "STOPPED"
		})
		if q := rc.hitsFor("/stop")[0].Query; q != fmt.Sprintf("x=1&y=2&__cronId=%d", c.Number) {
			t.Fatalf("query %q, want the URL's own then __cronId=%d", q, c.Number)
		}
		stopped := tn.lastSeqOf(c.ScheduleID, "ScheduleStoppedByCallback")
		if got := tn.firedAfterSeq(c.ScheduleID, stopped); len(got) != 0 {
			t.Fatalf("fired after it was stopped: %v", got)
		}
		if s := tn.lifeCall(200, "GET", "/goscheduler/schedules/"+c.ScheduleID, nil); !strings.Contains(s.ErrorMessage, "no more") {
			t.Fatalf("stopped without the answer: %q", s.ErrorMessage)
		}
	})

	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		cron := tn.createCronWith("life", "0 0 0 1 1 *", rc.url("/r"), map[string]any{"name": "taken"})
		once := tn.createOnce("life", time.Now().Unix()+3600, rc.url("/r1"), "POST", "")
		for _, c := range []struct {
			what, method, path string
			body               any
			code               int
			msg                string
		}{
			{"nothing to change", "PATCH", "/goscheduler/schedules/" + cron.ScheduleID, map[string]any{}, 400, "nothing to change"},
			{"a cron given a scheduleTime", "PATCH", "/goscheduler/schedules/" + cron.ScheduleID, map[string]any{"scheduleTime": time.Now().Unix() + 60}, 400, "cron"},
			{"a bad expression", "PATCH", "/goscheduler/schedules/" + cron.ScheduleID, map[string]any{"cronExpression": "61 * * * *"}, 400, ""},
			{"an end time in the past", "PATCH", "/goscheduler/schedules/" + cron.ScheduleID, map[string]any{"endTime": 1000}, 400, "endTime"},
			{"another app", "PATCH", "/goscheduler/schedules/" + cron.ScheduleID, map[string]any{"appId": "other", "payload": "x"}, 400, "appId"},
			{"a one-time schedule given an end time", "PATCH", "/goscheduler/schedules/" + once.ScheduleID, map[string]any{"endTime": time.Now().Unix() + 60}, 400, "endTime"},
			{"a schedule that does not exist", "PATCH", "/goscheduler/schedules/nope", map[string]any{"payload": "x"}, 404, "not found"},
			{"resume of what runs", "POST", "/goscheduler/schedules/" + cron.ScheduleID + "/resume", nil, 409, "not paused"},
			{"trigger of a one-time schedule", "POST", "/goscheduler/schedules/" + once.ScheduleID + "/trigger", nil, 400, "one-time"},
			{"a name taken", "POST", "/goscheduler/schedules", map[string]any{"appId": "life", "cronExpression": "0 0 0 1 1 *", "name": "taken",
				"callback": map[string]any{"type": "http", "details": map[string]any{"url": rc.url("/r2"), "method": "POST"}}}, 409, "name"},
			{"stopOnCallback on a one-time schedule", "POST", "/goscheduler/schedules", map[string]any{"appId": "life", "scheduleTime": time.Now().Unix() + 60,
				"stopOnCallback": true, "callback": map[string]any{"type": "http", "details": map[string]any{"url": rc.url("/r3"), "method": "POST"}}}, 400, "stopOnCallback"},
		} {
			code, r := tn.call(c.method, c.path, c.body)
			if code != c.code || !strings.Contains(string(r.raw), c.msg) {
				t.Errorf("%s: HTTP %d %s, want %d naming %q", c.what, code, r.raw, c.code, c.msg)
			}
		}
		tn.lifeCall(200, "POST", "/goscheduler/schedules/"+cron.ScheduleID+"/pause", nil)
		if code, r := tn.call("POST", "/goscheduler/schedules/"+cron.ScheduleID+"/pause", nil); code != 409 {
			t.Errorf("pausing twice: HTTP %d %s", code, r.raw)
		}
		tn.must(200, "DELETE", "/goscheduler/schedules/"+cron.ScheduleID, nil)
		if code, r := tn.call("PATCH", "/goscheduler/schedules/"+cron.ScheduleID, map[string]any{"payload": "x"}); code != 409 && code != 404 {
			t.Errorf("update of a deleted schedule: HTTP %d %s", code, r.raw)
		}
		// Its name is free again; a one-time schedule moves to a new time.
		tn.createCronWith("life", "0 0 0 1 1 *", rc.url("/r4"), map[string]any{"name": "taken"})
		at := time.Now().Unix() + 7200
		if s := tn.lifeCall(200, "PATCH", "/goscheduler/schedules/"+once.ScheduleID, map[string]any{"scheduleTime": at}); s.ScheduleTime != at {
			t.Fatalf("moved one-time schedule: %+v", s)
		}
	})
}

// The lifecycle survives kill -9 of the leader and its failover: a paused
// cron stays paused on the new leader, an updated one fires on its new
// times, an end time still closes its cron, and a trigger works; the
// restarted node catches up to the same log.
func TestLifecycleSurvivesKill9AndFailover(t *testing.T) {
	nodes := makeCluster(t, 3, clusterOpts{child: true})
	leader, followers := leaderAndFollowers(t, nodes)
	f := followers[0]
	rc := newReceiver(t)
	f.registerApp("ha", 2)
	paused := f.createCronWith("ha", "* * * * * *", rc.url("/paused"), nil)
	f.lifeCall(200, "POST", "/goscheduler/schedules/"+paused.ScheduleID+"/pause", nil)
	moved := f.createCronWith("ha", "0 0 0 1 1 *", rc.url("/moved"), nil)
	f.lifeCall(200, "PATCH", "/goscheduler/schedules/"+moved.ScheduleID, map[string]any{"cronExpression": "* * * * * *"})
	end := time.Now().Unix() + 8
	expiring := f.createCronWith("ha", "*/2 * * * * *", rc.url("/expiring"), map[string]any{"endTime": end})
	stopper := f.createCronWith("ha", "* * * * * *", rc.url("/stopper"), map[string]any{"stopOnCallback": true})
	waitFor(t, 10*time.Second, "the updated cron firing", func() bool { return len(rc.hitsFor("/moved")) >= 1 })

	killedAt := time.Now()
	leader.kill9()
	leaderAndFollowers(t, nodes) // a new leader (writes before it are answered 503, for the client to retry)
	survivor := followers[1]
	waitFor(t, 10*time.Second, "the survivor knowing the new leader", func() bool {
		v := survivor.cluster()
		return v.LeaderID != "" && v.LeaderID != leader.cfg.nodeID
	})
	waitFor(t, 15*time.Second, "the updated cron firing under the new leader", func() bool {
		n := 0
		for _, h := range rc.hitsFor("/moved") {
			if h.At.After(killedAt) {
				n++
			}
		}
		return n >= 1
	})
	pausedSeq := survivor.lastSeqOf(paused.ScheduleID, "SchedulePaused")
	if got := survivor.firedAfterSeq(paused.ScheduleID, pausedSeq); len(got) != 0 {
		t.Fatalf("the paused cron fired at %v", got)
	}
	if s := survivor.lifeCall(200, "GET", "/goscheduler/schedules/"+paused.ScheduleID, nil); s.Status != "PAUSED" {
		t.Fatalf("after the failover the paused cron is %s", s.Status)
	}
	r := survivor.must(200, "POST", "/goscheduler/schedules/"+expiring.ScheduleID+"/trigger", nil)
	runID := decodeData[struct{ RunID string }](t, r).RunID
	survivor.waitStatus(runID, "SUCCESS", 10*time.Second)
	waitFor(t, 20*time.Second, "the end time closing its cron", func() bool {
		return survivor.lifeCall(200, "GET", "/goscheduler/schedules/"+expiring.ScheduleID, nil).Status == "EXPIRED"
	})
	// The new leader honours the stop contract of a cron created before.
	rc.answerWith("/stopper", 200, `{"code":400}`)
	waitFor(t, 10*time.Second, "the receiver stopping its cron", func() bool {
		return survivor.lifeCall(200, "GET", "/goscheduler/schedules/"+stopper.ScheduleID, nil).Status == "STOPPED"
	})
	time.Sleep(500 * time.Millisecond) // a call already under way at the stop
	stoppedCalls := len(rc.hitsFor("/stopper"))
	survivor.lifeCall(200, "POST", "/goscheduler/schedules/"+paused.ScheduleID+"/resume", nil)
	waitFor(t, 10*time.Second, "the resumed cron firing", func() bool { return len(rc.hitsFor("/paused")) >= 1 })

	// Quiet the cluster before comparing logs: a deleted cron fires no
	// more, and the outcome of a run in flight at its delete is refused.
	for _, id := range []string{paused.ScheduleID, moved.ScheduleID} {
		survivor.must(200, "DELETE", "/goscheduler/schedules/"+id, nil)
	}
	if n := len(rc.hitsFor("/stopper")); n != stoppedCalls {
		t.Fatalf("the stopped cron was called %d more times", n-stoppedCalls)
	}
	leader.start()
	leader.waitHealthy()
	ensureSame(t, nodes)
}
