package delivery

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// ErrPoolClosed is returned by Submit after Close.
var ErrPoolClosed = errors.New("delivery pool is closed")

// Job is a delivery and what to do with its outcome.
type Job struct {
	// Ctx cancels the delivery (its Outcome is then Canceled); nil means
	// the ctx given to Submit, so that ending it — e.g. losing leadership —
	// also stops the deliveries it queued.
	Ctx    context.Context
	Req    Request
	Policy Policy
	// Done receives the outcome on the worker goroutine; it may be nil. It
	// must not call Close. A job still queued when the pool closes gets
	// Outcome{Canceled: true}.
	Done func(Outcome)
}

// Pool runs deliveries on a fixed number of workers, so a burst of due
// runs or a slow receiver cannot open unbounded connections.
type Pool struct {
	client   *Client
	jobs     chan Job
	wg       sync.WaitGroup
	closed   chan struct{}
	once     sync.Once
	mu       sync.RWMutex // held shared by Submit while it may send on jobs
	inFlight atomic.Int64
	// run delivers one job; a field so that tests can make it panic.
	run func(ctx context.Context, req Request, p Policy) Outcome
}

// NewPool starts workers (at least 1) taking jobs from a queue of the
// given size (0 = Submit waits for a free worker).
func NewPool(client *Client, workers, queue int) *Pool {
	workers = max(workers, 1)
	queue = max(queue, 0)
	p := &Pool{client: client, jobs: make(chan Job, queue), closed: make(chan struct{}), run: client.Deliver}
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

// Submit queues a job, blocking while the queue is full. It returns
// ctx.Err() if ctx ends first (or had ended), ErrPoolClosed once Close has
// begun. A nil error means Done will be called exactly once.
func (p *Pool) Submit(ctx context.Context, j Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if j.Ctx == nil {
		j.Ctx = ctx
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	select {
	case <-p.closed:
		return ErrPoolClosed
	default:
	}
	select {
	case p.jobs <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.closed:
		return ErrPoolClosed
	}
}

// InFlight is the number of jobs a worker is on now: delivering, or
// running Done.
func (p *Pool) InFlight() int { return int(p.inFlight.Load()) }

// Close stops taking jobs, waits for the running ones (cancel their ctx to
// hurry them), and reports jobs that never started as canceled. It is
// idempotent; it must not be called from Done.
func (p *Pool) Close() {
	p.once.Do(func() {
		close(p.closed) // wakes Submits blocked on a full queue
		p.mu.Lock()     // no Submit is sending any more
		close(p.jobs)
		p.mu.Unlock()
	})
	p.wg.Wait()
}

func (p *Pool) work() {
	defer p.wg.Done()
	for j := range p.jobs {
		p.inFlight.Add(1)
		select {
		case <-p.closed:
			p.finish(j, Outcome{Canceled: true, ErrorMessage: "delivery pool closed before the call started"})
		default:
			p.finish(j, p.deliver(j))
		}
		p.inFlight.Add(-1)
	}
}

// deliver never lets a panic escape a worker: it becomes a failed outcome.
func (p *Pool) deliver(j Job) (out Outcome) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			p.client.logger.Error("panic delivering callback", "schedule", j.Req.ScheduleID, "run", j.Req.RunID,
				"panic", v, "stack", string(debug.Stack()))
			out = Outcome{
				ErrorMessage: fmt.Sprintf("internal error delivering callback: %v", v),
				Attempts:     max(out.Attempts, 1),
				StartedAt:    start, FinishedAt: time.Now(),
			}
		}
	}()
	return p.run(j.Ctx, j.Req, j.Policy)
}

func (p *Pool) finish(j Job, o Outcome) {
	if j.Done == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			p.client.logger.Error("panic in delivery outcome handler", "schedule", j.Req.ScheduleID, "run", j.Req.RunID,
				"panic", v, "stack", string(debug.Stack()))
		}
	}()
	j.Done(o)
}
