package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/http/auth"
	"github.com/chronicle-sched/chronicle/internal/metrics"
	"github.com/julienschmidt/httprouter"
)

// observe notes every request once it is answered: in the access log (if
// logger is set), one line with method, path, status, bytes, duration, the
// client's address and the token that made it ("-" if none got past
// authentication), never the query, headers or body, which may carry what
// a log must not; in the metrics (if m is set), by route pattern.
func observe(logger *slog.Logger, m *metrics.Metrics, router *httprouter.Router, next http.Handler) http.Handler {
	if logger == nil && m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, token: "-"}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), recorderKey{}, rec)))
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		took := time.Since(start)
		if m != nil {
			m.Request(routePattern(router, r.Method, r.URL.Path), r.Method, status, took)
		}
		if logger != nil {
			logger.Info("access", "method", r.Method, "path", r.URL.Path, "status", status, "bytes", rec.bytes,
				"duration", took.Round(time.Microsecond), "remote", r.RemoteAddr, "token", rec.token)
		}
	})
}

// routePattern is the pattern of the route path matches
// ("/goscheduler/schedules/:id"), or "unmatched": a label with a bounded
// set of values, whatever ids the paths carry.
func routePattern(router *httprouter.Router, method, path string) string {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	h, params, _ := router.Lookup(method, path)
	if h == nil {
		return "unmatched"
	}
	if len(params) == 0 {
		return path
	}
	if last := params[len(params)-1]; strings.HasPrefix(last.Value, "/") && strings.HasSuffix(path, last.Value) {
		// A catch-all (/ui/*file) takes the rest of the path.
		return strings.TrimSuffix(path, last.Value) + "/*" + last.Key
	}
	// Which segment is which parameter: the one that, replaced by a marker,
	// still matches with the marker as that parameter's value (a value may
	// equal a fixed segment: /goscheduler/apps/apps/schedules).
	const marker = "\x00param"
	segs := strings.Split(path, "/")
	pattern := make([]string, len(segs))
	copy(pattern, segs)
	for i, s := range segs {
		if s == "" {
			continue
		}
		segs[i] = marker
		if h, ps, _ := router.Lookup(method, strings.Join(segs, "/")); h != nil {
			for _, p := range ps {
				if p.Value == marker {
					pattern[i] = ":" + p.Key
				}
			}
		}
		segs[i] = s
	}
	return strings.Join(pattern, "/")
}

// noteToken records, for the access log, the token authentication took
// (it runs inside auth.Middleware).
func noteToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := r.Context().Value(recorderKey{}).(*recorder); ok {
			rec.token = auth.From(r.Context()).ID
		}
		next.ServeHTTP(w, r)
	})
}

type recorderKey struct{}

// recorder notes what a response was; Unwrap lets http.ResponseController
// reach the connection (flushes of the event stream, deadlines).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	token  string
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() { _ = http.NewResponseController(r.ResponseWriter).Flush() }

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
