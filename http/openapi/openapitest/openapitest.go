// Package openapitest checks answers against the OpenAPI document
// (http/openapi) with kin-openapi, for tests: cmd/chronicle's integration
// tests validate every answer a node gives them, http/openapi's test
// loads and checks the document itself. Only tests import it, so the
// validator stays out of the binary.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/chronicle-sched/chronicle/http/openapi"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

func init() {
	// The event stream's body is text: checked as a string (what a
	// test read of it before closing).
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
}

// Load parses the document as served and validates it as an OpenAPI 3.1
// document (examples and defaults included).
func Load() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Document())
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation(), openapi3.EnableSchemaDefaultsValidation()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	return doc, nil
}

// ErrLeftOut marks an answer of a path the document leaves out on
// purpose (LeftOut).
var ErrLeftOut = errors.New("a node-to-node endpoint or the console's files, not in the document")

// LeftOut reports whether path is one the document leaves out: the
// endpoints nodes call on each other (/internal/*, /cluster/announce),
// and the console's static files (/ui, /ui/...), a web page rather than
// an API.
func LeftOut(path string) bool {
	return strings.HasPrefix(path, "/internal/") || path == "/cluster/announce" ||
		path == "/ui" || strings.HasPrefix(path, "/ui/")
}

// Validator checks answers against the document.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// New loads the document and routes requests by its paths.
func New() (*Validator, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route by the OpenAPI document: %w", err)
	}
	return &Validator{doc: doc, router: router}, nil
}

// Doc is the document the validator checks by.
func (v *Validator) Doc() *openapi3.T { return v.doc }

// Response checks the answer (status, header, body) a node gave to req
// against the document: its status must be one the operation lists, its
// headers and body must match that response. Only the answer is
// checked: tests send bad requests on purpose. A path the document does
// not have must have been answered 404, a method the path does not take
// 405 (or refused before routing), in the error format of the API the
// path belongs to.
func (v *Validator) Response(req *http.Request, status int, header http.Header, body []byte) error {
	if LeftOut(req.URL.Path) {
		return ErrLeftOut
	}
	if p := req.URL.Path; p != "/" && strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
		// The document's router would match /events/ as /events; the
		// server never cleans a path into a route.
		return v.unrouted(req, http.StatusNotFound, "an empty path segment", status, header, body)
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		var re *routers.RouteError
		if !errors.As(err, &re) {
			return fmt.Errorf("route: %w", err)
		}
		if v.otherMethods(req) {
			return v.unrouted(req, http.StatusMethodNotAllowed, "the path takes other methods", status, header, body)
		}
		return v.unrouted(req, http.StatusNotFound, "no path of the document", status, header, body)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// unrouted checks the answer to a request the document has no operation
// for: the router's JSON 404 or 405 (want), in the format of the path's API
// (the document's responses NotFound and MethodNotAllowed, or CronHubot's),
// unless what stands in front of the router refused it first: the auth
// middleware (401, 403, 429), or a follower that could not relay a write
// (503).
func (v *Validator) unrouted(req *http.Request, want int, why string, status int, header http.Header, body []byte) error {
	name := map[int]string{http.StatusNotFound: "NotFound", http.StatusMethodNotAllowed: "MethodNotAllowed",
		http.StatusUnauthorized: "Unauthorized", http.StatusForbidden: "Forbidden", http.StatusTooManyRequests: "TooManyRequests"}[status]
	if status == http.StatusServiceUnavailable && req.Method != http.MethodGet && req.Method != http.MethodHead {
		name = "Unavailable"
	}
	if name == "" || (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) && status != want {
		return fmt.Errorf("no operation in the document (%s): the answer must be %d, not %d", why, want, status)
	}
	if req.Method == http.MethodHead {
		return nil // no body
	}
	if cronhubotPath(req.URL.Path) {
		name = "CronHubot" + name
	}
	ref := v.doc.Components.Responses[name]
	if ref == nil || ref.Value == nil || ref.Value.Content.Get("application/json") == nil {
		return fmt.Errorf("the document has no response %s", name)
	}
	response := ref.Value
	for h, hr := range response.Headers {
		if hr.Value != nil && hr.Value.Required && header.Get(h) == "" {
			return fmt.Errorf("a %d (response %s) must carry %s", status, name, h)
		}
	}
	if ct := header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("a %d must be application/json, not %q", status, ct)
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fmt.Errorf("a %d's body is not JSON: %w", status, err)
	}
	schema := response.Content.Get("application/json").Schema.Value
	if err := schema.VisitJSON(value, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("a %d's body does not match the response %s: %w", status, name, err)
	}
	return nil
}

// Responses lists every response the document describes, as
// "METHOD /path STATUS".
func (v *Validator) Responses() []string {
	var out []string
	for path, item := range v.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				out = append(out, method+" "+path+" "+status)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Described names the response of the document an answer of status to
// req is ("METHOD /path STATUS"), or "" if there is none.
func (v *Validator) Described(req *http.Request, status int) string {
	route, _, err := v.router.FindRoute(req)
	if err != nil || route.Operation.Responses.Status(status) == nil {
		return ""
	}
	return route.Method + " " + route.Path + " " + strconv.Itoa(status)
}

// otherMethods reports whether the document has req's path with another
// method. (The router says "method not allowed" only for paths without
// parameters.)
func (v *Validator) otherMethods(req *http.Request) bool {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == req.Method {
			continue
		}
		other := req.Clone(req.Context())
		other.Method = m
		if _, _, err := v.router.FindRoute(other); err == nil {
			return true
		}
	}
	return false
}

// cronhubotPath: the paths whose errors are CronHubot's (cronhubot.API.Owns).
func cronhubotPath(p string) bool {
	return p == "/health" || p == "/cronjobs" || strings.HasPrefix(p, "/cronjobs/")
}
