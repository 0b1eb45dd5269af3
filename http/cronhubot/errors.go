package cronhubot

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/chronicle-sched/chronicle/http/respond"
	"github.com/chronicle-sched/chronicle/projections"
)

// message is CronHubot's answer for errors and for a delete.
type message struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	// Reason says what exactly was wrong where CronHubot's message is
	// fixed (Chronicle's addition).
	Reason string `json:"reason,omitempty"`
}

// apiError is an answer in CronHubot's format.
type apiError struct {
	HTTP                    int
	Status, Message, Reason string
}

func (e *apiError) Error() string { return e.Message }

var errNotFound = &apiError{HTTP: http.StatusNotFound, Status: "cronjob_not_found", Message: "The cronjob was not found"}

// invalidJSON: the body is not a JSON object of CronHubot's fields (the
// seed's message, with the reason beside it).
func invalidJSON(reason string) *apiError {
	return &apiError{HTTP: http.StatusBadRequest, Status: "invalid_json", Message: "Cannot decode the given JSON payload", Reason: reason}
}

// invalidJob: the job's content is refused; the message names the field.
func invalidJob(msg string) *apiError {
	return &apiError{HTTP: http.StatusUnprocessableEntity, Status: "invalid_cronjob", Message: msg}
}

func badQuery(format string, args ...any) *apiError {
	return &apiError{HTTP: http.StatusBadRequest, Status: "invalid_query", Message: fmt.Sprintf(format, args...)}
}

// WriteError answers err in CronHubot's format: the core's refusals keep
// their HTTP status (a name taken is the seed's "Cronjob already exists"),
// and an internal failure is logged with an id the answer gives.
func (a *API) WriteError(w http.ResponseWriter, err error) {
	var e *apiError
	switch {
	case errors.As(err, &e):
	case errors.Is(err, projections.ErrNameTaken):
		e = invalidJob("Cronjob already exists")
	case errors.Is(err, projections.ErrScheduleNotFound):
		e = errNotFound
	default:
		c := respond.Answer(a.logger, err)
		e = &apiError{HTTP: c.HTTP, Status: statusOf(c.HTTP), Message: c.Message}
		if c.HTTP == http.StatusBadRequest || errors.Is(err, projections.ErrInvalidEvent) {
			// What the core refuses of a job's content (an end time
			// before its first run, an expression that never fires).
			e.HTTP, e.Status = http.StatusUnprocessableEntity, "invalid_cronjob"
		}
	}
	respond.ErrorHeaders(w, e.HTTP)
	respond.JSON(w, e.HTTP, message{Status: e.Status, Message: e.Message, Reason: e.Reason})
}

// statusOf names an HTTP status the way CronHubot names its errors.
func statusOf(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "payload_too_large"
	case http.StatusTooManyRequests:
		return "too_many_requests"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusInsufficientStorage:
		return "insufficient_storage"
	case http.StatusInternalServerError:
		return "internal_error"
	}
	return "error_" + strconv.Itoa(code)
}
