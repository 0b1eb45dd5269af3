package cluster

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/internal/errkind"
)

// Relay sends the writes that reach a follower to the leader whole, so
// clients can use any node and never see a redirect. Reads are served
// locally; so are the writes the layer above serves on a follower itself
// (creates, forwarded as events by the app actors).
type Relay struct {
	node     relayNode
	dir      *Directory
	fwd      *Forwarder
	nudge    *nudger
	writeErr func(http.ResponseWriter, error)
	proxy    *httputil.ReverseProxy
	scheme   string // the leader's API: http or https
}

// relayNode is what relaying needs of the local replica.
type relayNode interface {
	IsLeader() bool
	NodeID() string
	AppliedIndex() uint64
	WaitApplied(index uint64, timeout time.Duration) bool
}

// followerCatchUp bounds how long a follower waits to apply a relayed
// write before answering anyway.
const followerCatchUp = 2 * time.Second

func newRelay(node relayNode, dir *Directory, fwd *Forwarder, nudge *nudger, writeErr func(http.ResponseWriter, error), peers peerHTTP) *Relay {
	r := &Relay{node: node, dir: dir, fwd: fwd, nudge: nudge, writeErr: writeErr, scheme: peers.scheme()}
	r.proxy = &httputil.ReverseProxy{
		Transport:  peers.transport(512), // one idle connection per write in flight
		BufferPool: copyBuffers{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(pr.In.Context().Value(leaderURLKey{}).(*url.URL))
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set(HeaderForwardedBy, node.NodeID())
		},
		ModifyResponse: func(res *http.Response) error {
			if idx, err := strconv.ParseUint(res.Header.Get(HeaderAppliedIndex), 10, 64); err == nil {
				node.WaitApplied(idx, followerCatchUp)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeErr(w, unavailable("the leader could not be reached (%v); retry", err))
		},
	}
	return r
}

// unavailable is the error of a write a follower cannot relay now: 503
// with Retry-After, which clients retry.
func unavailable(format string, args ...any) error {
	return errkind.Newf(errkind.Unavailable, format, args...)
}

// copyBuffers lends the proxy the buffers it copies answers through:
// without a pool it allocates 32 KB per relayed write, which the
// follower's garbage collector then pays for (answers are a few hundred
// bytes, so 4 KB buffers suffice).
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}

func (copyBuffers) Get() []byte  { return *copyBufferPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyBufferPool.Put(&b) }

type leaderURLKey struct{}

// Wrap returns next behind the relay. servedHere names the writes a
// follower serves itself, when the leader's build takes their events.
func (r *Relay) Wrap(next http.Handler, servedHere func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case isRead(req.Method) || req.URL.Path == ForwardPath:
			// A node that does not lead refuses forwarded batches itself.
			next.ServeHTTP(w, req)
			return
		case r.node.IsLeader():
			next.ServeHTTP(&indexWriter{ResponseWriter: w, r: r, relayed: req.Header.Get(HeaderForwardedBy) != ""}, req)
			return
		}
		if by := req.Header.Get(HeaderForwardedBy); by != "" {
			r.writeErr(w, unavailable("leadership changed while %s relayed this request; retry", by))
			return
		}
		if servedHere(req) && r.fwd.TakesEvents() {
			next.ServeHTTP(w, req)
			return
		}
		id, addr := r.dir.Leader()
		switch {
		case id == "":
			r.writeErr(w, unavailable("the cluster has no leader right now (election in progress); retry"))
			return
		case addr == "":
			r.writeErr(w, unavailable("leader %s has not announced its HTTP address yet; retry", id))
			return
		}
		target := &url.URL{Scheme: r.scheme, Host: addr}
		r.proxy.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), leaderURLKey{}, target)))
	})
}

func isRead(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// indexWriter stamps the applied index on the leader's write answers; for
// a relayed request it also makes sure the follower hears soon that the
// index committed (nudge.go).
type indexWriter struct {
	http.ResponseWriter
	r       *Relay
	relayed bool
	wrote   bool
}

func (w *indexWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		index := w.r.node.AppliedIndex()
		if w.relayed {
			w.r.nudge.commit(index)
		}
		w.Header().Set(HeaderAppliedIndex, strconv.FormatUint(index, 10))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *indexWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes of
// streamed answers).
func (w *indexWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
