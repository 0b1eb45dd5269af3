package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrPoolClosed: Submit after Close.
var ErrPoolClosed = errors.New("delivery pool is closed")

// Job is a delivery and what to do with its outcome. Done runs on the
// worker goroutine.
type Job struct {
	Ctx    context.Context // cancels the delivery; nil means the Submit ctx
	Req    Request
	Policy Policy
	Done   func(Outcome)
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
}

// NewPool starts workers that take jobs from a queue of the given size.
func NewPool(client *Client, workers, queue int) *Pool {
	if workers < 1 {
		workers = 1
	}
	p := &Pool{client: client, jobs: make(chan Job, queue), closed: make(chan struct{})}
	for i := 0; i < workers; i++ {
		p.wg.Add(1)
		go p.work()
	}
	return p
}

// Submit queues a job, blocking while the queue is full.
func (p *Pool) Submit(ctx context.Context, j Job) error {
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

// InFlight is the number of deliveries running now.
func (p *Pool) InFlight() int { return int(p.inFlight.Load()) }

// Close stops taking jobs, waits for running ones, and reports jobs that
// never started as canceled.
func (p *Pool) Close() {
	p.once.Do(func() {
		close(p.closed)
		p.mu.Lock() // no Submit is sending any more
		close(p.jobs)
		p.mu.Unlock()
		p.wg.Wait()
	})
}

func (p *Pool) work() {
	defer p.wg.Done()
	for j := range p.jobs {
		select {
		case <-p.closed:
			p.finish(j, Outcome{Canceled: true})
			continue
		default:
		}
		p.inFlight.Add(1)
		out := p.deliver(j)
		p.inFlight.Add(-1)
		p.finish(j, out)
	}
}

// deliver never lets a panic escape a worker: it becomes a failed outcome.
func (p *Pool) deliver(j Job) (out Outcome) {
	defer func() {
		if v := recover(); v != nil {
			p.client.logger.Error("panic delivering callback", "run", j.Req.RunID, "panic", v)
			out = Outcome{ErrorMessage: fmt.Sprintf("internal error delivering callback: %v", v), Attempts: 1}
		}
	}()
	return p.client.Deliver(j.Ctx, j.Req, j.Policy)
}

func (p *Pool) finish(j Job, o Outcome) {
	if j.Done == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			p.client.logger.Error("panic in delivery outcome handler", "run", j.Req.RunID, "panic", v)
		}
	}()
	j.Done(o)
}
