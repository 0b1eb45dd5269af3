package actors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// The fire path: a chunk of due runs becomes one Raft entry of RunFired
// (or MISS) events, and each RunFired that applied becomes an HTTP call.

// fireItem is one due run handed to the fire batcher, with the context
// of the leadership term whose timer popped it.
type fireItem struct {
	ctx context.Context
	pr  projections.PendingRun
}

// retryDelay is how long a run whose cron occurrence could not be computed
// waits before it is tried again.
const retryDelay = time.Second

// fireChunk records a chunk of due runs as fired (or missed) in one Raft
// entry and, for each RunFired that applied, hands the call to the
// delivery pool. The RunFired commit comes first: a node that can no
// longer commit (a deposed leader) never calls out. It returns the runs to
// try again later: a cron run whose next occurrence could not be computed
// is not fired (a RunFired without its next run would end the cron).
func (e *Engine) fireChunk(chunk []fireItem) (retry map[string]bool, err error) {
	now := e.clock.Now()
	var payloads []event.Payload
	var fired []fireItem
	var took []projections.PendingRun // exclusive runs this chunk made their schedule's running one
	var rejected map[string]bool      // the RunFireds apply refused (nil until proposed)
	defer func() {
		if len(took) > 0 {
			e.untake(took, fired, rejected)
		}
	}()
	for _, it := range chunk {
		pr := it.pr
		if it.ctx.Err() != nil {
			continue // popped in a term this node no longer leads
		}
		cur, same := e.stillAsPopped(pr)
		if !same {
			continue
		}
		// The record as it is now: its policies (exclusive, no re-fire)
		// may have changed since the timer queued it (an update that kept
		// its due time).
		pr = cur
		if pr.Fired && pr.NoRefire {
			payloads = append(payloads, e.interrupted(pr))
			continue
		}
		released := false
		if pr.Exclusive && pr.Kind != projections.KindExpiry {
			switch e.overlap.take(pr, func() bool { return e.otherInFlight(pr) }) {
			case turnPark:
				continue // it fires when the run in flight ends
			case turnSkip:
				ps, ok := e.skipped(pr)
				if !ok {
					if retry == nil {
						retry = map[string]bool{}
					}
					retry[pr.RunID] = true
				}
				payloads = append(payloads, ps...)
				continue
			case turnReleased:
				released = true
			}
			took = append(took, pr)
		}
		// A run of a schedule deleted meanwhile is no longer pending:
		// apply rejects its RunFired, and nothing is called.
		var ps []event.Payload
		var ok, fires bool
		if pr.Kind == projections.KindExpiry {
			ps, ok = e.expiring(pr)
		} else if overdue := now.Sub(time.UnixMilli(pr.DueMs)); overdue > e.cfg.MisfireThreshold && !released {
			ps, ok = e.missed(pr, now, overdue)
		} else {
			after := pr.ScheduledTime
			if released {
				after = now.Unix()
			}
			ps, ok = e.firing(pr, after)
			fires = ok && len(ps) > 0 && ps[0].EventType() == event.TypeRunFired
		}
		if !ok {
			if retry == nil {
				retry = map[string]bool{}
			}
			retry[pr.RunID] = true
			continue
		}
		payloads = append(payloads, ps...)
		if fires {
			fired = append(fired, it)
		}
	}
	if len(payloads) == 0 {
		return retry, nil
	}
	results, err := e.propose(payloads...)
	if err != nil {
		fired = nil // nothing fired
		return retry, err
	}
	rejected = rejectedOf(payloads, results)
	for i, p := range payloads {
		rc, ok := p.(event.RunCompleted)
		if !ok || results[i].Err != nil {
			continue
		}
		switch rc.Status {
		case event.StatusFailure:
			e.inBackground(func() { e.notifyInterrupted(rc) }) // the only FAILURE the fire path records
		case event.StatusMiss:
			e.cfg.Metrics.RunCompleted(rc.AppID, event.StatusMiss)
			if ok, omitted := e.missedLog.line(e.clock.Now()); ok {
				e.cfg.Logger.Warn("run missed", "app", rc.AppID, "schedule", rc.ScheduleID, "run", rc.RunID,
					"error", rc.ErrorMessage, "missedRunsNotLogged", omitted)
			}
		}
	}
	for _, it := range fired {
		if rejected[it.pr.RunID] {
			continue
		}
		// Apply handed over the schedule it read (Observe ran before the
		// proposal returned); reading it again is only a fallback.
		f, ok := e.takeFired(it.pr.RunID)
		if !ok {
			if f, ok = e.readFired(it.pr); !ok {
				continue
			}
		}
		e.deliver(e.delivering.add(it.pr.RunID, it.pr.ScheduleID, it.ctx), it.pr, f)
	}
	return retry, nil
}

// readFired reads what apply would have handed over for a fired run: its
// schedule, and its counter (from its run's record).
func (e *Engine) readFired(pr projections.PendingRun) (projections.FiredRun, bool) {
	s, ok, err := e.state.Schedule(pr.ScheduleID)
	if err != nil || !ok {
		e.cfg.Logger.Error("schedule of a fired run", "run", pr.RunID, "found", ok, "err", err)
		return projections.FiredRun{}, false
	}
	f := projections.FiredRun{Run: pr, Schedule: s}
	if s.Jobs().Counted {
		if r, ok, err := e.state.Schedule(pr.RunID); err == nil && ok {
			f.Counter = r.Counter
		}
	}
	return f, true
}

// rejectedOf returns the runs whose RunFired, among payloads, results
// rejected (deleted, deactivated or already fired meanwhile).
func rejectedOf(payloads []event.Payload, results []raftfsm.Result) map[string]bool {
	rejected := map[string]bool{}
	for i, p := range payloads {
		if rf, ok := p.(event.RunFired); ok && i < len(results) && results[i].Err != nil {
			rejected[rf.RunID] = true
		}
	}
	return rejected
}

// untake gives back the turn of the exclusive runs a chunk took that did
// not fire after all (missed, waiting for their cron, rejected, or the
// entry not committed), releasing what was parked behind them.
func (e *Engine) untake(took []projections.PendingRun, fired []fireItem, rejected map[string]bool) {
	going := map[string]bool{}
	for _, it := range fired {
		going[it.pr.RunID] = !rejected[it.pr.RunID]
	}
	for _, pr := range took {
		if !going[pr.RunID] {
			if next, ok := e.overlap.drop(pr.ScheduleID, pr.RunID); ok {
				e.requeue(next)
			}
		}
	}
}

// stillAsPopped reports whether pr's record is as its timer popped it:
// due at the same time, fired or not as it was. A timer can hold an older
// view (a load that read the run before an update moved it, processed
// after its old time came): firing it then would call, or record as
// missed, a run whose move was acknowledged. A run that moved or fired
// since is left to the announcement of that change, which brings it to its
// timer as it is now. (Apply does not check this yet: RunFired carries no
// due time to compare, and a rule added to apply must be one every member
// of a cluster applies.)
//
// It returns the record as it is now.
func (e *Engine) stillAsPopped(pr projections.PendingRun) (projections.PendingRun, bool) {
	if pr.Kind == projections.KindExpiry {
		return pr, true
	}
	now, ok, err := e.state.Pending(pr.RunID)
	switch {
	case err != nil:
		e.cfg.Logger.Error("read a due run before firing it", "run", pr.RunID, "err", err)
		return pr, true // apply decides, as before this check
	case !ok:
		return pr, false // gone: deleted, or fired and completed
	}
	return now, now.DueMs == pr.DueMs && now.Fired == pr.Fired
}

// firing returns the events that fire pr: its RunFired, carrying a cron's
// next occurrence (and, if there is none, the cron's closing). ok is false
// if pr must wait: its cron's next occurrence could not be computed now.
//
// The next occurrence is the first after after, at least pr's own time: a
// run that waited for its turn (overlap buffer_one) passes after = now, and
// its RunFired counts in Skipped the occurrences that came due while it
// waited, passed over as karajo drops the ticks of a busy job.
func (e *Engine) firing(pr projections.PendingRun, after int64) (ps []event.Payload, ok bool) {
	rf := event.RunFired{ScheduleID: pr.ScheduleID, RunID: pr.RunID, AppID: pr.AppID,
		Partition: pr.Partition, ScheduledTime: pr.ScheduledTime, Refire: pr.Fired}
	if pr.Kind != projections.KindCron || pr.Fired {
		return []event.Payload{rf}, true
	}
	var ask any = nextAfter{T: pr.ScheduledTime}
	if after > pr.ScheduledTime {
		ask = missPlan{T: pr.ScheduledTime, Cutoff: after + 1}
	} else {
		after = pr.ScheduledTime
	}
	next := e.askCron(pr.ScheduleID, ask)
	switch {
	case errors.Is(next.err, errNoCron):
		return nil, true // gone with its cron: nothing to fire
	case next.unevaluable:
		// The cron cannot continue: it is closed, saying why, and this
		// occurrence does not fire.
		return e.closing(pr, event.ReasonUnevaluable, next.err.Error(), nil)
	case next.err != nil:
		e.cfg.Logger.Warn("cron next occurrence not computed; the run waits", "schedule", pr.ScheduleID,
			"run", pr.RunID, "err", next.err)
		return nil, false
	}
	rf.NextRunTime, rf.Skipped = next.next, next.skipped
	if next.next == 0 && !next.ended {
		// The last occurrence: it fires, and the cron closes. (With
		// ended, the end time's own entry closes the cron then.)
		return e.closing(pr, event.ReasonExhausted, fmt.Sprintf("no occurrence after %s",
			time.Unix(after, 0).UTC().Format(time.RFC3339)), rf)
	}
	return []event.Payload{rf}, true
}

// expiring returns the closing of a cron whose end time came (however
// late: an end time is never missed). It waits while a member of the
// cluster cannot read it.
func (e *Engine) expiring(pr projections.PendingRun) ([]event.Payload, bool) {
	if !e.repl.Proposable(event.LifecycleSince) {
		return nil, false
	}
	return []event.Payload{event.ScheduleClosed{ScheduleID: pr.ScheduleID, AppID: pr.AppID, Reason: event.ReasonExpired,
		Message: "its end time " + time.Unix(pr.ScheduledTime, 0).UTC().Format(time.RFC3339) + " came"}}, true
}

// closing returns last (if any) followed by the ScheduleClosed of pr's
// cron. While a member of the cluster cannot read ScheduleClosed (a
// rolling upgrade), a last run fires without it (the cron then shows no
// next run, as before closing existed) and an unevaluable one waits.
func (e *Engine) closing(pr projections.PendingRun, reason, msg string, last event.Payload) ([]event.Payload, bool) {
	var ps []event.Payload
	if last != nil {
		ps = append(ps, last)
	}
	if !e.repl.Proposable(event.TypeScheduleClosed) {
		e.cfg.Logger.Warn("a cron should close, but a member of the cluster cannot read ScheduleClosed yet",
			"schedule", pr.ScheduleID, "reason", reason, "detail", msg)
		return ps, last != nil
	}
	return append(ps, event.ScheduleClosed{ScheduleID: pr.ScheduleID, AppID: pr.AppID, Reason: reason, Message: msg}), true
}

// missed returns the MISS outcome of a run that is too late to fire; for a
// cron, with the occurrence it resumes at (and the cron's closing if there
// is none). ok is false if that occurrence could not be computed now.
func (e *Engine) missed(pr projections.PendingRun, now time.Time, overdue time.Duration) ([]event.Payload, bool) {
	rc := event.RunCompleted{ScheduleID: pr.ScheduleID, RunID: pr.RunID, AppID: pr.AppID,
		Partition: pr.Partition, ScheduledTime: pr.ScheduledTime, Status: event.StatusMiss}
	due := time.UnixMilli(pr.DueMs).UTC().Format(time.RFC3339)
	if pr.Fired {
		rc.ErrorMessage = fmt.Sprintf("no outcome recorded: fired at %s but leadership changed before its outcome was recorded; "+
			"not re-sent because it is %s overdue (misfire threshold %s)",
			time.UnixMilli(pr.FiredAt).UTC().Format(time.RFC3339), overdue.Round(time.Second), e.cfg.MisfireThreshold)
	} else {
		rc.ErrorMessage = fmt.Sprintf("missed: due at %s but the scheduler could only fire it %s later (misfire threshold %s)",
			due, overdue.Round(time.Second), e.cfg.MisfireThreshold)
	}
	if pr.Kind != projections.KindCron || pr.Fired {
		return []event.Payload{rc}, true
	}
	cutoff := now.Add(-e.cfg.MisfireThreshold).Unix()
	plan := e.askCron(pr.ScheduleID, missPlan{T: pr.ScheduledTime, Cutoff: cutoff})
	switch {
	case errors.Is(plan.err, errNoCron):
		return nil, true
	case plan.unevaluable:
		return e.closing(pr, event.ReasonUnevaluable, plan.err.Error(), nil)
	case plan.err != nil:
		e.cfg.Logger.Warn("cron occurrence after a miss not computed; the run waits", "schedule", pr.ScheduleID,
			"run", pr.RunID, "err", plan.err)
		return nil, false
	}
	rc.NextRunTime, rc.Skipped = plan.next, plan.skipped
	if plan.skipped > 0 {
		rc.ErrorMessage += fmt.Sprintf("; %d later occurrences were skipped with it", plan.skipped)
	}
	if plan.next == 0 && !plan.ended {
		return e.closing(pr, event.ReasonExhausted, fmt.Sprintf("no occurrence after %s (missed)", due), rc)
	}
	return []event.Payload{rc}, true
}

// keepSecrets remembers the signing secrets of apps apply just wrote.
func (e *Engine) keepSecrets(apps []projections.App) {
	if len(apps) == 0 {
		return
	}
	e.secrets.Lock()
	defer e.secrets.Unlock()
	for _, a := range apps {
		e.secrets.apps[a.AppID] = a
	}
}

// signingSecrets are the secrets a call of appID is signed with now.
func (e *Engine) signingSecrets(appID string) []string {
	e.secrets.Lock()
	app, ok := e.secrets.apps[appID]
	e.secrets.Unlock()
	if !ok {
		var err error
		if app, ok, err = e.state.App(appID); err != nil || !ok {
			e.cfg.Logger.Error("signing secrets of an app", "app", appID, "found", ok, "err", err)
			return nil
		}
		e.keepSecrets([]projections.App{app})
	}
	return app.SigningSecrets(e.clock.Now().UnixMilli())
}

// deliver queues the HTTP call of a fired run, or runs its commands; its
// outcome is recorded by the outcome batcher unless this node stopped
// leading meanwhile (then the next leader re-fires it under the same run
// id, or records a command's run as interrupted). ctx is the run's
// delivery: canceled with the term, or alone by CancelRun (CANCELED).
func (e *Engine) deliver(ctx context.Context, pr projections.PendingRun, f projections.FiredRun) {
	s := f.Schedule
	if s.IsCommand() {
		e.runCommand(ctx, pr, f)
		return
	}
	if s.Callback.Workflow != nil {
		e.fireJob(ctx, pr, f)
		return
	}
	req := delivery.Request{
		AppID: pr.AppID, ScheduleID: pr.ScheduleID, RunID: pr.RunID, ScheduledTime: scheduledInstant(pr),
		Method: s.Callback.Method, URL: s.Callback.URL, Headers: s.Callback.Headers, Payload: s.Payload,
		FollowRedirects: s.Callback.FollowRedirects, SigningSecrets: e.signingSecrets(pr.AppID),
		StopContract: s.StopOnCallback, FiredBy: e.firedBy(),
		Self: s.Callback.Local(),
	}
	if sh := s.Callback.Shape; sh != nil {
		req.TimeParam, req.Params, req.SuccessStatus, req.InsecureTLS = sh.TimeParam, sh.Params, sh.SuccessStatus, sh.InsecureTLS
	}
	if sig := s.Callback.Shaping().Signature; sig != nil {
		req.HMAC = &delivery.HMAC{Header: sig.Header, Secret: sig.Secret}
	}
	if p := s.Callback.NumberParam; p != "" {
		req.Query = p + "=" + strconv.FormatUint(s.CreatedSeq, 10)
	}
	policy := e.policyFor(s)
	job := delivery.Job{Req: req, Policy: policy, Done: func(o delivery.Outcome) {
		e.cfg.Metrics.Delivered(pr.AppID, o.StartedAt.Sub(time.UnixMilli(pr.DueMs)), o.FinishedAt.Sub(o.StartedAt), o.Attempts, pr.Fired)
		status := event.StatusSuccess
		switch {
		case o.Canceled && !errors.Is(context.Cause(ctx), errCanceledByUser):
			return // the term ended: the next leader re-fires it
		case o.Canceled:
			status, o.ErrorMessage = event.StatusCanceled, "canceled by request while it was called"
		case !o.Success:
			status = event.StatusFailure
			if ok, omitted := e.failedLog.line(e.clock.Now()); ok {
				e.cfg.Logger.Warn("run failed", "app", pr.AppID, "schedule", pr.ScheduleID, "run", pr.RunID,
					"attempts", o.Attempts, "maxAttempts", policy.MaxAttempts, "httpStatus", o.HTTPStatus,
					"error", o.ErrorMessage, "failedRunsNotLogged", omitted)
			}
		}
		outcome := []event.Payload{event.RunCompleted{
			ScheduleID: pr.ScheduleID, RunID: pr.RunID, AppID: pr.AppID, Partition: pr.Partition,
			ScheduledTime: pr.ScheduledTime, Status: status, ErrorMessage: o.ErrorMessage,
			HTTPStatus: o.HTTPStatus, Attempts: o.Attempts,
			StartedAt: o.StartedAt.UnixMilli(), FinishedAt: o.FinishedAt.UnixMilli(),
		}}
		if o.Stop {
			outcome = append(outcome, event.ScheduleStoppedByCallback{ScheduleID: pr.ScheduleID, AppID: pr.AppID,
				RunID: pr.RunID, HTTPStatus: o.HTTPStatus, Response: o.Response})
		}
		e.out.add(e.notifyAfter(s, f.Counter, nil), outcome...)
	}}
	if err := e.pool.Submit(ctx, job); err != nil {
		e.cfg.Logger.Warn("delivery not queued", "run", pr.RunID, "err", err)
	}
}

// policyFor merges a schedule's retry overrides into the server default.
func (e *Engine) policyFor(s projections.Schedule) delivery.Policy {
	p := e.cfg.Policy
	if r := s.Retry; r != nil {
		if r.MaxAttempts > 0 {
			p.MaxAttempts = r.MaxAttempts
		}
		if r.TimeoutMs > 0 {
			p.Timeout = time.Duration(r.TimeoutMs) * time.Millisecond
		}
		if r.InitialBackoffMs > 0 {
			p.InitialBackoff = time.Duration(r.InitialBackoffMs) * time.Millisecond
		}
		if r.MaxBackoffMs > 0 {
			p.MaxBackoff = time.Duration(r.MaxBackoffMs) * time.Millisecond
		}
		if r.RetryOn4xx != nil {
			p.RetryOn4xx = *r.RetryOn4xx
		}
	}
	return p
}

// scheduledInstant is the time a callback reports as scheduled: the due
// millisecond of a one-time run (which may be sub-second), the occurrence
// of a cron run, the original time of a reconciled run.
func scheduledInstant(pr projections.PendingRun) time.Time {
	if pr.Kind == projections.KindOnce {
		return time.UnixMilli(pr.DueMs)
	}
	return time.Unix(pr.ScheduledTime, 0)
}
