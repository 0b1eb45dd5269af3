package server

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/http/respond"

	"log/slog"

	"github.com/chronicle-sched/chronicle/http/goscheduler"
	"github.com/chronicle-sched/chronicle/internal/peerhttp"
)

// Headers of forwarded writes.
const (
	// HeaderForwardedBy marks a request a follower forwarded; a node that
	// is not the leader either refuses it (503) rather than forwarding it
	// again, so a leadership change cannot make requests loop.
	HeaderForwardedBy = "X-Chronicle-Forwarded-By"
	// HeaderAppliedIndex is set by the leader on write answers: the Raft
	// index applied when it answered. The forwarding follower waits until
	// it has applied that index too, so a client that writes and then
	// reads through the same follower sees its write.
	HeaderAppliedIndex = "X-Chronicle-Applied-Index"
)

// followerCatchUp bounds how long a follower waits to apply a forwarded
// write before answering anyway.
const followerCatchUp = 2 * time.Second

// forwarder sends writes that reach a follower to the leader, so clients
// can use any node and never see a redirect. Reads are served locally.
type forwarder struct {
	cluster Cluster
	logger  *slog.Logger
	next    http.Handler
	proxy   *httputil.ReverseProxy
}

func newForwarder(c Cluster, logger *slog.Logger, next http.Handler) *forwarder {
	f := &forwarder{cluster: c, logger: logger, next: next}
	f.proxy = &httputil.ReverseProxy{
		Transport:  peerhttp.Transport(512), // one idle connection per write in flight
		BufferPool: copyBuffers{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(pr.In.Context().Value(leaderURLKey{}).(*url.URL))
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set(HeaderForwardedBy, c.NodeID())
		},
		ModifyResponse: func(res *http.Response) error {
			if idx, err := strconv.ParseUint(res.Header.Get(HeaderAppliedIndex), 10, 64); err == nil {
				c.WaitApplied(idx, followerCatchUp)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			unavailable(w, logger, "the leader could not be reached ("+err.Error()+"); retry")
		},
	}
	return f
}

// copyBuffers lends the proxy the buffers it copies answers through:
// without a pool it allocates 32 KB per forwarded write, which the
// follower's garbage collector then pays for (answers are a few hundred
// bytes, so 4 KB buffers suffice).
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}

func (copyBuffers) Get() []byte  { return *copyBufferPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyBufferPool.Put(&b) }

type leaderURLKey struct{}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isRead(r.Method) || r.URL.Path == ForwardPath {
		// A node that does not lead refuses forwarded batches itself.
		f.next.ServeHTTP(w, r)
		return
	}
	if f.cluster.IsLeader() {
		f.next.ServeHTTP(&indexWriter{ResponseWriter: w, cluster: f.cluster, relayed: r.Header.Get(HeaderForwardedBy) != ""}, r)
		return
	}
	if by := r.Header.Get(HeaderForwardedBy); by != "" {
		unavailable(w, f.logger, "leadership changed while "+by+" forwarded this request; retry")
		return
	}
	if servedByFollower(r) && f.cluster.LeaderTakesForwarded() {
		// Handled here; its event goes to the leader batched with others.
		f.next.ServeHTTP(w, r)
		return
	}
	id, addr := f.cluster.Leader()
	switch {
	case id == "":
		unavailable(w, f.logger, "the cluster has no leader right now (election in progress); retry")
		return
	case addr == "":
		unavailable(w, f.logger, "leader "+id+" has not announced its HTTP address yet; retry")
		return
	}
	target := &url.URL{Scheme: "http", Host: addr}
	f.proxy.ServeHTTP(w, r.WithContext(contextWith(r, target)))
}

// servedByFollower: writes a follower handles itself and forwards only as
// events (see raftfsm/forward.go): creates, the writes that come in
// volume. Others are relayed whole to the leader, whose actors hold the
// authoritative view of apps and schedules.
func servedByFollower(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == goscheduler.CreatePath
}

func isRead(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

func unavailable(w http.ResponseWriter, logger *slog.Logger, msg string) {
	w.Header().Set("Retry-After", "1")
	respond.Write(w, logger, &respond.Error{HTTP: http.StatusServiceUnavailable,
		Code: http.StatusServiceUnavailable, Message: msg})
}

// indexWriter stamps the applied index on the leader's write answers.
type indexWriter struct {
	http.ResponseWriter
	cluster Cluster
	relayed bool // a follower relayed the request and waits for the index
	wrote   bool
}

func (w *indexWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		var index uint64
		if w.relayed {
			index = w.cluster.FollowerIndex()
		} else {
			index = w.cluster.AppliedIndex()
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

func contextWith(r *http.Request, target *url.URL) context.Context {
	return context.WithValue(r.Context(), leaderURLKey{}, target)
}
