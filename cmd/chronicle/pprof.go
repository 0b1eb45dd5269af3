package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/chronicle-sched/chronicle/raftfsm"
)

// servePprof exposes the Go profiler on its own listener, apart from the
// API, so that benchmarks and operators can see where time goes in a real
// process without the profiler ever being reachable through the API port.
//
// /debug/memory answers what the process holds in fixed-size structures
// (Pebble block caches and memtables) beside the Go heap, so that memory
// per schedule can be told apart from caches filling up; ?gc=1 collects
// garbage first, so the heap figure is what is live. /debug/stores is
// Pebble's own report of both stores (LSM levels, flushes, compactions and
// their write amplification), the figure that says what a write costs the
// disk and the CPU beyond the write itself.
func servePprof(addr string, logger *slog.Logger, n *raftfsm.Node) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/memory", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") == "1" {
			runtime.GC() // the live heap, not what the collector has yet to free
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			raftfsm.StoreMemory
			GoHeapInuseBytes uint64 `json:"goHeapInuseBytes"`
		}{n.StoreMemory(), ms.HeapInuse})
	})
	mux.HandleFunc("/debug/stores", func(w http.ResponseWriter, _ *http.Request) {
		state, log := n.StoreMetrics()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "state store\n%s\nraft log store\n%s", state, log)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			logger.Warn("pprof server stopped", "err", err)
		}
	}()
	logger.Info("pprof serving", "addr", ln.Addr().String())
	return nil
}
