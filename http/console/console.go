// Package console serves Chronicle's web console: a static single-page
// application, embedded in the binary, at /ui/. The page holds no data and
// has no back door: it calls the public APIs (/goscheduler/..., /cluster,
// /events) from the browser with the token the user gives it, so the same
// auth, roles and app scopes apply as to any client. Its files are served
// without a token (http/auth lets GET and HEAD of /ui and /ui/* through),
// under a Content-Security-Policy that allows only its own script and
// style and calls to this origin.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
)

// Path is where the console is mounted; Path without its slash redirects
// to it.
const Path = "/ui/"

//go:embed assets
var assets embed.FS

// csp allows the page its own files and calls to its own origin, nothing
// inline, nothing from elsewhere, and no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type file struct {
	body  []byte
	ctype string
	etag  string
}

// Register mounts the console on r: GET and HEAD of /ui (a redirect) and
// of every file under /ui/.
func Register(r *httprouter.Router) {
	files := load()
	serve := func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) {
		name := strings.TrimPrefix(ps.ByName("filepath"), "/")
		if name == "" {
			name = "index.html"
		}
		f, ok := files[name]
		headers(w)
		if !ok {
			// No fallback to index.html: the console routes by the URL's
			// fragment, so any other path is a mistake.
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", f.ctype)
		w.Header().Set("ETag", f.etag)
		// Revalidate every time (cheap with the ETag): a new build's files
		// are picked up at once.
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, req, name, time.Time{}, bytes.NewReader(f.body))
	}
	redirect := func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
		headers(w)
		http.Redirect(w, req, Path, http.StatusMovedPermanently)
	}
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		r.Handle(m, strings.TrimSuffix(Path, "/"), redirect)
		r.Handle(m, Path+"*filepath", serve)
	}
}

// headers are the console's security headers, on every answer of its paths.
func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// types are the content types of the console's files: a fixed table, not
// the system's mime.types, since browsers run a module script only if it
// is served as JavaScript.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// load reads the embedded files once: they never change in a running
// binary.
func load() map[string]file {
	files := map[string]file{}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype, ok := types[path.Ext(p)]
		if !ok {
			return fmt.Errorf("%s: no content type for its extension", p)
		}
		files[strings.TrimPrefix(p, "assets/")] = file{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("console: embedded assets: " + err.Error()) // the build embedded them: cannot happen
	}
	return files
}
