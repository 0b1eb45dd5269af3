package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/chronicle-sched/chronicle/cluster"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/http/respond"
	"github.com/julienschmidt/httprouter"
)

// Cluster is what the /cluster endpoints need; *cluster.Members has it.
type Cluster interface {
	Status(ctx context.Context) (cluster.Status, error)
	AddMember(ctx context.Context, id, raftAddr string, voter, force bool) error
	RemoveMember(ctx context.Context, id string, force bool) error
	TransferLeadership(id string) error
	Announce(a event.NodeAnnounced) error
}

// membershipTimeout bounds a membership change, which may wait for a new
// voter to catch up before promoting it.
const membershipTimeout = 30 * time.Second

func registerCluster(r *httprouter.Router, cfg Config) {
	c, logger := cfg.Cluster, cfg.Logger
	answer := func(w http.ResponseWriter, req *http.Request) {
		st, err := c.Status(req.Context())
		if err != nil {
			respond.Write(w, logger, err)
			return
		}
		respond.JSON(w, http.StatusOK, st)
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
			Force       bool   `json:"force"`
		}
		if err := decode(req, &body); err != nil {
			respond.Write(w, logger, err)
			return
		}
		if body.ID == "" || body.RaftAddress == "" {
			respond.Write(w, logger, respond.BadRequest("id and raftAddress are required"))
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), membershipTimeout)
		defer cancel()
		changed(w, req, c.AddMember(ctx, body.ID, body.RaftAddress, body.Voter == nil || *body.Voter, body.Force))
	})
	r.DELETE("/cluster/members/:id", func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) {
		force, err := boolParam(req, "force")
		if err != nil {
			respond.Write(w, logger, err)
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), membershipTimeout)
		defer cancel()
		changed(w, req, c.RemoveMember(ctx, ps.ByName("id"), force))
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
			Types       int    `json:"types"`
		}
		if err := decode(req, &body); err != nil {
			respond.Write(w, logger, err)
			return
		}
		if body.NodeID == "" || body.HTTPAddress == "" {
			respond.Write(w, logger, respond.BadRequest("nodeId and httpAddress are required"))
			return
		}
		if err := c.Announce(event.NodeAnnounced{NodeID: body.NodeID,
			HTTPAddr: body.HTTPAddress, RaftAddr: body.RaftAddress, Schema: body.Schema, Types: body.Types}); err != nil {
			respond.Write(w, logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func boolParam(req *http.Request, name string) (bool, error) {
	raw := req.URL.Query().Get(name)
	if raw == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		return false, respond.BadRequest("%s must be true or false, not %q", name, raw)
	}
	return v, nil
}

// errEmptyBody is a request without a body: a 400 (POST
// /cluster/leadership-transfer takes it as "any member").
var errEmptyBody = respond.BadRequest("request body is empty: a JSON object is required")

func decode(req *http.Request, v any) error {
	err := json.NewDecoder(http.MaxBytesReader(nil, req.Body, 64<<10)).Decode(v)
	switch {
	case errors.Is(err, io.EOF):
		return errEmptyBody
	case err != nil:
		return respond.BadRequest("malformed JSON: %s", err.Error())
	}
	return nil
}
