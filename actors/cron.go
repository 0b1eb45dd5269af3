package actors

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
)

// cronActor owns one cron schedule's occurrences: the first run of a cron
// being created, the occurrence after each one that fires, where to resume
// after a misfire, and the future runs the API lists are computed here and
// nowhere else, so that its later lifecycle (update, pause, expiry) has one
// place to change them. Occurrences are stamped into events by the
// proposer; apply never evaluates cron (a change to cron evaluation can
// never alter how an old log replays).
type cronActor struct {
	eng *Engine
	id  string
	// spec is the parsed expression, given at spawn for a cron being
	// created, else loaded from the projection at the first request.
	spec *cronspec.Spec
	// end is the cron's end time (unix s; 0: none): no occurrence after
	// it is given. Loaded with spec; a cron being created passes its own.
	end int64
	// broken is why this build cannot evaluate the stored expression: the
	// cron cannot continue. A failure to read it is not kept: it is
	// answered as an error, and the next request tries again.
	broken error
}

type (
	// firstRun asks for the first occurrence after Now of a cron being
	// created, whose end time is End (0: none).
	firstRun struct {
		Now time.Time
		End int64
	}
	// nextUnder asks for the first occurrence after Now under another
	// definition (Spec, End) than the cron's: its update's next run. The
	// actor keeps its own until the update applies and it is replaced.
	nextUnder struct {
		Spec *cronspec.Spec
		End  int64
		Now  time.Time
	}
	// nextAfter asks for the first occurrence strictly after T (unix s).
	nextAfter struct{ T int64 }
	// missPlan asks, for an occurrence T that is being recorded as missed,
	// which occurrence to resume with (the first at or after Cutoff) and
	// how many occurrences in between are skipped with it.
	missPlan struct{ T, Cutoff int64 }
	// upcoming asks for up to N occurrences strictly after After.
	upcoming struct {
		After int64
		N     int
	}
	// cronAnswer answers each of them: next is 0 when there is no further
	// occurrence: the expression has none (exhausted), or none before the
	// end time (ended: the end time's own entry closes the cron); err when
	// none could be computed, unevaluable if it never will be (the cron
	// cannot continue).
	cronAnswer struct {
		next        int64
		ended       bool
		skipped     int
		times       []int64
		err         error
		unevaluable bool
	}
)

// maxSkipCount bounds the counting of skipped occurrences after downtime.
const maxSkipCount = 100000

func newCronActor(e *Engine, id string, spec *cronspec.Spec) *cronActor {
	return &cronActor{eng: e, id: id, spec: spec}
}

func (c *cronActor) Receive(ctx actor.Context) {
	var answer cronAnswer
	switch m := ctx.Message().(type) {
	case firstRun:
		c.end = m.End
		answer = c.with(func(s *cronspec.Spec) (cronAnswer, error) {
			next, err := s.NextOrError(m.Now)
			return c.capped(cronAnswer{next: unix(next)}), err
		})
	case nextUnder:
		next, err := m.Spec.NextOrError(m.Now)
		if err != nil {
			answer = cronAnswer{err: fmt.Errorf("the new cron expression cannot be evaluated: %w", err), unevaluable: true}
			break
		}
		answer = cronAnswer{next: unix(next)}
		if m.End != 0 && answer.next > m.End {
			answer = cronAnswer{ended: true}
		}
	case nextAfter:
		answer = c.with(func(s *cronspec.Spec) (cronAnswer, error) {
			next, err := s.NextOrError(time.Unix(m.T, 0))
			return c.capped(cronAnswer{next: unix(next)}), err
		})
	case missPlan:
		answer = c.with(func(s *cronspec.Spec) (cronAnswer, error) {
			a, err := plan(s, m)
			return c.capped(a), err
		})
	case upcoming:
		answer = c.with(func(s *cronspec.Spec) (cronAnswer, error) {
			var a cronAnswer
			for t := m.After; len(a.times) < m.N; {
				next, err := s.NextOrError(time.Unix(t, 0))
				if err != nil || next.IsZero() || (c.end != 0 && next.Unix() > c.end) {
					return a, err
				}
				t = next.Unix()
				a.times = append(a.times, t)
			}
			return a, nil
		})
	default:
		return
	}
	ctx.Respond(answer)
}

// capped is a with no occurrence after the cron's end time.
func (c *cronActor) capped(a cronAnswer) cronAnswer {
	if c.end != 0 && a.next > c.end {
		a.next, a.ended = 0, true
	}
	return a
}

// with answers with f's computation on the cron's spec, loading it first
// if needed. An evaluation error means the expression cannot be evaluated
// (cronexpr failed on it): the cron cannot continue.
func (c *cronActor) with(f func(*cronspec.Spec) (cronAnswer, error)) cronAnswer {
	if err := c.load(); err != nil {
		return cronAnswer{err: err, unevaluable: c.broken != nil}
	}
	a, err := f(c.spec)
	if err != nil {
		c.broken = fmt.Errorf("cron expression of %s cannot be evaluated: %w", c.id, err)
		return cronAnswer{err: c.broken, unevaluable: true}
	}
	return a
}

func (c *cronActor) load() error {
	switch {
	case c.broken != nil:
		return c.broken
	case c.spec != nil:
		return nil
	}
	s, ok, err := c.eng.state.Schedule(c.id)
	switch {
	case err != nil:
		return fmt.Errorf("read cron %s: %w", c.id, err)
	case !ok || !s.IsCron() || !s.Active():
		return fmt.Errorf("cron %s: %w", c.id, errNoCron)
	}
	c.end = s.EndTime
	spec, err := cronspec.Load(s.CronExpression, s.TimeZone)
	if err != nil {
		// Accepted at create time by the same parser: only a build that
		// reads it differently refuses it now.
		c.broken = fmt.Errorf("stored cron expression of %s cannot be read by this build: %w", c.id, err)
		return c.broken
	}
	c.spec = spec
	return nil
}

// errNoCron: the schedule is gone, closed or not a cron (deleted or closed
// meanwhile: its runs are no longer pending either).
var errNoCron = errors.New("no such cron schedule")

// plan is the occurrence to resume with after T was missed: the first at
// or after Cutoff, counting those skipped on the way (up to maxSkipCount).
func plan(s *cronspec.Spec, m missPlan) (cronAnswer, error) {
	next := func(t int64) (int64, error) {
		n, err := s.NextOrError(time.Unix(t, 0))
		return unix(n), err
	}
	n, err := next(m.T)
	skipped := 0
	for err == nil && n != 0 && n < m.Cutoff && skipped < maxSkipCount {
		n, err = next(n)
		skipped++
	}
	if err == nil && n != 0 && n < m.Cutoff {
		n, err = next(m.Cutoff - 1) // stop counting, jump straight there
	}
	return cronAnswer{next: n, skipped: skipped}, err
}

// unix is t in unix seconds, 0 for the zero Time (no occurrence).
func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// askCron asks the cron actor of schedule id; a failure to get an answer
// (the actor too busy, or stopped meanwhile) is an error, never an end.
func (e *Engine) askCron(id string, msg any) cronAnswer {
	res, err := e.system.Root.RequestFuture(e.cronPID(id, nil), msg, e.cfg.ProposeTimeout).Result()
	if err != nil {
		return cronAnswer{err: fmt.Errorf("cron actor of %s: %w", id, err)}
	}
	return res.(cronAnswer)
}
