package main

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/client"
)

// The Go client against a real node (HTTPS, auth on): every method, the
// errors a caller tells apart with errors.As, and what it sends.

// recorder is an http.RoundTripper that keeps what each request carried.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(req.Context()))
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *recorder) all() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// apiErr fails the test unless err is an *APIError of status, and returns
// it.
func apiErr(t *testing.T, err error, status int) *client.APIError {
	t.Helper()
	var e *client.APIError
	if !errors.As(err, &e) || e.StatusCode != status {
		t.Fatalf("want an *APIError %d, got %v", status, err)
	}
	return e
}

func TestClientLifecycle(t *testing.T) {
	tn := startHTTPSNode(t, strings.Repeat("g", 24))
	rec := &recorder{next: tn.httpClient().Transport}
	c := tn.api(client.WithHTTPClient(&http.Client{Transport: rec}), client.WithUserAgent("lifecycle-test/1"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := newReceiver(t)

	if err := c.Healthy(ctx); err != nil {
		t.Fatal(err)
	}
	app, err := c.RegisterApp(ctx, client.RegisterAppRequest{AppID: "lc", Partitions: 2})
	if err != nil || app != (client.App{AppID: "lc", Partitions: 2, Active: true}) {
		t.Fatalf("register: %+v %v", app, err)
	}
	if e := apiErr(t, firstErr(c.RegisterApp(ctx, client.RegisterAppRequest{AppID: "lc"})), 409); e.Code != 4002 {
		t.Fatalf("register twice: body code %d", e.Code)
	}
	list, err := c.Apps(ctx, "lc")
	if err != nil || len(list.Apps) != 1 || list.Apps[0].AppID != "lc" {
		t.Fatalf("apps: %+v %v", list, err)
	}
	if e := apiErr(t, firstErr(c.Apps(ctx, "nope")), 404); e.Code != 4001 || e.Message != "unregistered App" {
		t.Fatalf("an unknown app: %+v", e)
	}
	if act, err := c.DeactivateApp(ctx, "lc"); err != nil || act.Active {
		t.Fatalf("deactivate: %+v %v", act, err)
	}
	at := time.Now().Add(time.Second).Unix()
	once := client.CreateScheduleRequest{AppID: "lc", Payload: "hello", ScheduleTime: &at,
		Callback: &client.Callback{Type: "http", Details: client.CallbackDetails{URL: rc.url("/once"), Method: "POST"}}}
	apiErr(t, firstErr(c.CreateSchedule(ctx, once)), 409) // a deactivated app takes no creates
	if act, err := c.ActivateApp(ctx, "lc"); err != nil || !act.Active {
		t.Fatalf("activate: %+v %v", act, err)
	}
	if e := apiErr(t, firstErr(c.ActivateApp(ctx, "lc")), 409); e.Code != 4003 {
		t.Fatalf("activate twice: %+v", e)
	}

	at = time.Now().Add(time.Second).Unix()
	s, err := c.CreateSchedule(ctx, once)
	if err != nil || s.Status != "SCHEDULED" || s.ScheduleTime != at || s.Payload != "hello" {
		t.Fatalf("create: %+v %v", s, err)
	}
	waitFor(t, 10*time.Second, "the call", func() bool { return len(rc.hitsFor("/once")) == 1 })
	waitFor(t, 10*time.Second, "SUCCESS", func() bool {
		got, err := c.Schedule(ctx, s.ScheduleID, client.Linearizable())
		return err == nil && got.Status == "SUCCESS" && got.HTTPStatus == 200
	})
	page, err := c.AppSchedules(ctx, "lc", client.AppSchedulesQuery{Start: time.Now().Add(-time.Hour), End: time.Now().Add(time.Hour), Status: "SUCCESS"})
	if err != nil || len(page.Schedules) != 1 || page.Schedules[0].ScheduleID != s.ScheduleID {
		t.Fatalf("app schedules: %+v %v", page, err)
	}
	apiErr(t, firstErr(c.AppSchedules(ctx, "lc", client.AppSchedulesQuery{Start: time.Now(), End: time.Now().Add(40 * 24 * time.Hour)})), 400)

	cron, err := c.CreateSchedule(ctx, client.CreateScheduleRequest{AppID: "lc", CronExpression: "0 0 0 1 1 *", Name: "yearly",
		Callback: &client.Callback{Type: "http", Details: client.CallbackDetails{URL: rc.url("/cron"), Method: "GET",
			Headers: map[string]string{"Authorization": "Bearer secret"}}}})
	if err != nil || !cron.IsCron() || cron.Callback.Details.Headers["Authorization"] != "***" {
		t.Fatalf("cron: %+v %v", cron, err)
	}
	if crons, err := c.Crons(ctx, "lc", ""); err != nil || len(crons) != 1 || crons[0].ScheduleID != cron.ScheduleID {
		t.Fatalf("crons: %+v %v", crons, err)
	}
	trig, err := c.Trigger(ctx, cron.ScheduleID)
	if err != nil || trig.RunID != cron.ScheduleID+".t1" || trig.ScheduleID != cron.ScheduleID {
		t.Fatalf("trigger: %+v %v", trig, err)
	}
	waitFor(t, 10*time.Second, "the triggered call", func() bool {
		h := rc.hitsFor("/cron")
		return len(h) == 1 && h[0].RunID == trig.RunID && h[0].Header.Get("Authorization") == "Bearer secret"
	})
	waitFor(t, 10*time.Second, "the triggered run listed", func() bool {
		p, err := c.Runs(ctx, cron.ScheduleID, client.RunsQuery{})
		return err == nil && len(p.Schedules) == 1 && p.Schedules[0].ScheduleID == trig.RunID && p.Schedules[0].Status == "SUCCESS"
	})
	future, err := c.Runs(ctx, cron.ScheduleID, client.RunsQuery{When: "future", Size: 2})
	if err != nil || len(future.Schedules) != 2 || future.ContinuationToken == "" {
		t.Fatalf("future runs: %+v %v", future, err)
	}
	next, err := c.Runs(ctx, cron.ScheduleID, client.RunsQuery{When: "future", Size: 2, ContinuationToken: future.ContinuationToken})
	if err != nil || len(next.Schedules) != 2 || next.Schedules[0].ScheduleTime <= future.Schedules[1].ScheduleTime {
		t.Fatalf("the next page of future runs: %+v %v", next, err)
	}

	if p, err := c.Pause(ctx, cron.ScheduleID); err != nil || p.Status != "PAUSED" {
		t.Fatalf("pause: %+v %v", p, err)
	}
	apiErr(t, firstErr(c.Pause(ctx, cron.ScheduleID)), 409)
	if r, err := c.Resume(ctx, cron.ScheduleID); err != nil || r.Status != "SCHEDULED" {
		t.Fatalf("resume: %+v %v", r, err)
	}
	payload, expr := "v2", "0 0 0 2 1 *"
	u, err := c.UpdateSchedule(ctx, cron.ScheduleID, client.UpdateScheduleRequest{Payload: &payload, CronExpression: &expr})
	if err != nil || u.Payload != "v2" || u.CronExpression != expr || u.Name != "yearly" {
		t.Fatalf("update: %+v %v", u, err)
	}
	apiErr(t, firstErr(c.UpdateSchedule(ctx, cron.ScheduleID, client.UpdateScheduleRequest{})), 400) // nothing to change

	// Histories, paged.
	var types []string
	for q := (client.EventsQuery{Size: 2}); ; {
		p, err := c.ScheduleEvents(ctx, cron.ScheduleID, q)
		if err != nil || p.ScheduleID != cron.ScheduleID {
			t.Fatalf("events: %+v %v", p, err)
		}
		for _, e := range p.Events {
			types = append(types, e.Type)
		}
		if !p.More {
			break
		}
		q.After = p.Next
	}
	if want := []string{"ScheduleCreated", "RunTriggered", "RunFired", "RunCompleted", "SchedulePaused", "ScheduleResumed", "ScheduleUpdated"}; !slices.Equal(types, want) {
		t.Fatalf("the cron's history: %v, want %v", types, want)
	}
	if ap, err := c.AppEvents(ctx, "lc", client.EventsQuery{Size: 1}); err != nil || ap.AppID != "lc" || len(ap.Events) != 1 ||
		ap.Events[0].Type != "AppRegistered" || ap.Events[0].Actor != "admin" || !ap.More {
		t.Fatalf("app events: %+v %v", ap, err)
	}

	if d, err := c.Delete(ctx, cron.ScheduleID); err != nil || d.Status != "DELETED" {
		t.Fatalf("delete: %+v %v", d, err)
	}
	_, err = c.Delete(ctx, cron.ScheduleID)
	if !client.IsNotFound(err) {
		t.Fatalf("delete twice: %v", err)
	}
	e := apiErr(t, firstErr(c.Schedule(ctx, "nope")), 404)
	if e.Message != "Schedule with id: nope not found" || e.Error() != "404 not found: Schedule with id: nope not found" ||
		!strings.HasPrefix(err.Error(), "delete schedule "+cron.ScheduleID+": 404") {
		t.Fatalf("errors: %q, %q", e.Error(), err)
	}
	// An id is one path segment, whatever it holds.
	apiErr(t, firstErr(c.Schedule(ctx, "../apps")), 404)

	// The cluster of one.
	st, err := c.ClusterStatus(ctx)
	if err != nil || st.NodeID != "node1" || st.LeaderID != "node1" || st.State != "Leader" || len(st.Members) != 1 || st.Build.Version == "" {
		t.Fatalf("cluster: %+v %v", st, err)
	}
	apiErr(t, firstErr(c.RemoveMember(ctx, "node1", false)), 409) // the last voter
	apiErr(t, firstErr(c.AddMember(ctx, client.AddMemberRequest{ID: "n2", RaftAddress: "nohost"})), 400)

	// Tokens: issue, use, list, revoke.
	tok, err := c.CreateToken(ctx, client.CreateTokenRequest{Name: "reader", Role: "reader", Apps: []string{"lc"}})
	if err != nil {
		t.Fatal(err)
	}
	reader := tn.api(client.WithToken(tok.Token))
	if _, err := reader.Apps(ctx, ""); err != nil {
		t.Fatalf("the reader token: %v", err)
	}
	apiErr(t, firstErr(reader.RegisterApp(ctx, client.RegisterAppRequest{AppID: "x"})), 403)
	apiErr(t, firstErr(reader.Tokens(ctx)), 403)
	tokens, err := c.Tokens(ctx)
	if err != nil || !slices.ContainsFunc(tokens, func(k client.Token) bool { return k.ID == tok.ID && k.Role == "reader" && k.IssuedBy == "admin" }) {
		t.Fatalf("tokens: %+v %v", tokens, err)
	}
	if err := c.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	apiErr(t, firstErr(reader.Apps(ctx, "")), 401)
	anonymous := tn.api(client.WithToken(""))
	if err := anonymous.Healthy(ctx); err != nil { // the health check is open
		t.Fatalf("health without a token: %v", err)
	}
	if e := apiErr(t, firstErr(anonymous.Apps(ctx, "")), 401); e.Message == "" {
		t.Fatal("a 401 without the server's message")
	}

	// What the client sent: the token, the user agent, JSON.
	reqs := rec.all()
	if len(reqs) < 30 {
		t.Fatalf("the recorder saw %d requests", len(reqs))
	}
	for _, r := range reqs {
		if r.Header.Get("Authorization") != "Bearer "+tn.token || r.Header.Get("User-Agent") != "lifecycle-test/1" ||
			r.Header.Get("Accept") != "application/json" || (r.ContentLength > 0 && r.Header.Get("Content-Type") != "application/json") {
			t.Fatalf("%s %s sent %v", r.Method, r.URL, r.Header)
		}
		if r.URL.Scheme != "https" {
			t.Fatalf("%s went over %s", r.URL, r.URL.Scheme)
		}
	}
}

// firstErr drops a call's value, for the calls whose error is the point.
func firstErr[T any](_ T, err error) error { return err }
