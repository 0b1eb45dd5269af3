package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/chronicle-sched/chronicle/actors/notify"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
)

// A schedule's outcomes are told to the notification targets its
// definition names (NotifyOnSuccess, NotifyOnFailure: the server's
// targets, karajo's [notif]), once the outcome is applied, by the leader
// that recorded it. They go on the notifier's bounded queue, so firing
// never waits for a mail server; each is retried, and what became of it
// is recorded as a NotificationSent event in the schedule's history. A
// notification still on its way when its leader stops is not sent again.

// maxNotifiedOutput bounds the output a notification carries.
const maxNotifiedOutput = 64 << 10

// notices maps a notification on its way to what its outcome is recorded
// against.
type notices struct {
	sync.Mutex
	m map[string]noticeRef
}

type noticeRef struct {
	rc     event.RunCompleted
	target string
	// jobID and notice: a workflow job's notification on that channel.
	jobID  uint64
	notice string
}

func (n *notices) put(id string, ref noticeRef) {
	n.Lock()
	defer n.Unlock()
	if n.m == nil {
		n.m = map[string]noticeRef{}
	}
	n.m[id] = ref
}

func (n *notices) take(id string) (noticeRef, bool) {
	n.Lock()
	defer n.Unlock()
	ref, ok := n.m[id]
	delete(n.m, id)
	return ref, ok
}

// CheckTargets refuses notification target names this server does not
// know (they come from its configuration).
func (e *Engine) CheckTargets(d event.Definition) error {
	for _, names := range [][]string{d.Jobs().NotifyOnSuccess, d.Jobs().NotifyOnFailure} {
		for _, n := range names {
			if _, ok := e.cfg.Targets[n]; !ok {
				return fmt.Errorf("%w: no notification target %q in this server's configuration (it knows %s)",
					projections.ErrInvalidEvent, n, e.targetNames())
			}
		}
	}
	return nil
}

func (e *Engine) targetNames() string {
	if len(e.cfg.Targets) == 0 {
		return "none"
	}
	var names []string
	for n := range e.cfg.Targets {
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

// notifyAfter is what tells schedule s's targets of a run's outcome once
// it is applied (nil when s notifies no one): the run's counter and
// output go into the message.
func (e *Engine) notifyAfter(s projections.Schedule, counter int, output []byte) func(event.RunCompleted) {
	if !notifies(s) {
		return nil
	}
	return func(rc event.RunCompleted) { e.notifyOutcome(s, counter, rc, output) }
}

// notifyInterrupted tells the targets of a run recorded as interrupted
// (a command cut short by its leader's end), reading what the fire path
// does not hold: the schedule, the run's counter.
func (e *Engine) notifyInterrupted(rc event.RunCompleted) {
	s, ok, err := e.state.Schedule(rc.ScheduleID)
	if err != nil || !ok || !notifies(s) {
		return
	}
	counter := 0
	if r, ok, err := e.state.Schedule(rc.RunID); err == nil && ok {
		counter = r.Counter
	}
	e.notifyOutcome(s, counter, rc, nil)
}

// notifies reports whether schedule s names targets to tell of outcomes.
func notifies(s projections.Schedule) bool {
	j := s.Jobs()
	return len(j.NotifyOnSuccess)+len(j.NotifyOnFailure) > 0
}

// notifyOutcome queues the notifications of outcome rc of a run of s.
func (e *Engine) notifyOutcome(s projections.Schedule, counter int, rc event.RunCompleted, output []byte) {
	var names []string
	switch rc.Status {
	case event.StatusSuccess:
		names = s.Jobs().NotifyOnSuccess
	case event.StatusFailure, event.StatusCanceled:
		names = s.Jobs().NotifyOnFailure
	}
	_, _, ctx := e.term()
	for _, name := range names {
		ref := noticeRef{rc: rc, target: name}
		ch, ok := e.cfg.Targets[name]
		if !ok {
			e.recordNotice(ref, notify.Outcome{Channel: "email", Error: "no such target in the configuration of the leader that recorded the outcome"})
			continue
		}
		e.sendNotice(ctx, notice(s, counter, rc, output, name, ch), ref)
	}
}

// sendNotice queues nt, remembered as ref until the notifier says what
// became of it; one the notifier refuses is recorded failed at once.
func (e *Engine) sendNotice(ctx context.Context, nt notify.Notification, ref noticeRef) {
	e.notices.put(nt.ID, ref)
	if err := e.notifier.Send(ctx, nt); err != nil {
		e.notices.take(nt.ID)
		e.recordNotice(ref, notify.Outcome{Channel: nt.Channel.Kind(), Error: "not sent: " + err.Error()})
	}
}

// notificationDone records what became of a notification (the notifier's
// Done).
func (e *Engine) notificationDone(o notify.Outcome) {
	ref, ok := e.notices.take(o.ID)
	if !ok || o.Canceled {
		return // its leader stopped: at most once
	}
	e.recordNotice(ref, o)
}

func (e *Engine) recordNotice(ref noticeRef, o notify.Outcome) {
	status := event.NotificationDelivered
	if !o.Success {
		status = event.NotificationFailed
	}
	msg := o.Error
	if len(msg) > 4096 {
		msg = strings.ToValidUTF8(msg[:4096], "")
	}
	e.out.add(nil, event.NotificationSent{ScheduleID: ref.rc.ScheduleID, RunID: ref.rc.RunID, AppID: ref.rc.AppID,
		Target: ref.target, Channel: o.Channel, Status: status, Attempts: o.Attempts, Code: o.Status, Error: msg,
		JobID: ref.jobID, Notice: ref.notice})
	if !o.Success {
		e.cfg.Logger.Warn("notification not delivered", "schedule", ref.rc.ScheduleID, "run", ref.rc.RunID,
			"target", ref.target, "attempts", o.Attempts, "err", o.Error)
	}
}

// notice is the message telling target name of outcome rc of a run of s.
func notice(s projections.Schedule, counter int, rc event.RunCompleted, output []byte, name string, ch notify.Channel) notify.Notification {
	title := s.Name
	if title == "" {
		title = s.ScheduleID
	}
	run := rc.RunID
	if counter > 0 {
		run = fmt.Sprintf("#%d", counter)
	}
	cut := false
	if len(output) > maxNotifiedOutput {
		output, cut = output[:maxNotifiedOutput], true
	}
	text := strings.ToValidUTF8(string(output), "\uFFFD")
	var body strings.Builder
	fmt.Fprintf(&body, "Schedule: %s (%s, app %s)\nRun: %s (%s)\nStatus: %s\n", title, s.ScheduleID, s.AppID, run, rc.RunID, rc.Status)
	if rc.ErrorMessage != "" {
		fmt.Fprintf(&body, "Error: %s\n", rc.ErrorMessage)
	}
	if rc.HTTPStatus != 0 {
		fmt.Fprintf(&body, "HTTP status: %d\n", rc.HTTPStatus)
	}
	fmt.Fprintf(&body, "Started: %s\nFinished: %s\n", timeOrDash(rc.StartedAt), timeOrDash(rc.FinishedAt))
	if text != "" {
		fmt.Fprintf(&body, "\nOutput:\n%s", text)
		if cut {
			body.WriteString("\n[output cut]\n")
		}
	}
	doc, _ := json.Marshal(map[string]any{
		"scheduleId": s.ScheduleID, "name": s.Name, "appId": s.AppID, "runId": rc.RunID, "counter": counter,
		"status": rc.Status, "errorMessage": rc.ErrorMessage, "httpStatus": rc.HTTPStatus, "attempts": rc.Attempts,
		"scheduledTime": rc.ScheduledTime, "startedAt": rc.StartedAt, "finishedAt": rc.FinishedAt, "output": text,
		"outputCut": cut, "target": name,
	})
	subject := fmt.Sprintf("%s %s: %s", title, run, rc.Status)
	if !utf8.ValidString(subject) {
		subject = strings.ToValidUTF8(subject, "?")
	}
	return notify.Notification{ID: rc.RunID + "/" + strings.ToLower(rc.Status) + "/" + name, Subject: subject,
		Body: body.String(), Document: doc, Channel: ch}
}

// timeOrDash is a message's time: RFC 3339 in UTC, "-" for none.
func timeOrDash(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}
