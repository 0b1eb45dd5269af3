package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/http/auth"
	"github.com/chronicle-sched/chronicle/http/respond"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/julienschmidt/httprouter"
)

// Tokens is what the /auth/tokens endpoints need: *actors.Engine to issue
// and revoke, projections.Reader to list.
type Tokens interface {
	IssueToken(ctx context.Context, id, name, role string, apps []string, hash string) error
	RevokeToken(ctx context.Context, id string) error
	Tokens() ([]projections.Token, error)
}

// tokenJSON is a token as GET /auth/tokens shows it: never its secret.
type tokenJSON struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	Apps      []string `json:"apps,omitempty"`
	IssuedAt  string   `json:"issuedAt"`
	IssuedBy  string   `json:"issuedBy,omitempty"`
	RevokedAt string   `json:"revokedAt,omitempty"`
	RevokedBy string   `json:"revokedBy,omitempty"`
}

func millis(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
}

// registerTokens mounts the token endpoints (admin only: the auth
// middleware sees to it).
func registerTokens(r *httprouter.Router, cfg Config) {
	t, logger := cfg.Tokens, cfg.Logger
	r.POST("/auth/tokens", func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
		var body struct {
			Name string   `json:"name"`
			Role string   `json:"role"`
			Apps []string `json:"apps"`
		}
		if err := decode(req, &body); err != nil {
			respond.Write(w, logger, err)
			return
		}
		// The log's admission rules check name, role and apps (400).
		id, secret := auth.NewToken()
		if err := t.IssueToken(req.Context(), id, strings.TrimSpace(body.Name), body.Role, body.Apps, auth.Hash(secret)); err != nil {
			respond.Write(w, logger, err)
			return
		}
		respond.JSON(w, http.StatusCreated, map[string]string{"id": id, "token": secret})
	})
	r.GET("/auth/tokens", func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
		list, err := t.Tokens()
		if err != nil {
			respond.Write(w, logger, err)
			return
		}
		out := make([]tokenJSON, 0, len(list))
		for _, tok := range list {
			out = append(out, tokenJSON{ID: tok.TokenID, Name: tok.Name, Role: tok.Role, Apps: tok.Apps,
				IssuedAt: millis(tok.IssuedAt), IssuedBy: tok.IssuedBy, RevokedAt: millis(tok.RevokedAt), RevokedBy: tok.RevokedBy})
		}
		respond.JSON(w, http.StatusOK, map[string]any{"tokens": out})
	})
	r.DELETE("/auth/tokens/:id", func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) {
		if err := t.RevokeToken(req.Context(), ps.ByName("id")); err != nil {
			respond.Write(w, logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
