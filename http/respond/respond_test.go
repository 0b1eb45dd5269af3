package respond

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/projections"
)

// Every error is answered from one classification: the projections'
// rejections in GoScheduler's words, the kinds from any layer, and
// anything else as an internal failure, logged with an id the answer
// gives, never as a 4xx that blames the request.
func TestOneClassificationOfErrors(t *testing.T) {
	for _, c := range []struct {
		err        error
		http, code int
		msg        string
	}{
		{fmt.Errorf("%w: x", projections.ErrAppNotFound), 400, 4001, "unregistered App"},
		{fmt.Errorf("%w: x", projections.ErrAppExists), 409, 4002, "app already registered"},
		{fmt.Errorf("%w: schedule s", projections.ErrScheduleNotFound), 404, 404, "not found"},
		{fmt.Errorf("%w: bad", projections.ErrInvalidEvent), 400, 400, "invalid event: bad"},
		{errkind.New(errkind.Invalid, `raftAddress "x" is not host:port`), 400, 400, `raftAddress "x" is not host:port`},
		{errkind.New(errkind.Conflict, "would lose the quorum"), 409, 409, "would lose the quorum"},
		{errkind.New(errkind.NotFound, "no such cluster member: n9"), 404, 404, "no such cluster member"},
		{errkind.New(errkind.TooLarge, "batch too large"), 413, 413, "batch too large"},
		{fmt.Errorf("propose: %w", errkind.New(errkind.Unavailable, "no leader")), 503, 503, "retry: propose: no leader"},
		{context.DeadlineExceeded, 503, 503, "retry"},
		{BadRequest("size must be at most %d", 1000), 400, 400, "size must be at most 1000"},
	} {
		e := Classify(c.err)
		if e.HTTP != c.http || e.Code != c.code || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%v: %d/%d %q, want %d/%d containing %q", c.err, e.HTTP, e.Code, e.Message, c.http, c.code, c.msg)
		}
	}

	var logged bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	w := httptest.NewRecorder()
	Write(w, logger, errors.New("pebble: disk full"))
	var body Envelope
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusInternalServerError || !strings.HasPrefix(body.Status.StatusMessage, "internal error (id ") ||
		strings.Contains(body.Status.StatusMessage, "disk full") {
		t.Fatalf("unknown error answered %d %q: want 500 with an id and no detail", w.Code, body.Status.StatusMessage)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(body.Status.StatusMessage, "internal error (id "), "): see the server log")
	if !strings.Contains(logged.String(), "errorId="+id) || !strings.Contains(logged.String(), "disk full") {
		t.Fatalf("the log does not hold the error under its id %s: %s", id, logged.String())
	}

	w = httptest.NewRecorder()
	Write(w, logger, errkind.New(errkind.Unavailable, "election in progress"))
	if w.Code != 503 || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("unavailable: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
}
