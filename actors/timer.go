package actors

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
)

// maxEventsPerEntry caps how many events one Raft entry carries, so a
// burst of due runs becomes a few large entries rather than one huge one.
const maxEventsPerEntry = 512

// Messages to timer actors.
type (
	tick      struct{}
	dueAdded  struct{ run projections.PendingRun }
	dueGone   struct{ runID string }
	firedDone struct{ runIDs []string }
	// windowLoaded carries the runs a background load read, due in
	// [from, until).
	windowLoaded struct {
		until int64
		runs  []projections.PendingRun
		err   error
	}
)

// timerActor fires the runs of one app partition, on the leader only. It
// keeps in memory just the runs due before loadedUntil (a near window
// ahead of now) and reads further ahead from the projection as time
// passes, so memory does not grow with the number of pending schedules.
type timerActor struct {
	eng  *Engine
	key  timerKey
	ctx  context.Context // canceled when this node stops leading
	self *actor.PID

	due         dueHeap
	queued      map[string]bool // run ids in the heap (false: removed, lazily)
	firing      map[string]bool // popped and being proposed
	loadedUntil int64           // unix ms: every due run before it is queued or firing
	wake        *time.Timer
	// A load of the next part of the window runs in the background, so
	// that reading thousands of pending runs never holds up firing the
	// runs due now. While it runs, runs that become pending before
	// loadingUntil are queued as they are announced (dueAdded): the load
	// may have started reading before they were written.
	loading      bool
	loadingUntil int64
	loadAfter    time.Time // after a failed load: not before this
}

func newTimer(e *Engine, k timerKey, ctx context.Context) *timerActor {
	return &timerActor{eng: e, key: k, ctx: ctx, queued: map[string]bool{}, firing: map[string]bool{}}
}

func (t *timerActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		t.self = ctx.Self()
		t.start()
	case *actor.Stopping:
		if t.wake != nil {
			t.wake.Stop()
		}
	case tick:
		t.process()
	case dueAdded:
		bound := t.loadedUntil
		if t.loading {
			bound = t.loadingUntil
		}
		if m.run.DueMs < bound && !t.queued[m.run.RunID] && !t.firing[m.run.RunID] {
			t.push(m.run)
			t.arm()
		}
	case windowLoaded:
		t.loaded(m)
	case dueGone:
		if t.queued[m.runID] {
			t.queued[m.runID] = false
		}
	case firedDone:
		for _, id := range m.runIDs {
			delete(t.firing, id)
		}
	}
}

// start queues runs left in flight by a previous leader (to re-fire under
// the same run id, or record as missed), then processes: with nothing
// loaded yet, that starts the load of everything due in the window,
// including runs that fell due while nobody was leading.
func (t *timerActor) start() {
	err := t.eng.state.InflightRuns(t.key.app, t.key.partition, func(pr projections.PendingRun) bool {
		t.push(pr)
		return true
	})
	if err != nil {
		t.eng.cfg.Logger.Error("load in-flight runs", "app", t.key.app, "partition", t.key.partition, "err", err)
	}
	t.process()
}

// loadAhead starts reading the runs due in [loadedUntil, until) in the
// background; windowLoaded brings them back.
func (t *timerActor) loadAhead(until int64) {
	t.loading, t.loadingUntil = true, until
	from, q, key := t.loadedUntil, t.eng.state, t.key
	self, root := t.self, t.eng.system.Root
	go func() {
		var runs []projections.PendingRun
		err := q.DueRuns(key.app, key.partition, from, until, func(pr projections.PendingRun) bool {
			runs = append(runs, pr)
			return true
		})
		root.Send(self, windowLoaded{until: until, runs: runs, err: err})
	}()
}

// loaded queues what a background load read. A run it read may have fired
// and completed meanwhile (announced by dueAdded, or gone): queuing it again
// costs at most a RunFired that apply refuses, since it is no longer pending.
func (t *timerActor) loaded(m windowLoaded) {
	t.loading = false
	if m.err != nil {
		t.eng.cfg.Logger.Error("load due runs", "app", t.key.app, "partition", t.key.partition, "err", m.err)
		t.loadAfter = t.eng.cfg.Now().Add(time.Second)
		t.arm()
		return
	}
	for _, pr := range m.runs {
		if !t.queued[pr.RunID] && !t.firing[pr.RunID] {
			t.push(pr)
		}
	}
	t.loadedUntil = m.until
	t.process()
}

func (t *timerActor) push(pr projections.PendingRun) {
	t.queued[pr.RunID] = true
	heap.Push(&t.due, pr)
}

// process fires everything due now and re-arms the wake-up.
func (t *timerActor) process() {
	now := t.eng.cfg.Now()
	nowMs := now.UnixMilli()
	window := t.eng.cfg.Window.Milliseconds()
	if !t.loading && t.loadedUntil-nowMs < window/2 && !now.Before(t.loadAfter) {
		t.loadAhead(nowMs + window)
	}
	var batch []projections.PendingRun
	for t.due.Len() > 0 && t.due[0].DueMs <= nowMs {
		pr := heap.Pop(&t.due).(projections.PendingRun)
		live := t.queued[pr.RunID]
		delete(t.queued, pr.RunID)
		if !live || t.firing[pr.RunID] {
			continue
		}
		t.firing[pr.RunID] = true
		batch = append(batch, pr)
	}
	if len(batch) > 0 {
		t.eng.fires.submit(fireRequest{ctx: t.ctx, timer: t.self, runs: batch})
	}
	t.arm()
}

// arm schedules the next tick: the next due run, or the next window load
// (none while one is running: its answer processes again).
func (t *timerActor) arm() {
	next := max(t.loadedUntil-t.eng.cfg.Window.Milliseconds()/2, t.loadAfter.UnixMilli())
	if t.loading {
		next = math.MaxInt64
	}
	if t.due.Len() > 0 && t.due[0].DueMs < next {
		next = t.due[0].DueMs
	}
	if t.wake != nil {
		t.wake.Stop()
	}
	if next == math.MaxInt64 {
		return // loading, nothing queued: the load's answer re-arms
	}
	d := time.Until(time.UnixMilli(next))
	if d < 0 {
		d = 0
	}
	self, root := t.self, t.eng.system.Root
	t.wake = time.AfterFunc(d, func() { root.Send(self, tick{}) })
}

// fireItem is one due run handed to the fire batcher, with the context
// of the leadership term whose timer popped it.
type fireItem struct {
	ctx context.Context
	pr  projections.PendingRun
}

// fireChunk records a chunk of due runs as fired (or missed) in one Raft
// entry and, for each RunFired that applied, hands the call to the
// delivery pool. The RunFired commit comes first: a node that can no
// longer commit (a deposed leader) never calls out.
func (e *Engine) fireChunk(chunk []fireItem) error {
	now := e.cfg.Now()
	threshold := e.cfg.MisfireThreshold
	var payloads []event.Payload
	var fired []fireItem
	for _, it := range chunk {
		pr := it.pr
		if it.ctx.Err() != nil {
			continue // popped in a term this node no longer leads
		}
		// A run of a schedule deleted meanwhile is no longer pending:
		// apply rejects its RunFired, and nothing is called.
		overdue := now.Sub(time.UnixMilli(pr.DueMs))
		if overdue > threshold {
			payloads = append(payloads, e.missed(pr, now, overdue))
			continue
		}
		rf := event.RunFired{ScheduleID: pr.ScheduleID, RunID: pr.RunID, AppID: pr.AppID,
			Partition: pr.Partition, ScheduledTime: pr.ScheduledTime, Refire: pr.Fired}
		if pr.Kind == projections.KindCron && !pr.Fired {
			rf.NextRunTime = e.cronNext(pr.ScheduleID, pr.ScheduledTime)
		}
		payloads = append(payloads, rf)
		fired = append(fired, it)
	}
	if len(payloads) == 0 {
		return nil
	}
	results, err := e.propose(payloads...)
	if err != nil {
		return err
	}
	rejected := map[string]bool{}
	for i, p := range payloads {
		if rf, ok := p.(event.RunFired); ok && results[i].Err != nil {
			rejected[rf.RunID] = true // deleted, deactivated or already fired meanwhile
		}
	}
	for _, it := range fired {
		if rejected[it.pr.RunID] {
			continue
		}
		// Apply handed over the schedule it read (Observe ran before the
		// proposal returned); reading it again is only a fallback.
		s, ok := e.takeFired(it.pr.RunID)
		if !ok {
			if s, ok, err = e.state.Schedule(it.pr.ScheduleID); err != nil || !ok {
				e.cfg.Logger.Error("schedule of a fired run", "run", it.pr.RunID, "found", ok, "err", err)
				continue
			}
		}
		e.deliver(it.ctx, it.pr, s)
	}
	return nil
}

// missed builds the MISS outcome of a run that is too late to fire.
func (e *Engine) missed(pr projections.PendingRun, now time.Time, overdue time.Duration) event.Payload {
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
	if pr.Kind == projections.KindCron && !pr.Fired {
		cutoff := now.Add(-e.cfg.MisfireThreshold).Unix()
		plan := e.cronMissPlan(pr.ScheduleID, pr.ScheduledTime, cutoff)
		rc.NextRunTime, rc.Skipped = plan.Next, plan.Skipped
		if plan.Skipped > 0 {
			rc.ErrorMessage += fmt.Sprintf("; %d later occurrences were skipped with it", plan.Skipped)
		}
	}
	return rc
}

func (e *Engine) cronNext(id string, t int64) int64 {
	res, err := e.system.Root.RequestFuture(e.cronPID(id), nextAfter{T: t}, e.cfg.ProposeTimeout).Result()
	if err != nil {
		e.cfg.Logger.Error("cron next fire time", "schedule", id, "err", err)
		return 0
	}
	return res.(int64)
}

func (e *Engine) cronMissPlan(id string, t, cutoff int64) missAnswer {
	res, err := e.system.Root.RequestFuture(e.cronPID(id), missPlan{T: t, Cutoff: cutoff}, e.cfg.ProposeTimeout).Result()
	if err != nil {
		e.cfg.Logger.Error("cron miss plan", "schedule", id, "err", err)
		return missAnswer{}
	}
	return res.(missAnswer)
}

// deliver queues the HTTP call of a fired run; its outcome is recorded by
// the outcome batcher unless this node stopped leading meanwhile (then the
// next leader re-fires it under the same run id).
func (e *Engine) deliver(ctx context.Context, pr projections.PendingRun, s projections.Schedule) {
	req := delivery.Request{
		ScheduleID: pr.ScheduleID, RunID: pr.RunID, ScheduledTime: scheduledInstant(pr),
		Method: s.Callback.Method, URL: s.Callback.URL, Headers: s.Callback.Headers, Payload: s.Payload,
	}
	job := delivery.Job{Req: req, Policy: e.policyFor(s), Done: func(o delivery.Outcome) {
		if o.Canceled {
			return
		}
		status := event.StatusSuccess
		if !o.Success {
			status = event.StatusFailure
		}
		e.out.add(event.RunCompleted{
			ScheduleID: pr.ScheduleID, RunID: pr.RunID, AppID: pr.AppID, Partition: pr.Partition,
			ScheduledTime: pr.ScheduledTime, Status: status, ErrorMessage: o.ErrorMessage,
			HTTPStatus: o.HTTPStatus, Attempts: o.Attempts,
			StartedAt: o.StartedAt.UnixMilli(), FinishedAt: o.FinishedAt.UnixMilli(),
		})
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

func unixTime(s int64) time.Time { return time.Unix(s, 0).UTC() }

// dueHeap orders pending runs by due time, then run id (deterministic).
type dueHeap []projections.PendingRun

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].DueMs != h[j].DueMs {
		return h[i].DueMs < h[j].DueMs
	}
	return h[i].RunID < h[j].RunID
}
func (h dueHeap) Swap(i, j int)       { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x interface{}) { *h = append(*h, x.(projections.PendingRun)) }
func (h *dueHeap) Pop() interface{} {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
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
