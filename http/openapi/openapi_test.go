package openapi_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/http/auth"
	"github.com/chronicle-sched/chronicle/http/cronhubot"
	"github.com/chronicle-sched/chronicle/http/goscheduler"
	"github.com/chronicle-sched/chronicle/http/karajo"
	"github.com/chronicle-sched/chronicle/http/keboola"
	"github.com/chronicle-sched/chronicle/http/openapi"
	"github.com/chronicle-sched/chronicle/http/openapi/openapitest"
	"github.com/chronicle-sched/chronicle/http/server"
	"github.com/chronicle-sched/chronicle/internal/metrics"
	"github.com/julienschmidt/httprouter"
)

func TestDocumentLoadsAndValidates(t *testing.T) {
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if _, err := openapitest.New(); err != nil {
		t.Fatal(err)
	}
}

// TestEveryRouteIsDocumented: the router's routes and the document's
// operations are the same set, but for the node-to-node endpoints the
// document leaves out: an endpoint added without its documentation (or
// documentation left behind by a removed one) fails here.
func TestEveryRouteIsDocumented(t *testing.T) {
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	routed := map[string]bool{}
	for _, route := range routes(t) {
		_, path, _ := strings.Cut(route, " ")
		if !openapitest.LeftOut(path) {
			routed[route] = true
		}
	}
	if len(routed) < 30 {
		t.Fatalf("the router lists %d public routes: the walk of its trees is broken", len(routed))
	}
	for route := range routed {
		if !documented[route] {
			t.Errorf("%s is served but not in http/openapi/openapi.json", route)
		}
	}
	for op := range documented {
		switch {
		case !routed[op]:
			t.Errorf("%s is in http/openapi/openapi.json but not served", op)
		}
	}
}

// routerSpy is an API that only keeps the router it is registered on.
type routerSpy struct{ r *httprouter.Router }

func (s *routerSpy) Register(r *httprouter.Router)         { s.r = r }
func (s *routerSpy) Owns(string) bool                      { return false }
func (s *routerSpy) WriteError(http.ResponseWriter, error) {}

// startServer starts the real HTTP server with no core behind it (no
// request reaches a handler that would need one) and returns its base
// URL and router.
func startServer(t *testing.T, ac auth.Config) (string, *httprouter.Router) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	spy := &routerSpy{}
	srv, err := server.Start(server.Config{
		Addr: "127.0.0.1:0",
		API:  goscheduler.New(nil, nil, func() error { return nil }, nil, logger),
		APIs: []server.API{cronhubot.New(nil, nil, cronhubot.Config{Logger: logger}),
			karajo.New(nil, nil, karajo.Config{Logger: logger}), keboola.New(nil, nil, keboola.Config{Logger: logger}), spy},
		Forwarded: http.NotFoundHandler(),
		Relay:     func(next http.Handler, _ func(*http.Request) bool) http.Handler { return next },
		Logger:    logger,
		Auth:      ac,
		Metrics:   metrics.New(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(t.Context()) })
	if spy.r == nil {
		t.Fatal("the server registered no API on its router")
	}
	return "http://" + srv.Addr(), spy.r
}

var param = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

// routes lists "METHOD /path" for every route of the server's router,
// path parameters written as OpenAPI writes them. httprouter v1 has no
// listing: its trees are read by reflection (read-only).
func routes(t *testing.T) []string {
	_, r := startServer(t, auth.Config{})
	trees := reflect.ValueOf(r).Elem().FieldByName("trees")
	if !trees.IsValid() || trees.Kind() != reflect.Map {
		t.Fatal("httprouter.Router has no trees map: its layout changed")
	}
	var out []string
	var walk func(method, prefix string, n reflect.Value)
	walk = func(method, prefix string, n reflect.Value) {
		if n.IsNil() {
			return
		}
		n = n.Elem()
		path := prefix + n.FieldByName("path").String()
		if !n.FieldByName("handle").IsNil() {
			out = append(out, method+" "+param.ReplaceAllString(path, "{$1}"))
		}
		children := n.FieldByName("children")
		for i := range children.Len() {
			walk(method, path, children.Index(i))
		}
	}
	iter := trees.MapRange()
	for iter.Next() {
		walk(iter.Key().String(), "", iter.Value())
	}
	slices.Sort(out)
	return out
}

// TestServedExactlyAndOpen: GET /openapi.json answers the embedded
// document byte for byte, without a token even when auth is on (it
// holds no data), and only GET is open.
func TestServedExactlyAndOpen(t *testing.T) {
	base, _ := startServer(t, auth.Config{AdminToken: "admin-token-for-the-test", Now: time.Now})
	res, err := http.Get(base + openapi.Path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || !bytes.Equal(body, openapi.Document()) {
		t.Fatalf("GET %s: %d %q, %d bytes; want 200 application/json, the %d bytes embedded",
			openapi.Path, res.StatusCode, res.Header.Get("Content-Type"), len(body), len(openapi.Document()))
	}
	for _, c := range []struct{ method, path string }{{"POST", openapi.Path}, {"GET", "/cluster"}, {"GET", "/goscheduler/apps"}} {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d, want 401", c.method, c.path, res.StatusCode)
		}
	}
}

// TestOperationsListTheirRefusals: what the middleware in front of every
// operation can answer is in the document: 401 behind a token (and no
// 401 on the open ones), 429 past --rate-limit on all (callers without
// a token share the anonymous budget).
func TestOperationsListTheirRefusals(t *testing.T) {
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			open := op.Security != nil && len(*op.Security) == 0
			if listed := op.Responses.Status(401) != nil; listed == open {
				t.Errorf("%s %s (open: %v) lists 401: %v", method, path, open, listed)
			}
			if op.Responses.Status(429) == nil {
				t.Errorf("%s %s does not list 429", method, path)
			}
		}
	}
}

// TestValidatorRefusesWhatTheDocumentDoesNotDescribe: the check the
// integration tests run on every answer can fail.
func TestValidatorRefusesWhatTheDocumentDoesNotDescribe(t *testing.T) {
	v, err := openapitest.New()
	if err != nil {
		t.Fatal(err)
	}
	native := func(code int, typ string) string {
		return fmt.Sprintf(`{"status":{"statusCode":%d,"statusMessage":"m","statusType":%q}}`, code, typ)
	}
	bearer := http.Header{"Content-Type": {"application/json"}, "Www-Authenticate": {`Bearer realm="chronicle"`}}
	for _, c := range []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		ok                 bool
	}{
		{"livez", "GET", "/livez", 200, nil, `{"status":"alive"}`, true},
		{"livez, another body", "GET", "/livez", 200, nil, `{"status":"dead"}`, false},
		{"an undocumented status", "GET", "/livez", 418, nil, `{"status":"alive"}`, false},
		{"a field the schema lacks", "GET", "/readyz", 200, nil, `{"status":"ready","extra":1}`, false},
		{"a 401", "GET", "/goscheduler/apps", 401, bearer, native(401, "Fail"), true},
		{"a 401 without WWW-Authenticate", "GET", "/goscheduler/apps", 401, nil, native(401, "Fail"), false},
		{"a 401 whose body says 403", "GET", "/goscheduler/apps", 401, bearer, native(403, "Fail"), false},
		{"GoScheduler's 4003", "POST", "/goscheduler/apps/a/activate", 409, nil, native(4003, "Fail"), true},
		{"CronHubot's format on a native path", "GET", "/goscheduler/apps", 403, nil, `{"status":"forbidden","message":"m"}`, false},
		{"the native format on CronHubot's path", "GET", "/cronjobs/1", 404, nil, native(404, "Fail"), false},
		{"CronHubot's 404", "GET", "/cronjobs/1", 404, nil, `{"status":"cronjob_not_found","message":"m"}`, true},
		{"an unknown path", "GET", "/nope", 404, nil, native(404, "Fail"), true},
		{"an unknown path answered 200", "GET", "/nope", 200, nil, native(200, "Success"), false},
		{"an unknown path refused for its token", "GET", "/nope", 401, bearer, native(401, "Fail"), true},
		{"a trailing slash", "GET", "/events/", 404, nil, native(404, "Fail"), true},
		{"a trailing slash served", "GET", "/events/", 200, nil, `{"events":[],"next":0,"lastSeq":0}`, false},
		{"a method the path does not take", "PUT", "/cronjobs/1", 405, nil, `{"status":"method_not_allowed","message":"m"}`, true},
		{"a method the path does not take, as a 404", "PUT", "/cronjobs/1", 404, nil, `{"status":"not_found","message":"m"}`, false},
	} {
		h := c.header
		if h == nil {
			h = http.Header{"Content-Type": {"application/json"}}
		}
		req, _ := http.NewRequest(c.method, "http://node"+c.path, nil)
		err := v.Response(req, c.status, h, []byte(c.body))
		if (err == nil) != c.ok {
			t.Errorf("%s (%s %s %d): error %v, want ok %v", c.name, c.method, c.path, c.status, err, c.ok)
		}
	}
}
