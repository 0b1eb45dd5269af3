// Package respond answers errors over HTTP, in one place for every
// endpoint: it classifies an error from any layer (the APIs' own input
// checks, the projections' rejections, the kinds of internal/errkind) into
// an HTTP status, the body's statusCode and a message, and writes the
// native API's envelope. An error that fits no class is an internal
// failure: it is logged with an id and answered 500 with that id, never
// given a 4xx that would tell the client its request was at fault.
package respond

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/projections"
)

// Error is an answer: the HTTP status, the body's statusCode (GoScheduler
// uses its own codes, such as 4001, for some errors) and the message.
type Error struct {
	HTTP    int
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Status returns an error answered with status and message; the body's
// statusCode is the HTTP status.
func Status(status int, format string, args ...any) *Error {
	return &Error{HTTP: status, Code: status, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 answer.
func BadRequest(format string, args ...any) *Error {
	return Status(http.StatusBadRequest, format, args...)
}

// NotFound is a 404 answer.
func NotFound(format string, args ...any) *Error { return Status(http.StatusNotFound, format, args...) }

// Classify maps an error to its answer. Internal failures come back as
// 500 with an empty message; Write fills in the error id.
func Classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	conflict := func(code int, msg string) *Error { return &Error{HTTP: http.StatusConflict, Code: code, Message: msg} }
	switch {
	// The projections' rejections, in GoScheduler's words and codes.
	case errors.Is(err, projections.ErrAppNotFound):
		return &Error{HTTP: http.StatusBadRequest, Code: 4001, Message: "unregistered App"}
	case errors.Is(err, projections.ErrAppAlreadyActive):
		return conflict(4003, "app is already activated")
	case errors.Is(err, projections.ErrAppAlreadyInactive):
		return conflict(4004, "app is already deactivated")
	case errors.Is(err, projections.ErrAppExists):
		return conflict(4002, err.Error())
	case errors.Is(err, projections.ErrAppInactive):
		return conflict(http.StatusConflict, err.Error()+": activate it to create schedules")
	case errors.Is(err, projections.ErrScheduleNotFound):
		return NotFound("not found")
	case errors.Is(err, projections.ErrBadToken):
		return BadRequest("invalid continuationToken")
	// Kinds, from any layer.
	case errors.Is(err, errkind.Unavailable), errors.Is(err, context.DeadlineExceeded):
		return Status(http.StatusServiceUnavailable, "service unavailable, retry: %s", err.Error())
	case errors.Is(err, errkind.TooLarge):
		return Status(http.StatusRequestEntityTooLarge, "%s", err.Error())
	case errors.Is(err, errkind.Invalid):
		return BadRequest("%s", err.Error())
	case errors.Is(err, errkind.NotFound):
		return NotFound("%s", err.Error())
	case errors.Is(err, errkind.Conflict):
		return conflict(http.StatusConflict, err.Error())
	case errors.Is(err, errkind.Unauthenticated):
		return Status(http.StatusUnauthorized, "%s", err.Error())
	case errors.Is(err, errkind.Forbidden):
		return Status(http.StatusForbidden, "%s", err.Error())
	case errors.Is(err, errkind.TooMany):
		return Status(http.StatusTooManyRequests, "%s", err.Error())
	case errors.Is(err, errkind.InsufficientStorage):
		return Status(http.StatusInsufficientStorage, "%s", err.Error())
	}
	return &Error{HTTP: http.StatusInternalServerError, Code: http.StatusInternalServerError}
}

// Status is the "status" object of every native answer.
type StatusJSON struct {
	StatusCode    int    `json:"statusCode"`
	StatusMessage string `json:"statusMessage"`
	StatusType    string `json:"statusType"`
	TotalCount    *int   `json:"totalCount,omitempty"`
}

// Envelope is the native answer: status, data, remarks.
type Envelope struct {
	Status  StatusJSON `json:"status"`
	Data    any        `json:"data,omitempty"`
	Remarks string     `json:"remarks,omitempty"`
}

// JSON writes v with the given HTTP status.
func JSON(w http.ResponseWriter, httpStatus int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_ = json.NewEncoder(w).Encode(v)
}

// Write answers err in the native envelope's Fail form. A 503 carries
// Retry-After; an internal failure is logged with an id that the answer
// gives, so an operator can find it.
func Write(w http.ResponseWriter, logger *slog.Logger, err error) {
	e := Answer(logger, err)
	ErrorHeaders(w, e.HTTP)
	JSON(w, e.HTTP, Envelope{Status: StatusJSON{StatusCode: e.Code, StatusMessage: e.Message, StatusType: "Fail"}})
}

// ErrorHeaders sets what an error answer of status carries beside its
// body, in every API's format: Retry-After on a 503 or 429 (unless the
// caller set it), WWW-Authenticate on a 401.
func ErrorHeaders(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		if w.Header().Get("Retry-After") == "" { // the caller may know better
			w.Header().Set("Retry-After", "1")
		}
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="chronicle"`)
	case http.StatusInsufficientStorage:
		// Space comes back when an operator or retention frees it: not
		// within a second.
		w.Header().Set("Retry-After", "30")
	}
}

// Answer is Classify, with an internal failure logged and its message
// naming the error id: for APIs that write their own error bodies.
func Answer(logger *slog.Logger, err error) *Error {
	e := Classify(err)
	if e.HTTP == http.StatusInternalServerError && e.Message == "" {
		id := errorID()
		logger.Error("request failed", "errorId", id, "err", err)
		e = &Error{HTTP: e.HTTP, Code: e.Code, Message: "internal error (id " + id + "): see the server log"}
	}
	return e
}

func errorID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
