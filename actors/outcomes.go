package actors

import (
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// outcomeBatcher turns delivery outcomes into RunCompleted events, many per
// Raft entry: at thousands of callbacks a second, one entry per outcome
// would spend the log's fsyncs on bookkeeping.
type outcomeBatcher struct {
	eng  *Engine
	in   chan outcomeItem // a run's outcome, and what goes with it
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup // the run loop, which close waits for
}

const (
	// maxOutputBytesPerEntry bounds the commands' outputs one entry
	// carries (each is up to admit.MaxOutputBytes): Raft entries stay a
	// few MiB.
	maxOutputBytesPerEntry = 4 << 20
	outcomeFlushEvery      = 5 * time.Millisecond
	outcomeQueue           = 1 << 16
	// A batch that could not be proposed while this node leads is tried
	// again after outcomeRetryFirst, doubling up to outcomeRetryMax.
	outcomeRetryFirst = 50 * time.Millisecond
	outcomeRetryMax   = 2 * time.Second
)

func newOutcomeBatcher(e *Engine) *outcomeBatcher {
	b := &outcomeBatcher{eng: e, in: make(chan outcomeItem, outcomeQueue), done: make(chan struct{})}
	b.wg.Add(1)
	go b.run()
	return b
}

// outcomeItem is a run's outcome: its events, kept together in one entry
// (RunOutput, RunCompleted, a ScheduleStoppedByCallback), and what to do
// once its RunCompleted is applied (after, if any: its notifications).
type outcomeItem struct {
	events []event.Payload
	after  func(event.RunCompleted)
}

// add queues a run's outcome; it blocks only if the queue is full, which
// slows deliveries down rather than dropping outcomes.
func (b *outcomeBatcher) add(after func(event.RunCompleted), outcome ...event.Payload) {
	select {
	case b.in <- outcomeItem{events: outcome, after: after}:
	case <-b.done:
	}
}

// close stops the batcher once the batch being recorded, if any, is.
func (b *outcomeBatcher) close() {
	b.once.Do(func() { close(b.done) })
	b.wg.Wait()
}

func (b *outcomeBatcher) run() {
	defer b.wg.Done()
	var pending []event.Payload
	var afters []func() // to call once the entry is applied
	var results []raftfsm.Result
	bytes := 0 // of the commands' outputs in pending
	flush := time.NewTicker(outcomeFlushEvery)
	defer flush.Stop()
	for {
		select {
		case item := <-b.in:
			outcome := item.events
			if item.after != nil {
				at, after := len(pending), item.after
				for i, p := range outcome {
					if rc, ok := p.(event.RunCompleted); ok {
						at += i
						afters = append(afters, func() {
							if at < len(results) && results[at].Err == nil {
								after(rc)
							}
						})
						break
					}
				}
			}
			pending = append(pending, outcome...)
			for _, p := range outcome {
				if o, ok := p.(event.RunOutput); ok {
					bytes += len(o.Output)
				}
			}
			if len(pending) < maxEventsPerEntry && bytes < maxOutputBytesPerEntry {
				continue
			}
		case <-flush.C:
			if len(pending) == 0 {
				continue
			}
		case <-b.done:
			return
		}
		results = b.record(pending)
		for _, f := range afters {
			// Not on this goroutine: what they do (a notification that
			// fails at once is recorded) comes back to this batcher.
			b.eng.inBackground(f)
		}
		pending, bytes, afters = pending[:0], 0, afters[:0]
	}
}

// record proposes one batch until it is committed or this node stops
// leading. A proposal can fail while the node still leads (a timeout on a
// loaded disk): dropping the outcomes then would leave the runs in flight
// until some later leader re-fired them. Once leadership is lost, the runs
// stay in flight in the projection and the next leader re-fires them under
// the same run ids; nothing is lost, a receiver may see a duplicate it can
// recognise. A retry of a batch that did commit is refused by apply (the
// runs are no longer in flight), which changes nothing.
// It returns each event's result (nil if the batch was given up).
func (b *outcomeBatcher) record(batch []event.Payload) []raftfsm.Result {
	var results []raftfsm.Result
	for delay := outcomeRetryFirst; ; delay = min(2*delay, outcomeRetryMax) {
		var err error
		if results, err = b.eng.propose(batch...); err == nil {
			break
		}
		if !b.eng.Leading() {
			b.eng.cfg.Logger.Warn("record run outcomes: leadership lost; the next leader re-fires them", "runs", len(batch), "err", err)
			return nil
		}
		b.eng.cfg.Logger.Warn("record run outcomes: retrying", "runs", len(batch), "in", delay, "err", err)
		select {
		case <-time.After(delay):
		case <-b.done:
			return nil
		}
	}
	for i, r := range results {
		if r.Err != nil {
			b.eng.cfg.Logger.Debug("run outcome not recorded", "event", batch[i].EventType(), "err", r.Err)
		} else if rc, ok := batch[i].(event.RunCompleted); ok {
			b.eng.cfg.Metrics.RunCompleted(rc.AppID, rc.Status) // counted once committed, like a MISS
		}
	}
	return results
}
