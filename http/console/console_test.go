package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/julienschmidt/httprouter"
)

func serve(t *testing.T, method, path string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httprouter.New()
	r.RedirectTrailingSlash, r.RedirectFixedPath = false, false // as http/server sets it
	Register(r)
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

// Each file with its content type, the strict CSP on every answer of the
// console's paths (a 404 and the redirect too), revalidation by ETag.
func TestFilesAndHeaders(t *testing.T) {
	for path, ctype := range map[string]string{
		"/ui/": "text/html", "/ui/index.html": "text/html", "/ui/app.js": "text/javascript", "/ui/style.css": "text/css",
	} {
		w := serve(t, "GET", path, nil)
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), ctype) || w.Body.Len() == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", path, w.Code, w.Header().Get("Content-Type"), w.Body.Len())
		}
		if w.Header().Get("Content-Security-Policy") != csp || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", path, w.Header())
		}
		again := serve(t, "GET", path, map[string]string{"If-None-Match": w.Header().Get("ETag")})
		if again.Code != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", path, again.Code)
		}
	}
	if w := serve(t, "HEAD", "/ui/app.js", nil); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD /ui/app.js: %d, %d bytes", w.Code, w.Body.Len())
	}
	if w := serve(t, "GET", "/ui", nil); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d to %q", w.Code, w.Header().Get("Location"))
	}
	for _, path := range []string{"/ui/nope.js", "/ui/../events", "/ui/assets/app.js", "/ui/app.js/"} {
		if w := serve(t, "GET", path, nil); w.Code != http.StatusNotFound || w.Header().Get("Content-Security-Policy") != csp {
			t.Errorf("GET %s: %d, want the console's 404", path, w.Code)
		}
	}
}

// The policy the page depends on: no inline script or style, calls to
// this origin only.
func TestPolicyIsStrict(t *testing.T) {
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows something unsafe", csp)
	}
	index := string(load()["index.html"].body)
	if strings.Contains(index, "<script>") || strings.Contains(index, "style=") || strings.Contains(index, "http://") ||
		strings.Contains(index, "https://") {
		t.Error("index.html holds inline script or style, or names another origin")
	}
}
