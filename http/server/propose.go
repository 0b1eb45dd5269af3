package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/chronicle-sched/chronicle/http/respond"

	"github.com/julienschmidt/httprouter"
)

// ForwardPath is where a leader takes the creates a follower forwards as
// events (POST), and where a node shows that its build does (GET: 204).
// Like the Raft port and /cluster, it belongs on the cluster's network.
const ForwardPath = "/internal/propose"

// maxForwardedBytes bounds a forwarded batch, so a bad request cannot
// exhaust memory: a batch carries up to 512 creates, typically well under
// 1 KB each.
const maxForwardedBytes = 64 << 20

func registerForwarded(r *httprouter.Router, cfg Config) {
	c, logger := cfg.Cluster, cfg.Logger
	r.GET(ForwardPath, func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		w.WriteHeader(http.StatusNoContent)
	})
	r.POST(ForwardPath, func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxForwardedBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				respond.Write(w, logger, &respond.Error{HTTP: http.StatusRequestEntityTooLarge,
					Code: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("forwarded batch is larger than %d bytes", maxForwardedBytes)})
				return
			}
			respond.Write(w, logger, badRequest("reading the forwarded batch: "+err.Error()))
			return
		}
		answer, err := c.TakeForwarded(body)
		if err != nil {
			respond.Write(w, logger, err)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(answer)
	})
}
