// Package goscheduler serves GoScheduler's REST API (paths, JSON envelope,
// statuses and validation messages) on Chronicle's core. It validates
// input, sends commands to the actors and answers queries from the
// projections; it never touches Raft or Pebble.
package goscheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/projections"
)

// Status is the "status" object of every answer.
type Status struct {
	StatusCode    int    `json:"statusCode"`
	StatusMessage string `json:"statusMessage"`
	StatusType    string `json:"statusType"`
	TotalCount    *int   `json:"totalCount,omitempty"`
}

type envelope struct {
	Status  Status `json:"status"`
	Data    any    `json:"data,omitempty"`
	Remarks string `json:"remarks,omitempty"`
}

// writeJSON writes v with the given HTTP status.
func writeJSON(w http.ResponseWriter, httpStatus int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_ = json.NewEncoder(w).Encode(v)
}

// ok answers HTTP 200 with the body statusCode the seed documents for the
// endpoint (201 for creations, 200 otherwise).
func ok(w http.ResponseWriter, bodyCode int, total int, data any) {
	writeJSON(w, http.StatusOK, envelope{
		Status: Status{StatusCode: bodyCode, StatusMessage: "Success", StatusType: "Success", TotalCount: &total},
		Data:   data,
	})
}

// APIError is an error answer: HTTP status, the body's statusCode (the
// seed uses its own codes such as 4001 for some errors) and the message.
type APIError struct {
	HTTP    int
	Code    int
	Message string
}

func (e *APIError) Error() string { return e.Message }

func badRequest(format string, args ...any) *APIError {
	return &APIError{HTTP: http.StatusBadRequest, Code: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *APIError {
	return &APIError{HTTP: http.StatusNotFound, Code: http.StatusNotFound, Message: fmt.Sprintf(format, args...)}
}

// WriteError answers err as the envelope's Fail form. Errors that are not
// input or state problems are logged and answered 500 without detail.
func WriteError(w http.ResponseWriter, logger *slog.Logger, err error) {
	e := classify(err)
	if e.HTTP >= 500 && e.HTTP != http.StatusServiceUnavailable {
		logger.Error("request failed", "err", err)
	}
	writeJSON(w, e.HTTP, envelope{Status: Status{StatusCode: e.Code, StatusMessage: e.Message, StatusType: "Fail"}})
}

// classify maps errors from the layers below to answers, in one place.
func classify(err error) *APIError {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr
	}
	conflict := func(code int, msg string) *APIError {
		return &APIError{HTTP: http.StatusConflict, Code: code, Message: msg}
	}
	switch {
	case errors.Is(err, projections.ErrAppNotFound):
		return &APIError{HTTP: http.StatusBadRequest, Code: 4001, Message: "unregistered App"}
	case errors.Is(err, projections.ErrAppAlreadyActive):
		return conflict(4003, "app is already activated")
	case errors.Is(err, projections.ErrAppAlreadyInactive):
		return conflict(4004, "app is already deactivated")
	case errors.Is(err, projections.ErrAppExists):
		return conflict(4002, err.Error())
	case errors.Is(err, projections.ErrAppInactive):
		return conflict(http.StatusConflict, err.Error()+": activate it to create schedules")
	case errors.Is(err, projections.ErrScheduleNotFound):
		return notFound("not found")
	case errors.Is(err, projections.ErrBadToken):
		return badRequest("invalid continuationToken")
	case errors.Is(err, projections.ErrInvalidEvent):
		return badRequest("%s", err.Error())
	case errors.Is(err, actors.ErrUnavailable), errors.Is(err, actors.ErrNotLeader),
		errors.Is(err, context.DeadlineExceeded):
		return &APIError{HTTP: http.StatusServiceUnavailable, Code: http.StatusServiceUnavailable,
			Message: "service unavailable, retry: " + err.Error()}
	}
	return &APIError{HTTP: http.StatusInternalServerError, Code: http.StatusInternalServerError, Message: "internal error"}
}
