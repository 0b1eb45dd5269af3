// Package notify tells people that a run or job succeeded, failed, waited
// or ran too long: by email (SMTP) and by signed webhook. Notifications go
// on a bounded queue served by a few workers; each is retried on
// delivery's backoff, and its final outcome is handed to a callback so the
// engine can record it as an event. Send never waits for a delivery, so
// firing is never held up by a slow mail server. Every connection, SMTP or
// HTTP, is dialled through delivery's SSRF guard. The package knows
// nothing of actors, Raft or storage.
package notify

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/actors/delivery"
)

// A Channel is where a notification goes: an Email or a Webhook.
type Channel interface {
	// Kind is "email" or "webhook".
	Kind() string
	validate(g *delivery.Guard) error
}

// Notification is one message to one channel.
type Notification struct {
	// ID names the notification, the same on every attempt and on a
	// re-send of it (say "<run id>/failed/<channel>"): the webhook-id
	// header and the source of the email's Message-ID, so receivers can
	// drop duplicates. Required.
	ID      string
	Subject string // the email's subject
	Body    string // the email's plain-text body
	// Document is the webhook's JSON body (e.g. the run record). Required
	// for a webhook, unused by email.
	Document json.RawMessage
	Channel  Channel
}

// Outcome is what became of a notification. It holds no secret, so it
// may be recorded as it is.
type Outcome struct {
	ID       string
	Channel  string // "email" or "webhook"
	Success  bool
	Attempts int    // attempts made (connections tried)
	Error    string // why the last attempt failed; "" on success
	// Status is the last attempt's HTTP status or SMTP reply code, 0 when
	// it got none.
	Status     int
	StartedAt  time.Time // first attempt
	FinishedAt time.Time
	// Canceled: stopped by Send's ctx or by Close before a final outcome.
	// It says nothing of the notification; do not record it as failed.
	Canceled bool
}

var (
	// ErrQueueFull is Send's answer when the queue has no room: the
	// notification is dropped, Done is not called for it, and the caller
	// decides (record it as failed, or send it again later).
	ErrQueueFull = errors.New("notification queue is full")
	// ErrClosed is Send's answer once Close has begun.
	ErrClosed = errors.New("notifier is closed")
	// ErrInvalid wraps what Send finds wrong with a notification before
	// queueing it.
	ErrInvalid = errors.New("invalid notification")
)

// DefaultPolicy: 5 attempts of at most 30s each, backoff from 2s doubling
// up to a minute (with delivery's full jitter): a mail server restarting
// or a receiver deploying is waited out, a dead one gives up within about
// two minutes.
func DefaultPolicy() delivery.Policy {
	return delivery.Policy{Timeout: 30 * time.Second, MaxAttempts: 5, InitialBackoff: 2 * time.Second,
		MaxBackoff: time.Minute}
}

// Options configure a Notifier. Zero values take the defaults.
type Options struct {
	Workers int // concurrent deliveries; default 2
	Queue   int // notifications waiting for a worker; default 64
	// Policy bounds each notification's attempts: Timeout per attempt
	// (dial to the end of the SMTP session or HTTP response), MaxAttempts,
	// backoff. RetryOn4xx makes a webhook's 4xx retryable. Zero: DefaultPolicy.
	Policy delivery.Policy
	// StepTimeout bounds each step of an SMTP session (connect, TLS
	// handshake, greeting, every command and the message); default 10s.
	StepTimeout time.Duration
	// Guard checks every address dialled, SMTP and HTTP alike (nil: a guard
	// with delivery.DefaultDeny).
	Guard    *delivery.Guard
	Resolver *net.Resolver // nil: the system's
	// RootCAs verify SMTP and HTTPS servers (nil: the system's pool).
	RootCAs *x509.CertPool
	// HelloName is sent in EHLO (default: the host name, else "localhost").
	HelloName string
	Logger    *slog.Logger // default slog.Default()
	// Done receives every accepted notification's outcome, once, on a
	// worker goroutine. It must not call Close.
	Done func(Outcome)
	// OnAttempt, if set, is told of every attempt and its error (nil on
	// success), on the worker goroutine: for metrics and tests.
	OnAttempt func(id string, attempt int, err error)
}

// Notifier delivers notifications on a bounded queue and a fixed number
// of workers. It is safe for concurrent use.
type Notifier struct {
	o      Options
	policy delivery.Policy
	http   *http.Client
	queue  chan job
	// mu is held shared by Send while it may put on queue, and exclusively
	// by Close to close queue: no Send puts on a closed channel.
	mu     sync.RWMutex
	closed bool
	// base ends when Close gives up waiting: it cancels every delivery.
	base      context.Context
	cancelAll context.CancelFunc
	wg        sync.WaitGroup
}

type job struct {
	ctx context.Context
	n   Notification
}

// New starts a notifier's workers.
func New(o Options) *Notifier {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Queue <= 0 {
		o.Queue = 64
	}
	if o.Policy == (delivery.Policy{}) {
		o.Policy = DefaultPolicy()
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 10 * time.Second
	}
	if o.Guard == nil {
		o.Guard = delivery.NewGuard(delivery.DefaultDeny, nil, nil)
	}
	if o.HelloName == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			o.HelloName = h
		} else {
			o.HelloName = "localhost"
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	base, cancel := context.WithCancel(context.Background())
	n := &Notifier{o: o, policy: o.Policy.Normalised(), http: newHTTPClient(o), queue: make(chan job, o.Queue),
		base: base, cancelAll: cancel}
	n.wg.Add(o.Workers)
	for range o.Workers {
		go n.work()
	}
	return n
}

// Send queues a notification and returns at once: it never waits for a
// worker or for room in the queue. A nil error means Done will be called
// exactly once with its outcome. Otherwise the notification was not
// queued: ErrInvalid (wrapped, naming the problem), ErrQueueFull, ErrClosed,
// or ctx's error if ctx had ended.
//
// ctx bounds the delivery, not only the call: when it ends the delivery
// stops and its outcome is Canceled. Pass a context that lives as long as
// the notification should (the leadership's), not a request's.
func (n *Notifier) Send(ctx context.Context, nt Notification) error {
	if err := nt.validate(n.o.Guard); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return ErrClosed
	}
	select {
	case n.queue <- job{ctx: ctx, n: nt}:
		return nil
	default:
		return ErrQueueFull
	}
}

// Close stops taking notifications and waits until the queued and
// in-flight ones are done, or until ctx ends: then it cancels the rest
// (their outcomes are Canceled), waits for the workers to report them and
// returns ctx's error. Every accepted notification's Done has been called
// when Close returns. It may be called more than once; not from Done.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		n.cancelAll()
		return nil
	case <-ctx.Done():
		n.cancelAll() // attempts end: their connections are closed
		<-done
		return ctx.Err()
	}
}

func (n *Notifier) work() {
	defer n.wg.Done()
	for j := range n.queue {
		ctx, cancel := context.WithCancel(j.ctx)
		stop := context.AfterFunc(n.base, cancel)
		if n.base.Err() != nil {
			cancel() // AfterFunc cancels in a goroutine of its own: do not start an attempt meanwhile
		}
		out := n.deliverSafely(ctx, j.n)
		stop()
		cancel()
		n.finish(out)
	}
}

// deliverSafely never lets a panic escape a worker: it becomes a failed
// outcome.
func (n *Notifier) deliverSafely(ctx context.Context, nt Notification) (out Outcome) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			n.o.Logger.Error("panic delivering notification", "id", nt.ID, "panic", v, "stack", string(debug.Stack()))
			out = Outcome{ID: nt.ID, Channel: nt.Channel.Kind(), Attempts: max(out.Attempts, 1),
				Error: fmt.Sprintf("internal error delivering notification: %v", v), StartedAt: start,
				FinishedAt: time.Now()}
		}
	}()
	return n.deliver(ctx, nt)
}

func (n *Notifier) finish(out Outcome) {
	if n.o.Done == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			n.o.Logger.Error("panic in notification outcome handler", "id", out.ID, "panic", v,
				"stack", string(debug.Stack()))
		}
	}()
	n.o.Done(out)
}

// finalError is an attempt's failure that no retry can fix: a refused
// address, an untrusted certificate, a server without STARTTLS, a 5xx SMTP
// reply (a wrong password), a webhook's 4xx.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

func final(err error) error { return &finalError{err} }

// deliver makes attempts until one succeeds, a failure is final, the
// attempts run out or ctx ends.
func (n *Notifier) deliver(ctx context.Context, nt Notification) Outcome {
	p := n.policy
	out := Outcome{ID: nt.ID, Channel: nt.Channel.Kind(), StartedAt: time.Now()}
	canceled := func() Outcome {
		out.Canceled, out.Error, out.FinishedAt = true, "notification canceled before a final outcome", time.Now()
		return out
	}
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return canceled()
		}
		actx, cancel := context.WithTimeout(ctx, p.Timeout)
		status, err := n.attempt(actx, nt)
		if err != nil && errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("attempt timed out after %s: %w", p.Timeout, err)
		}
		cancel()
		out.Attempts, out.Status = attempt, status
		if n.o.OnAttempt != nil {
			n.o.OnAttempt(nt.ID, attempt, err)
		}
		if err == nil {
			out.Success, out.FinishedAt = true, time.Now()
			return out
		}
		if ctx.Err() != nil {
			return canceled() // the attempt failed because ctx ended
		}
		var fe *finalError
		if errors.As(err, &fe) || attempt >= p.MaxAttempts {
			out.Error, out.FinishedAt = delivery.FailureMessage(attempt, err.Error()), time.Now()
			n.o.Logger.Warn("notification failed", "id", nt.ID, "channel", out.Channel, "attempts", attempt,
				"err", err)
			return out
		}
		wait := p.Backoff(attempt)
		n.o.Logger.Debug("notification attempt failed; retrying", "id", nt.ID, "attempt", attempt, "err", err,
			"wait", wait)
		if !delivery.Sleep(ctx, wait) {
			return canceled()
		}
	}
}

func (n *Notifier) attempt(ctx context.Context, nt Notification) (int, error) {
	switch c := nt.Channel.(type) {
	case Email:
		return n.sendMail(ctx, c, nt)
	case *Email:
		return n.sendMail(ctx, *c, nt)
	case Webhook:
		return n.post(ctx, c, nt)
	case *Webhook:
		return n.post(ctx, *c, nt)
	}
	return 0, final(fmt.Errorf("unknown notification channel %T", nt.Channel))
}

func (nt Notification) validate(g *delivery.Guard) error {
	if nt.ID == "" {
		return fmt.Errorf("%w: no id", ErrInvalid)
	}
	if nt.Channel == nil {
		return fmt.Errorf("%w: no channel", ErrInvalid)
	}
	switch c := nt.Channel.(type) {
	case Email, *Email:
		if len(nt.Subject) > maxSubject {
			return fmt.Errorf("%w: the subject is longer than %d bytes", ErrInvalid, maxSubject)
		}
	case Webhook, *Webhook:
		if len(nt.Document) == 0 || !json.Valid(nt.Document) {
			return fmt.Errorf("%w: a webhook's document must be JSON", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: unknown channel %T", ErrInvalid, c)
	}
	if err := nt.Channel.validate(g); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, nt.Channel.Kind(), err)
	}
	return nil
}

// dialer dials through the guard: the address is checked once resolved.
func dialer(o Options) *net.Dialer {
	return &net.Dialer{Timeout: o.StepTimeout, KeepAlive: 30 * time.Second, Control: o.Guard.Control,
		Resolver: o.Resolver}
}
