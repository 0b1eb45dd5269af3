package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
)

// cronActor is the authority on one cron schedule's fire times. Timers ask
// it for the occurrence after the one they fire, so the next time is
// stamped into RunFired and apply never evaluates cron expressions (a
// change to cron evaluation can never alter how an old log replays).
type cronActor struct {
	eng  *Engine
	id   string
	spec *cronspec.Spec
}

type (
	// nextAfter asks for the first occurrence strictly after T (unix s);
	// the answer is an int64, 0 if none or the cron is gone.
	nextAfter struct{ T int64 }
	// missPlan asks, for an occurrence T that is being recorded as missed,
	// which occurrence to resume with (the first at or after Cutoff) and
	// how many occurrences in between are skipped with it.
	missPlan   struct{ T, Cutoff int64 }
	missAnswer struct {
		Next    int64
		Skipped int
	}
)

// maxSkipCount bounds the counting of skipped occurrences after downtime.
const maxSkipCount = 100000

func newCronActor(e *Engine, id string) *cronActor { return &cronActor{eng: e, id: id} }

func (c *cronActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s, ok, err := c.eng.state.Schedule(c.id)
		if err != nil || !ok || !s.IsCron() {
			return
		}
		spec, err := cronspec.Parse(s.CronExpression, s.TimeZone)
		if err != nil {
			// Accepted at create time by this same parser: only a changed
			// parser could refuse it now. The cron stops firing; say so.
			c.eng.cfg.Logger.Error("stored cron expression no longer parses", "schedule", c.id, "err", err)
			return
		}
		c.spec = spec
	case nextAfter:
		ctx.Respond(c.next(m.T))
	case missPlan:
		ctx.Respond(c.plan(m))
	}
}

func (c *cronActor) next(t int64) int64 {
	if c.spec == nil {
		return 0
	}
	n := c.spec.Next(unixTime(t))
	if n.IsZero() {
		return 0
	}
	return n.Unix()
}

func (c *cronActor) plan(m missPlan) missAnswer {
	if c.spec == nil {
		return missAnswer{}
	}
	next, skipped := c.next(m.T), 0
	for next != 0 && next < m.Cutoff && skipped < maxSkipCount {
		next = c.next(next)
		skipped++
	}
	if next != 0 && next < m.Cutoff {
		next = c.next(m.Cutoff - 1) // stop counting, jump straight there
	}
	return missAnswer{Next: next, Skipped: skipped}
}
