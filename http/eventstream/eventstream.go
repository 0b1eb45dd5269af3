// Package eventstream serves Chronicle's event log to exporters and
// followers of the stream: GET /events?after=SEQ&limit=N returns a page of
// events after a cursor; wait=DURATION long-polls for the next one; with
// Accept: text/event-stream the answer is an endless server-sent-events
// stream that resumes from Last-Event-ID. Every node serves its own copy
// of the replicated log, so followers can carry the export load.
package eventstream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/http/auth"
	"github.com/chronicle-sched/chronicle/http/respond"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/julienschmidt/httprouter"
)

// Log is this node's event log as the stream reads it.
type Log interface {
	LastSeq() uint64
	// Events returns up to limit events with seq > after, in order.
	Events(after uint64, limit int) ([]event.Event, error)
	// WaitForEvents returns once an event with seq > after exists, or
	// with ctx's error.
	WaitForEvents(ctx context.Context, after uint64) error
}

const (
	defaultLimit = 100
	maxLimit     = 1000
	// maxWait stays below the server's write timeout (30 s).
	maxWait = 25 * time.Second
	// keepalive is how often an idle SSE stream sends a comment line, so
	// proxies and clients can tell a quiet log from a dead connection.
	keepalive = 15 * time.Second
	// scanBudget bounds how many events one page may skip over when a type
	// filter matches few of them; the cursor still advances past them.
	scanBudget = 10 * maxLimit
)

// Stream serves the log; Close ends every open SSE stream (on shutdown).
type Stream struct {
	log    Log
	logger *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
}

// Register mounts GET /events on r.
func Register(r *httprouter.Router, log Log, logger *slog.Logger) *Stream {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Stream{log: log, logger: logger, ctx: ctx, cancel: cancel}
	r.GET("/events", s.serve)
	return s
}

// Close ends open streams so that a graceful shutdown does not wait on them.
func (s *Stream) Close() { s.cancel() }

// Page is the JSON answer: the events, the cursor to pass as after next
// time (past every event looked at, even those a filter left out), and the
// newest seq of this node's log.
type Page struct {
	Events  []event.View `json:"events"`
	Next    uint64       `json:"next"`
	LastSeq uint64       `json:"lastSeq"`
}

type query struct {
	after uint64
	limit int
	wait  time.Duration
	types map[event.Type]bool // nil: every type
	sse   bool
	// who asks: a token limited to some apps sees only their events, and
	// only admins see token events.
	who auth.Principal
}

// shows reports whether q's answer includes ev.
func (q query) shows(ev event.Event) bool {
	if q.types != nil && !q.types[ev.Type] {
		return false
	}
	if q.who.Admin() {
		return true
	}
	if ev.Type == event.TypeTokenIssued || ev.Type == event.TypeTokenRevoked {
		return false
	}
	return !q.who.Scoped() || q.who.CanSee(ev.App())
}

func badRequest(format string, args ...any) error {
	return &respond.Error{HTTP: http.StatusBadRequest, Code: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func parseQuery(r *http.Request) (query, error) {
	q := query{limit: defaultLimit, who: auth.From(r.Context())}
	v := r.URL.Query()
	q.sse = strings.Contains(r.Header.Get("Accept"), "text/event-stream") || v.Get("stream") == "sse"
	after := v.Get("after")
	if id := r.Header.Get("Last-Event-ID"); q.sse && id != "" {
		after = id
	}
	if after != "" {
		n, err := strconv.ParseUint(after, 10, 64)
		if err != nil {
			return q, badRequest("after must be an event seq (a non-negative integer), not %q", trunc(after))
		}
		q.after = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return q, badRequest("limit must be an integer from 1 to %d, not %q", maxLimit, trunc(s))
		}
		q.limit = n
	}
	if s := v.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > maxWait {
			return q, badRequest("wait must be a duration from 0s to %s such as 10s, not %q", maxWait, trunc(s))
		}
		q.wait = d
	}
	if s := v.Get("types"); s != "" {
		q.types = map[event.Type]bool{}
		for _, name := range strings.Split(s, ",") {
			t, ok := event.ParseType(strings.TrimSpace(name))
			if !ok {
				return q, badRequest("types: unknown event type %q", trunc(name))
			}
			q.types[t] = true
		}
	}
	return q, nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func (s *Stream) serve(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q, err := parseQuery(r)
	if err != nil {
		respond.Write(w, s.logger, err)
		return
	}
	if q.sse {
		s.stream(w, r, q)
		return
	}
	page, err := s.page(q.after, q.limit, q)
	if err == nil && page.Next == q.after && q.wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), q.wait)
		werr := s.log.WaitForEvents(ctx, q.after)
		cancel()
		if werr == nil {
			page, err = s.page(q.after, q.limit, q)
		}
	}
	if err != nil {
		respond.Write(w, s.logger, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

// page reads up to limit events after the cursor that q shows.
func (s *Stream) page(after uint64, limit int, q query) (Page, error) {
	page := Page{Events: []event.View{}, Next: after, LastSeq: s.log.LastSeq()}
	scanned := 0
	for len(page.Events) < limit && scanned < scanBudget {
		evs, err := s.log.Events(page.Next, limit-len(page.Events))
		if err != nil {
			return page, fmt.Errorf("read events after %d: %w", page.Next, err)
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			if q.shows(ev) {
				v, err := ev.View()
				if err != nil {
					return page, err
				}
				page.Events = append(page.Events, v)
			}
			page.Next = ev.Seq
		}
		scanned += len(evs)
	}
	return page, nil
}

// stream writes events as server-sent events until the client goes away
// or the server shuts down.
func (s *Stream) stream(w http.ResponseWriter, r *http.Request, q query) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	after := q.after
	for {
		// The server's write timeout would cut a long stream: extend it
		// for each round instead.
		_ = rc.SetWriteDeadline(time.Now().Add(keepalive + 30*time.Second))
		page, err := s.page(after, maxLimit, q)
		if err != nil {
			s.logger.Warn("event stream", "err", err)
			fmt.Fprintf(w, "event: error\ndata: %q\n\n", err.Error())
			_ = rc.Flush()
			return
		}
		for _, v := range page.Events {
			data, err := json.Marshal(v)
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", v.Seq, v.Type, data); err != nil {
				return
			}
		}
		if page.Next > after && len(page.Events) == 0 {
			// Only filtered-out events: move the client's resume point.
			fmt.Fprintf(w, "id: %d\n\n", page.Next)
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if page.Next > after {
			after = page.Next
			continue
		}
		wctx, wcancel := context.WithTimeout(ctx, keepalive)
		err = s.log.WaitForEvents(wctx, after)
		wcancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
		}
	}
}
