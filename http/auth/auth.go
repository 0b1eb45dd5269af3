// Package auth decides who makes a request and what it may do, for every
// API surface: a bearer token (the admin token from a file, or one issued
// through /auth/tokens and known to every node from the log), its role
// (admin, writer, reader) and the apps it is limited to. The middleware
// answers 401 and 403 itself; the APIs ask the request's Principal
// whether it may see or change an app. Nodes prove to each other that
// they belong to the cluster with a proof made from the cluster secret.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/errkind"
)

// Principal is who makes a request.
type Principal struct {
	ID   string          // the token's id, event.ActorAdmin, or event.ActorAnonymous with auth off
	Role string          // event.RoleAdmin, RoleWriter or RoleReader
	Apps map[string]bool // the apps it is limited to; nil: every app
}

// Admin reports whether p may do everything.
func (p Principal) Admin() bool { return p.Role == event.RoleAdmin && p.Apps == nil }

// CanSee reports whether p may read app.
func (p Principal) CanSee(app string) bool { return p.Apps == nil || p.Apps[app] }

// Scoped reports whether p is limited to some apps.
func (p Principal) Scoped() bool { return p.Apps != nil }

// ErrForbidden: the token may not do this (403).
var ErrForbidden = errkind.New(errkind.Forbidden, "forbidden")

// Check reports why p may not read (write false) or change (write true)
// app, or nil.
func (p Principal) Check(app string, write bool) error {
	switch {
	case !p.CanSee(app):
		return fmt.Errorf("%w: token %s is not allowed app %s", ErrForbidden, p.ID, app)
	case write && p.Role == event.RoleReader:
		return fmt.Errorf("%w: token %s is a reader: it cannot change app %s", ErrForbidden, p.ID, app)
	}
	return nil
}

type principalKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// From returns the principal of a request's context: with auth off (or
// outside a request) an anonymous admin.
func From(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p
	}
	return Principal{ID: event.ActorAnonymous, Role: event.RoleAdmin}
}

// Hash is how a token's secret is kept: hex SHA-256. Secrets are 256
// random bits, so a fast hash is enough.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a new token's id and secret.
func NewToken() (id, secret string) {
	var b [40]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing sane to do
	}
	return "tok_" + hex.EncodeToString(b[:8]), "chr_" + base64.RawURLEncoding.EncodeToString(b[8:])
}

// equal compares secrets in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// Cluster proofs: a node calling another's /internal/ endpoints or
// /cluster/announce sends ProofHeader: "t=<unix seconds>,v1=<hex
// HMAC-SHA256(secret, t.method path)>". It is good for proofSkew either
// side of the receiver's clock, and never carries the secret itself.
const (
	ProofHeader = "X-Chronicle-Cluster-Proof"
	proofSkew   = time.Minute
)

// Proof returns the ProofHeader value of a request at now.
func Proof(secret, method, path string, now time.Time) string {
	t := strconv.FormatInt(now.Unix(), 10)
	return "t=" + t + ",v1=" + proofMAC(secret, t, method, path)
}

func proofMAC(secret, t, method, path string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t + "." + method + " " + path))
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyProof reports whether header proves the cluster secret for
// method and path at now.
func VerifyProof(secret, header, method, path string, now time.Time) bool {
	t, mac, ok := strings.Cut(strings.TrimPrefix(header, "t="), ",v1=")
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > proofSkew || d < -proofSkew {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(proofMAC(secret, t, method, path)))
}
