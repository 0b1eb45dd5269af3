package auth

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/internal/tlsconf"
	"github.com/chronicle-sched/chronicle/projections"
	"golang.org/x/time/rate"
)

// TokenStore finds a live token by the hash of its secret;
// projections.Reader has it.
type TokenStore interface {
	TokenByHash(hash string) (projections.Token, bool, error)
}

// Config says how requests are authenticated.
type Config struct {
	// AdminToken turns auth on: every request but the health checks then
	// needs a token. "" leaves it off (loopback only).
	AdminToken string
	// ClusterSecret, if set, is what nodes prove to each other on their own
	// endpoints (/internal/, /cluster/announce); without it those take the
	// admin token when auth is on, and nothing when it is off.
	ClusterSecret string
	// TLSPeers: the cluster runs TLS, and a client certificate the cluster
	// CA signed proves a member (when there is no ClusterSecret).
	TLSPeers bool
	Tokens   TokenStore
	// RateLimit bounds each token's requests per second (0: no limit),
	// with bursts of RateBurst.
	RateLimit float64
	RateBurst int
	// WriteError answers a refused request (in the format of the API its
	// path belongs to).
	WriteError func(http.ResponseWriter, *http.Request, error)
	Now        func() time.Time
	// SignedWrites are path prefixes whose writes are authorized by the
	// request's own signature, which their handler checks (karajo's API,
	// signed with karajo's secrets): they need no token, and act as
	// event.ActorSigned, a writer of SignedApps only.
	SignedWrites []string
	SignedApps   []string
	// TokenHeaders names, by path prefix, a header that carries the token
	// on those paths when Authorization does not (Keboola's
	// X-StorageApi-Token).
	TokenHeaders map[string]string
}

// Why a request's token is refused.
var (
	ErrNoToken      = errkind.New(errkind.Unauthenticated, "a token is required")
	ErrUnknownToken = errkind.New(errkind.Unauthenticated, "unknown or revoked token")
)

// tokenHeader is the header that carries the token on path besides
// Authorization ("" for none).
func (c Config) tokenHeader(path string) string {
	for prefix, h := range c.TokenHeaders {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			return h
		}
	}
	return ""
}

// On reports whether requests need a token.
func (c Config) On() bool { return c.AdminToken != "" }

// Middleware authenticates every request and authorizes it by route
// class before next sees it; next finds the Principal in the context.
func Middleware(cfg Config, next http.Handler) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	limits := &limiters{every: cfg.RateLimit, burst: max(cfg.RateBurst, 1), m: map[string]*rate.Limiter{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := cfg.authorize(r)
		if err == nil && cfg.RateLimit > 0 {
			if wait := limits.wait(p.ID); wait > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				err = errkind.Newf(errkind.TooMany, "token %s sends more than %g requests a second: retry in %s",
					p.ID, cfg.RateLimit, wait.Round(time.Millisecond))
			}
		}
		if err != nil {
			cfg.WriteError(w, r, err)
			return
		}
		if p.ID == event.ActorAnonymous {
			// What From and the engine assume of a bare context: no copy
			// of the request on every call with auth off.
			next.ServeHTTP(w, r)
			return
		}
		ctx := actors.WithActor(With(r.Context(), p), p.ID)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// route classes
func open(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch r.URL.Path {
	case "/goscheduler/healthcheck", "/health", "/livez", "/readyz",
		"/openapi.json": // the API's description: no data of anyone's
		return true
	}
	return consoleFile(r.URL.Path)
}

// consoleFile: the web console's static files (http/console), which hold
// no data; everything the page asks for carries the user's token. The
// router sends every path under /ui/ to the console, which serves only
// its embedded files.
func consoleFile(path string) bool {
	return path == "/ui" || strings.HasPrefix(path, "/ui/")
}

func peerOnly(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/internal/") || r.URL.Path == "/cluster/announce"
}

func adminOnly(r *http.Request) bool {
	p := r.URL.Path
	return p == "/auth/tokens" || strings.HasPrefix(p, "/auth/") || p == "/cluster/members" ||
		strings.HasPrefix(p, "/cluster/members/") || p == "/cluster/leadership-transfer"
}

func isWrite(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

var anonymous = Principal{ID: event.ActorAnonymous, Role: event.RoleAdmin}

// authorize returns who makes r, or why r is refused.
func (c Config) authorize(r *http.Request) (Principal, error) {
	if open(r) {
		return anonymous, nil
	}
	if peerOnly(r) {
		return c.peer(r)
	}
	if p, ok := c.signed(r); ok {
		return p, nil
	}
	if !c.On() {
		return anonymous, nil
	}
	p, err := c.bearer(r)
	if err != nil {
		return Principal{}, err
	}
	switch {
	case adminOnly(r) && !p.Admin():
		return Principal{}, fmt.Errorf("%w: %s needs an admin token, and token %s is a %s", ErrForbidden, r.URL.Path, p.ID, p.Role)
	case r.URL.Path == "/metrics" && p.Scoped():
		return Principal{}, fmt.Errorf("%w: /metrics counts every app's runs, and token %s is limited to some apps", ErrForbidden, p.ID)
	case isWrite(r.Method) && p.Role == event.RoleReader:
		return Principal{}, fmt.Errorf("%w: token %s is a reader: it cannot %s %s", ErrForbidden, p.ID, r.Method, r.URL.Path)
	}
	return p, nil
}

// signed is the principal of a write its handler authorizes by its
// signature (SignedWrites).
func (c Config) signed(r *http.Request) (Principal, bool) {
	if !isWrite(r.Method) {
		return Principal{}, false
	}
	for _, prefix := range c.SignedWrites {
		if strings.HasPrefix(r.URL.Path, prefix) {
			p := Principal{ID: event.ActorSigned, Role: event.RoleWriter, Apps: map[string]bool{}}
			for _, a := range c.SignedApps {
				p.Apps[a] = true
			}
			return p, true
		}
	}
	return Principal{}, false
}

// peer checks that r comes from a member of the cluster.
func (c Config) peer(r *http.Request) (Principal, error) {
	system := Principal{ID: event.ActorSystem, Role: event.RoleAdmin}
	switch {
	case c.ClusterSecret != "":
		if VerifyProof(c.ClusterSecret, r.Header.Get(ProofHeader), r.Method, r.URL.Path, c.Now()) {
			return system, nil
		}
		return Principal{}, errkind.Newf(errkind.Unauthenticated,
			"%s is for members of the cluster: no valid %s (same --cluster-secret-file on every node, clocks within a minute)",
			r.URL.Path, ProofHeader)
	case c.TLSPeers:
		if tlsconf.Peer(r.TLS) {
			return system, nil
		}
		return Principal{}, errkind.Newf(errkind.Unauthenticated,
			"%s is for members of the cluster: show a client certificate the cluster CA signed", r.URL.Path)
	case c.On():
		p, err := c.bearer(r)
		if err != nil || p.ID != event.ActorAdmin {
			return Principal{}, errkind.Newf(errkind.Unauthenticated, "%s is for members of the cluster: send the admin token", r.URL.Path)
		}
		return system, nil
	}
	return system, nil
}

// bearer resolves the request's bearer token.
func (c Config) bearer(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	name := c.tokenHeader(r.URL.Path)
	if h == "" && name != "" {
		token, ok = r.Header.Get(name), true
	}
	if !ok || strings.TrimSpace(token) == "" {
		send := "Authorization: Bearer <token>"
		if name != "" {
			send = name + ": <token>, or " + send
		}
		return Principal{}, fmt.Errorf("%w: send %s", ErrNoToken, send)
	}
	token = strings.TrimSpace(token)
	if equal(token, c.AdminToken) {
		return Principal{ID: event.ActorAdmin, Role: event.RoleAdmin}, nil
	}
	t, found, err := c.Tokens.TokenByHash(Hash(token))
	switch {
	case err != nil:
		return Principal{}, fmt.Errorf("look up a token: %w", err)
	case !found:
		return Principal{}, ErrUnknownToken
	}
	p := Principal{ID: t.TokenID, Role: t.Role}
	if len(t.Apps) > 0 {
		p.Apps = map[string]bool{}
		for _, a := range t.Apps {
			p.Apps[a] = true
		}
	}
	return p, nil
}

// CredentialsFor decorates a request one node makes to another's own
// endpoints with what cfg's peer check asks for.
func (c Config) CredentialsFor(r *http.Request) {
	switch {
	case c.ClusterSecret != "":
		r.Header.Set(ProofHeader, Proof(c.ClusterSecret, r.Method, r.URL.Path, time.Now()))
	case c.TLSPeers:
		// the client certificate proves it
	case c.On():
		r.Header.Set("Authorization", "Bearer "+c.AdminToken)
	}
}

// limiters keeps a rate limiter per token.
type limiters struct {
	every float64
	burst int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// maxLimiters bounds the limiters kept; past it they start afresh.
const maxLimiters = 10_000

// wait takes a request of id's from its budget and returns 0, or how long
// until the budget has room for one, taking nothing.
func (l *limiters) wait(id string) time.Duration {
	l.mu.Lock()
	lim, ok := l.m[id]
	if !ok {
		if len(l.m) >= maxLimiters {
			clear(l.m)
		}
		lim = rate.NewLimiter(rate.Limit(l.every), l.burst)
		l.m[id] = lim
	}
	l.mu.Unlock()
	r := lim.Reserve()
	d := r.Delay()
	if d > 0 {
		r.Cancel()
	}
	return d
}
