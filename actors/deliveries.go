package actors

import (
	"context"
	"errors"
	"sync"

	"github.com/chronicle-sched/chronicle/projections"
)

// deliveries holds the runs this node fired and is delivering (calling,
// or running the commands of), each with the context of its delivery: a
// child of the term's, canceled with the term or, for that run alone, by
// CancelRun. A timer started later in that term (its partition's timer
// had retired meanwhile, or its app was deactivated and activated again)
// takes over the in-flight runs no one delivers: these it must leave
// alone, or their receivers would be called twice. A run leaves when it
// stops being pending (its outcome applied); those of an ended term (their
// context canceled) no longer count and go when the next term steps down.
type deliveries struct {
	mu   sync.Mutex
	runs map[string]delivering
}

type delivering struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	schedule string
}

// errCanceledByUser is the cause of a delivery canceled through CancelRun:
// its outcome is recorded CANCELED (a term that ends records nothing).
var errCanceledByUser = errors.New("canceled by request")

// add records run id of schedule as being delivered in the term of ctx,
// and returns the context its delivery runs under.
func (d *deliveries) add(runID, schedule string, ctx context.Context) context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.runs == nil {
		d.runs = map[string]delivering{}
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	d.runs[runID] = delivering{ctx: runCtx, cancel: cancel, schedule: schedule}
	return runCtx
}

// going reports whether run id is being delivered in a term not ended
// (one canceled by CancelRun is, until its CANCELED outcome is applied).
func (d *deliveries) going(runID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.runs[runID]
	return ok && r.alive()
}

// alive: not cut short by the end of its term.
func (r delivering) alive() bool {
	return r.ctx.Err() == nil || errors.Is(context.Cause(r.ctx), errCanceledByUser)
}

// cancelSchedule cancels the deliveries of schedule's runs going on, and
// returns their run ids.
func (d *deliveries) cancelSchedule(schedule string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	for id, r := range d.runs {
		if r.schedule == schedule && r.ctx.Err() == nil {
			r.cancel(errCanceledByUser)
			ids = append(ids, id)
		}
	}
	return ids
}

// forget drops the runs among changes that are no longer pending.
func (d *deliveries) forget(changes []projections.PendingChange) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.runs) == 0 {
		return
	}
	for _, c := range changes {
		if r, ok := d.runs[c.Run.RunID]; ok && c.Gone {
			r.cancel(nil) // its context's resources
			delete(d.runs, c.Run.RunID)
		}
	}
}

// count is the number of runs being delivered in terms not ended.
func (d *deliveries) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, r := range d.runs {
		if r.alive() {
			n++
		}
	}
	return n
}

// reset forgets every run: the term ended.
func (d *deliveries) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.runs {
		r.cancel(nil)
	}
	clear(d.runs)
}
