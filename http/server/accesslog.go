package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/chronicle-sched/chronicle/http/auth"
)

// accessLog writes one line per request once it is answered: method,
// path, status, bytes, duration, the client's address and the token that
// made it ("-" if none got past authentication). Never the query, headers
// or body: they may carry what a log must not.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, token: "-"}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), recorderKey{}, rec)))
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		logger.Info("access", "method", r.Method, "path", r.URL.Path, "status", status, "bytes", rec.bytes,
			"duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr, "token", rec.token)
	})
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
