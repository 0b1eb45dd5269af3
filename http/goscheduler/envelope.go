// Package goscheduler serves GoScheduler's REST API (paths, JSON envelope,
// statuses and validation messages) on Chronicle's core. It validates
// input, sends commands to the actors and answers queries from the
// projections; it never touches Raft or Pebble. Errors are answered by
// http/respond, which classifies them for every endpoint.
package goscheduler

import (
	"net/http"

	"github.com/chronicle-sched/chronicle/http/respond"
)

// ok answers HTTP 200 with the body statusCode the seed documents for the
// endpoint (201 for creations, 200 otherwise).
func ok(w http.ResponseWriter, bodyCode int, total int, data any) {
	respond.JSON(w, http.StatusOK, respond.Envelope{
		Status: respond.StatusJSON{StatusCode: bodyCode, StatusMessage: "Success", StatusType: "Success", TotalCount: &total},
		Data:   data,
	})
}

var (
	badRequest = respond.BadRequest
	notFound   = respond.NotFound
)
