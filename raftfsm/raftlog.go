package raftfsm

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// raftLogger routes hashicorp/raft's logging through logger, so a node
// writes one log format at the level --log-level sets (raft's own logger
// wrote another format to stderr, and defaults to DEBUG). Repeated
// warnings and errors about the same peer are rate-limited: with one peer
// down, raft logged 93 failed heartbeats in 10 s.
func raftLogger(logger *slog.Logger) hclog.Logger {
	return &raftLog{l: logger.With("lib", "raft"), limit: newRepeatLimiter(repeatEvery, time.Now)}
}

// repeatEvery is how often the same warning about the same peer is logged
// at most; the next line says how many were left out meanwhile.
const repeatEvery = 10 * time.Second

type raftLog struct {
	l     *slog.Logger
	name  string
	args  []any
	limit *repeatLimiter
}

var _ hclog.Logger = (*raftLog)(nil)

func slogLevel(l hclog.Level) slog.Level {
	switch {
	case l <= hclog.Trace:
		return slog.LevelDebug - 4
	case l == hclog.Debug:
		return slog.LevelDebug
	case l == hclog.Info:
		return slog.LevelInfo
	case l == hclog.Warn:
		return slog.LevelWarn
	}
	return slog.LevelError
}

func (r *raftLog) Log(level hclog.Level, msg string, args ...any) {
	lvl := slogLevel(level)
	if !r.l.Enabled(context.Background(), lvl) {
		return
	}
	if lvl >= slog.LevelWarn {
		ok, suppressed := r.limit.allow(msg + "\x00" + peerOf(args))
		if !ok {
			return
		}
		if suppressed > 0 {
			args = append(args[:len(args):len(args)], "repeatsNotLogged", suppressed)
		}
	}
	if r.name != "" {
		args = append([]any{"component", r.name}, args...)
	}
	r.l.Log(context.Background(), lvl, msg, append(r.args[:len(r.args):len(r.args)], args...)...)
}

// peerOf returns the peer a raft message is about ("" if none named).
func peerOf(args []any) string {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && (k == "peer" || k == "id" || k == "address") {
			return fmt.Sprint(args[i+1])
		}
	}
	return ""
}

func (r *raftLog) Trace(msg string, args ...any) { r.Log(hclog.Trace, msg, args...) }
func (r *raftLog) Debug(msg string, args ...any) { r.Log(hclog.Debug, msg, args...) }
func (r *raftLog) Info(msg string, args ...any)  { r.Log(hclog.Info, msg, args...) }
func (r *raftLog) Warn(msg string, args ...any)  { r.Log(hclog.Warn, msg, args...) }
func (r *raftLog) Error(msg string, args ...any) { r.Log(hclog.Error, msg, args...) }

func (r *raftLog) enabled(l hclog.Level) bool {
	return r.l.Enabled(context.Background(), slogLevel(l))
}
func (r *raftLog) IsTrace() bool { return r.enabled(hclog.Trace) }
func (r *raftLog) IsDebug() bool { return r.enabled(hclog.Debug) }
func (r *raftLog) IsInfo() bool  { return r.enabled(hclog.Info) }
func (r *raftLog) IsWarn() bool  { return r.enabled(hclog.Warn) }
func (r *raftLog) IsError() bool { return r.enabled(hclog.Error) }

func (r *raftLog) ImpliedArgs() []any { return r.args }
func (r *raftLog) With(args ...any) hclog.Logger {
	c := *r
	c.args = append(r.args[:len(r.args):len(r.args)], args...)
	return &c
}
func (r *raftLog) Name() string { return r.name }
func (r *raftLog) Named(name string) hclog.Logger {
	c := *r
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}
func (r *raftLog) ResetNamed(name string) hclog.Logger {
	c := *r
	c.name = name
	return &c
}

// SetLevel is ignored: the level is --log-level's, for every library.
func (r *raftLog) SetLevel(hclog.Level) {}
func (r *raftLog) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn} {
		if r.enabled(l) {
			return l
		}
	}
	return hclog.Error
}

func (r *raftLog) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(r.StandardWriter(opts), "", 0)
}

func (r *raftLog) StandardWriter(*hclog.StandardLoggerOptions) io.Writer { return stdWriter{r} }

// stdWriter takes lines of the standard library's log package (the
// network transport logs through one) as warnings.
type stdWriter struct{ r *raftLog }

func (w stdWriter) Write(p []byte) (int, error) {
	w.r.Warn(strings.TrimSpace(string(p)))
	return len(p), nil
}

// repeatLimiter lets a message through at most once per period per key,
// and counts what it held back.
type repeatLimiter struct {
	every time.Duration
	now   func() time.Time

	// mu guards seen: per key, when it was last let through and how many
	// repeats were held back since.
	mu   sync.Mutex
	seen map[string]*repeats
}

type repeats struct {
	last       time.Time
	suppressed int
}

// maxRepeatKeys bounds the limiter's memory; past it, forgotten keys are
// let through again.
const maxRepeatKeys = 1024

func newRepeatLimiter(every time.Duration, now func() time.Time) *repeatLimiter {
	return &repeatLimiter{every: every, now: now, seen: map[string]*repeats{}}
}

// allow reports whether a message with key may be logged now, and how
// many with that key were held back since the last one that was.
func (r *repeatLimiter) allow(key string) (bool, int) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.seen[key]
	if !ok {
		if len(r.seen) >= maxRepeatKeys {
			clear(r.seen)
		}
		r.seen[key] = &repeats{last: now}
		return true, 0
	}
	if now.Sub(s.last) < r.every {
		s.suppressed++
		return false, 0
	}
	n := s.suppressed
	s.last, s.suppressed = now, 0
	return true, n
}
