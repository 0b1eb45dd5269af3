package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/chronicle-sched/chronicle/http/respond"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/julienschmidt/httprouter"
)

// Member is one server of the cluster as /cluster shows it.
type Member struct {
	ID          string     `json:"id"`
	RaftAddress string     `json:"raftAddress"`
	HTTPAddress string     `json:"httpAddress,omitempty"`
	Voter       bool       `json:"voter"`
	Leader      bool       `json:"leader"`
	Reachable   *bool      `json:"reachable,omitempty"`
	LastContact *time.Time `json:"lastContact,omitempty"` // when this node last heard from it
	// EventSchema is the newest event schema version the member's build
	// reads, as it announced it (absent: not announced yet, or a build that
	// reads only version 1). The leader writes version 2 once every member
	// shows it: during a rolling upgrade, this says who is left.
	EventSchema int `json:"eventSchema,omitempty"`
}

// ClusterStatus is the body of GET /cluster.
type ClusterStatus struct {
	NodeID        string   `json:"nodeId"`
	LeaderID      string   `json:"leaderId"`
	LeaderAddress string   `json:"leaderAddress"`
	State         string   `json:"state"`
	Term          uint64   `json:"term"`
	AppliedIndex  uint64   `json:"appliedIndex"`
	Members       []Member `json:"members"`
}

func registerCluster(r *httprouter.Router, cfg Config) {
	c, logger := cfg.Cluster, cfg.Logger
	answer := func(w http.ResponseWriter, req *http.Request) {
		st, err := c.Status(req.Context())
		if err != nil {
			respond.Write(w, logger, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	}
	// changed answers a membership change: its error, or the new status.
	changed := func(w http.ResponseWriter, req *http.Request, err error) {
		if err != nil {
			respond.Write(w, logger, err)
			return
		}
		answer(w, req)
	}
	r.GET("/cluster", func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) { answer(w, req) })
	r.POST("/cluster/members", func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
		var body struct {
			ID          string `json:"id"`
			RaftAddress string `json:"raftAddress"`
			Voter       *bool  `json:"voter"`
		}
		if err := decode(req, &body); err != nil {
			respond.Write(w, logger, err)
			return
		}
		if body.ID == "" || body.RaftAddress == "" {
			respond.Write(w, logger, badRequest("id and raftAddress are required"))
			return
		}
		changed(w, req, c.AddMember(body.ID, body.RaftAddress, body.Voter == nil || *body.Voter))
	})
	r.DELETE("/cluster/members/:id", func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) {
		changed(w, req, c.RemoveMember(ps.ByName("id")))
	})
	r.POST("/cluster/leadership-transfer", func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
		var body struct {
			ID string `json:"id"`
		}
		if err := decode(req, &body); err != nil && !errors.Is(err, errEmptyBody) {
			respond.Write(w, logger, err)
			return
		}
		changed(w, req, c.TransferLeadership(body.ID))
	})
	r.POST("/cluster/announce", func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
		var body struct {
			NodeID      string `json:"nodeId"`
			HTTPAddress string `json:"httpAddress"`
			RaftAddress string `json:"raftAddress"`
			Schema      int    `json:"schema"`
		}
		if err := decode(req, &body); err != nil {
			respond.Write(w, logger, err)
			return
		}
		if body.Schema < 0 || body.Schema > 1<<16 {
			respond.Write(w, logger, badRequest(fmt.Sprintf("schema must be an event schema version, not %d", body.Schema)))
			return
		}
		if body.NodeID == "" || body.HTTPAddress == "" {
			respond.Write(w, logger, badRequest("nodeId and httpAddress are required"))
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		if err := c.Announce(ctx, event.NodeAnnounced{NodeID: body.NodeID,
			HTTPAddr: body.HTTPAddress, RaftAddr: body.RaftAddress, Schema: body.Schema}); err != nil {
			respond.Write(w, logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

var errEmptyBody = errors.New("empty body")

func decode(req *http.Request, v any) error {
	err := json.NewDecoder(http.MaxBytesReader(nil, req.Body, 64<<10)).Decode(v)
	switch {
	case errors.Is(err, io.EOF):
		return errEmptyBody
	case err != nil:
		return badRequest("malformed JSON: " + err.Error())
	}
	return nil
}

func badRequest(msg string) error {
	return &respond.Error{HTTP: http.StatusBadRequest, Code: http.StatusBadRequest, Message: msg}
}
