package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/actors/notify"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
)

// A workflow job's notifications (Keboola's channels), sent by the
// leader: error and warning when a job ends so; waiting when a job has
// waited longer than the notice's timeout (minutes); processing when it
// has run longer than its workflow's usual (the average of its last
// successful jobs) by more than the notice's tolerance (percent). Each
// goes by email (the server's SMTP, Config.Mail) and, when the notice has
// a URL, by a webhook signed with the app's secret; it is told once per
// job, channel and recipient (NotificationSent marks the job), retried by
// the notifier, and never holds the job up. The waiting and processing
// timers are this term's: a new leader arms them again from the records.

// usualJobs is how many of a workflow's latest successful jobs make its
// usual duration.
const usualJobs = 20

// noticeTimers are this term's waiting and processing timers, by job,
// channel and recipient.
type noticeTimers struct {
	sync.Mutex
	m map[string]*time.Timer
}

func (n *noticeTimers) arm(key string, d time.Duration, f func()) {
	n.Lock()
	defer n.Unlock()
	if n.m == nil {
		n.m = map[string]*time.Timer{}
	}
	if _, ok := n.m[key]; ok {
		return
	}
	n.m[key] = time.AfterFunc(max(d, 0), func() {
		n.Lock()
		delete(n.m, key)
		n.Unlock()
		f()
	})
}

func (n *noticeTimers) reset() {
	n.Lock()
	defer n.Unlock()
	for k, t := range n.m {
		t.Stop()
		delete(n.m, k)
	}
}

// recipient names who a notice tells (its email, else its webhook's host).
func recipient(n event.Notice) string {
	if n.Email != "" {
		return n.Email
	}
	if u, err := url.Parse(n.URL); err == nil && u.Host != "" {
		return "webhook " + u.Host
	}
	return "webhook"
}

// noticesOf are who job j tells on channel: for a job run by hand with
// notificationsEmails, those addresses (of its end); else its workflow's
// notices on channel.
func noticesOf(j projections.Job, channel string) []event.Notice {
	var out []event.Notice
	if (channel == event.NoticeError || channel == event.NoticeWarning) && j.InitializedBy == "manually" && len(j.NotifyEmails) > 0 {
		for _, e := range j.NotifyEmails {
			out = append(out, event.Notice{Channel: channel, Email: e})
		}
		return out
	}
	for _, n := range j.Notices {
		if n.Channel == channel {
			out = append(out, n)
		}
	}
	return out
}

// maxNoticeParameter bounds a notice's timeout (minutes) and tolerance
// (percent): more would overflow a duration.
const maxNoticeParameter = 1e6

// parameter reads a notice's numeric parameter (timeout, tolerance), at
// most maxNoticeParameter.
func parameter(n event.Notice, name string) (float64, bool) {
	var p map[string]any
	if json.Unmarshal([]byte(n.Parameters), &p) != nil {
		return 0, false
	}
	switch v := p[name].(type) {
	case float64:
		return min(v, maxNoticeParameter), true
	case string:
		var f float64
		_, err := fmt.Sscan(v, &f)
		return min(f, maxNoticeParameter), err == nil
	}
	return 0, false
}

// jobNotices acts on job j as applied: at its end it tells its error or
// warning notices; waiting or processing, it arms the timers of those
// channels. The caller holds lead, leading in the term of ctx.
func (e *Engine) jobNotices(ctx context.Context, j projections.Job) {
	switch j.Status {
	case event.StatusJobError, event.StatusJobWarning:
		for _, n := range noticesOf(j, j.Status) {
			e.inBackground(func() { e.tellJob(ctx, j.ID, n, "") })
		}
	case event.StatusJobWaiting:
		for _, n := range noticesOf(j, event.NoticeWaiting) {
			if minutes, ok := parameter(n, "timeout"); ok && minutes > 0 {
				due := time.UnixMilli(j.CreatedAt).Add(time.Duration(minutes * float64(time.Minute)))
				e.armNotice(ctx, j.ID, n, due)
			}
		}
	case event.StatusJobProcessing:
		notices := noticesOf(j, event.NoticeProcessing)
		if len(notices) == 0 {
			return
		}
		e.inBackground(func() {
			usual, ok := e.usualDuration(j)
			if !ok {
				return // no successful job yet: nothing is unusual
			}
			for _, n := range notices {
				tolerance, _ := parameter(n, "tolerance")
				due := time.UnixMilli(j.StartedAt).Add(time.Duration(float64(usual) * (1 + max(tolerance, 0)/100)))
				e.armNotice(ctx, j.ID, n, due)
			}
		})
	}
}

// usualDuration is the average run time of job j's workflow's latest
// successful jobs (up to usualJobs of them).
func (e *Engine) usualDuration(j projections.Job) (time.Duration, bool) {
	recent, err := e.state.JobsOf(j.ScheduleID, 0, 10*usualJobs)
	if err != nil {
		e.cfg.Logger.Error("read a workflow's jobs for its usual duration", "schedule", j.ScheduleID, "err", err)
		return 0, false
	}
	var sum time.Duration
	n := 0
	for _, r := range recent {
		if r.ID != j.ID && r.Status == event.StatusJobSuccess && r.StartedAt > 0 && r.EndedAt >= r.StartedAt && n < usualJobs {
			sum += time.Duration(r.EndedAt-r.StartedAt) * time.Millisecond
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / time.Duration(n), true
}

// armNotice tells n of job id at due, if the job is still as it was then
// (waiting, or processing) and was not told already.
func (e *Engine) armNotice(ctx context.Context, id uint64, n event.Notice, due time.Time) {
	key := fmt.Sprintf("%d/%s/%s", id, n.Channel, recipient(n))
	e.noticeTimers.arm(key, time.Until(due), func() {
		if ctx.Err() != nil {
			return
		}
		want := event.StatusJobWaiting
		if n.Channel == event.NoticeProcessing {
			want = event.StatusJobProcessing
		}
		e.inBackground(func() { e.tellJob(ctx, id, n, want) })
	})
}

// tellJob sends notice n of job id, unless it was told already or (want
// not "") the job's status is no longer want.
func (e *Engine) tellJob(ctx context.Context, id uint64, n event.Notice, want string) {
	j, ok, err := e.state.Job(id)
	if err != nil || !ok || ctx.Err() != nil || (want != "" && j.Status != want) {
		return
	}
	who := recipient(n)
	if slices.Contains(j.Notified, n.Channel+" "+who) {
		return
	}
	title := j.ScheduleID
	if s, ok, err := e.state.Schedule(j.ScheduleID); err == nil && ok && s.Name != "" {
		title = s.Name
	}
	ref := noticeRef{rc: event.RunCompleted{ScheduleID: j.ScheduleID, RunID: fmt.Sprintf("job-%d", j.ID), AppID: j.AppID},
		target: who, jobID: j.ID, notice: n.Channel}
	var channels []notify.Channel
	if n.Email != "" {
		if e.cfg.Mail == nil {
			e.recordNotice(ref, notify.Outcome{Channel: "email", Error: "no mail server is configured (--smtp-url)"})
		} else {
			m := *e.cfg.Mail
			m.To = []string{n.Email}
			channels = append(channels, m)
		}
	}
	if n.URL != "" {
		secrets := e.signingSecrets(j.AppID)
		if len(secrets) == 0 {
			e.recordNotice(ref, notify.Outcome{Channel: "webhook", Error: "the app has no signing secret to sign the webhook with"})
		} else {
			channels = append(channels, notify.Webhook{URL: n.URL, Secret: secrets[0]})
		}
	}
	for _, ch := range channels {
		nt := jobNotification(j, title, n.Channel, who, ch)
		nt.ID += "/" + ch.Kind() // an email and a webhook of one notice are two notifications
		e.sendNotice(ctx, nt, ref)
	}
}

// jobNotification is the message telling who of job j on channel.
func jobNotification(j projections.Job, title, channel, who string, ch notify.Channel) notify.Notification {
	why := map[string]string{
		event.NoticeError:      "ended with an error",
		event.NoticeWarning:    "ended with a warning",
		event.NoticeWaiting:    "has been waiting longer than it should",
		event.NoticeProcessing: "has been running longer than usual",
	}[channel]
	var body strings.Builder
	fmt.Fprintf(&body, "Job %d of %s (%s, app %s) %s.\nStatus: %s\nCreated: %s\nStarted: %s\nEnded: %s\n",
		j.ID, title, j.ScheduleID, j.AppID, why, j.Status, timeOrDash(j.CreatedAt), timeOrDash(j.StartedAt), timeOrDash(j.EndedAt))
	type taskView struct {
		ID     int    `json:"id"`
		Status string `json:"status"`
	}
	tasks := []taskView{}
	for i, t := range j.Tasks {
		status := event.StatusJobWaiting
		if i < len(j.Results) {
			status = j.Results[i].Status
		}
		tasks = append(tasks, taskView{ID: t.ID, Status: status})
		fmt.Fprintf(&body, "Task %d: %s\n", t.ID, status)
	}
	doc, _ := json.Marshal(map[string]any{"jobId": j.ID, "scheduleId": j.ScheduleID, "name": title, "appId": j.AppID,
		"channel": channel, "status": j.Status, "createdAt": j.CreatedAt, "startedAt": j.StartedAt, "endedAt": j.EndedAt,
		"initializedBy": j.InitializedBy, "tasks": tasks, "recipient": who})
	return notify.Notification{ID: fmt.Sprintf("job-%d/%s/%s", j.ID, channel, who),
		Subject: fmt.Sprintf("%s: job %d %s", title, j.ID, why), Body: body.String(), Document: doc, Channel: ch}
}
