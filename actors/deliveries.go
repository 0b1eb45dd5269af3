package actors

import (
	"context"
	"sync"

	"github.com/chronicle-sched/chronicle/projections"
)

// deliveries holds the runs this node fired and is delivering, with the
// context of the term it fired them in. A timer started later in that
// term (its partition's timer had retired meanwhile, or its app was
// deactivated and activated again) takes over the in-flight runs no one
// delivers: these it must leave alone, or their receivers would be called
// twice. A run leaves when it stops being pending (its outcome applied);
// those of an ended term (their context canceled) no longer count and go
// when the next term steps down.
type deliveries struct {
	mu   sync.Mutex
	runs map[string]context.Context
}

// add records run id as being delivered in the term of ctx.
func (d *deliveries) add(runID string, ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.runs == nil {
		d.runs = map[string]context.Context{}
	}
	d.runs[runID] = ctx
}

// going reports whether run id is being delivered in a term not ended.
func (d *deliveries) going(runID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	ctx, ok := d.runs[runID]
	return ok && ctx.Err() == nil
}

// forget drops the runs among changes that are no longer pending.
func (d *deliveries) forget(changes []projections.PendingChange) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.runs) == 0 {
		return
	}
	for _, c := range changes {
		if c.Gone {
			delete(d.runs, c.Run.RunID)
		}
	}
}

// count is the number of runs being delivered in terms not ended.
func (d *deliveries) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, ctx := range d.runs {
		if ctx.Err() == nil {
			n++
		}
	}
	return n
}

// reset forgets every run: the term ended.
func (d *deliveries) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.runs)
}
