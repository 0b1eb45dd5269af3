package actors

import "time"

// Clock is the engine's time: when runs are due, when timers wake, what
// events are stamped with. Tests drive a fake one, so that the fire path
// is tested without waiting.
type Clock interface {
	Now() time.Time
	// At calls f in its own goroutine once the clock reads t (at once if
	// it already does). A time, not a duration: a duration computed from
	// Now and then handed over would count from a later Now, which a test
	// clock that jumps meanwhile turns into a wake-up that never comes.
	At(t time.Time, f func()) Stopper
}

// Stopper cancels what At scheduled (false if it already ran).
type Stopper interface{ Stop() bool }

type systemClock struct{}

func (systemClock) Now() time.Time                   { return time.Now() }
func (systemClock) At(t time.Time, f func()) Stopper { return time.AfterFunc(time.Until(t), f) }
