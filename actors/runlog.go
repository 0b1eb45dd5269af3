package actors

import (
	"sync"
	"time"
)

// runLog writes a line for every run that failed or was missed, the first
// thing an operator looks for, while keeping a burst (a receiver down for
// an hour behind a busy cron, a million runs missed after an outage) from
// flooding the log: at most runLogBurst lines a second per kind; the next
// line says how many were left out before it.
type runLog struct {
	mu      sync.Mutex
	second  int64 // unix second the count is for
	written int
	omitted int
}

const runLogBurst = 50

// line reports whether to write a line now, and how many lines were left
// out since the last one written.
func (l *runLog) line(now time.Time) (ok bool, omitted int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := now.Unix(); s != l.second {
		l.second, l.written = s, 0
	}
	if l.written >= runLogBurst {
		l.omitted++
		return false, 0
	}
	l.written++
	omitted, l.omitted = l.omitted, 0
	return true, omitted
}
