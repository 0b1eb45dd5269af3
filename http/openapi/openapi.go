// Package openapi serves the OpenAPI 3.1 document of Chronicle's public
// endpoints (openapi.json, maintained by hand beside the handlers). The
// document is kept honest by tests, not by generation: this package's
// test checks it against the router's routes, and cmd/chronicle's
// integration tests validate every response they get against it.
package openapi

import (
	"bytes"
	_ "embed"
	"net/http"
	"strconv"
)

// Path is where the document is served.
const Path = "/openapi.json"

//go:embed openapi.json
var document []byte

// Document returns a copy of the document, as served.
func Document() []byte { return bytes.Clone(document) }

// Serve answers the document, exactly as embedded.
func Serve(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(document)))
	_, _ = w.Write(document)
}
