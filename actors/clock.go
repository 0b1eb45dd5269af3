package actors

import "time"

// Clock is the engine's time: when runs are due, when timers wake, what
// events are stamped with. Tests drive a fake one, so that the fire path
// is tested without waiting.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Stopper
}

// Stopper cancels what AfterFunc scheduled (false if it already ran).
type Stopper interface{ Stop() bool }

type systemClock struct{}

func (systemClock) Now() time.Time                              { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) Stopper { return time.AfterFunc(d, f) }
