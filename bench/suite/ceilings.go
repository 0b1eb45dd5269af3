package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronicle-sched/chronicle/bench/internal/harness"
	"github.com/chronicle-sched/chronicle/raftfsm/raftstore"
	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// bareHTTP serves what a create costs when nothing but net/http works: it
// decodes the same JSON body and answers a body of the same size. Load
// against it with the same client and concurrency is the HTTP ceiling.
func bareHTTP() (url string, stop func(), err error) { return serveBare(nil) }

// serveBare is bareHTTP's server; with commit set, the handler also hands
// commit the body and answers only once it returned nil: the ceilings of a
// durable and of a replicated HTTP write.
func serveBare(commit func(body []byte) error) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	answer := []byte(`{"status":{"statusCode":201,"statusMessage":"Success","statusType":"Success","totalCount":1},"data":{"schedule":{"scheduleId":"01a204a2-81e8-741e-b7de-36c7291fcf55","payload":"x","appId":"bench","scheduleTime":1795374089,"partitionId":1,"scheduleGroup":1795374060,"callback":{"type":"http","details":{"url":"http://127.0.0.1:9/cb","method":"POST","headers":{}}},"status":"SCHEDULED"}}}`)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in io.Reader = r.Body
		var raw bytes.Buffer
		if commit != nil {
			in = io.TeeReader(r.Body, &raw)
		}
		var body map[string]any
		if err := json.NewDecoder(in).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if commit != nil {
			if err := commit(raw.Bytes()); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// durableHTTP is bareHTTP committing each body to a fresh Pebble store in
// dir in a synced batch, the least a durable create does (Pebble's commit
// pipeline shares one fsync among the writes waiting for it, as
// Chronicle's group commit does). stop also closes the store.
func durableHTTP(dir string) (url string, stop func(), err error) {
	db, err := pebble.Open(filepath.Join(dir, "durable-http-ceiling"), &pebble.Options{Logger: quiet{}})
	if err != nil {
		return "", nil, err
	}
	var seq atomic.Uint64
	url, stopHTTP, err := serveBare(func(body []byte) error {
		b := db.NewBatch()
		defer b.Close()
		if err := b.Set(fmt.Appendf(nil, "e/%016x", seq.Add(1)), body, nil); err != nil {
			return err
		}
		return b.Commit(pebble.Sync)
	})
	if err != nil {
		db.Close()
		return "", nil, err
	}
	return url, func() { stopHTTP(); _ = db.Close() }, nil
}

// pebbleSyncedCeiling commits one-key synced batches from `writers`
// goroutines for d: durable writes per second when nothing else runs.
func pebbleSyncedCeiling(dir string, writers int, d time.Duration) (float64, error) {
	db, err := pebble.Open(filepath.Join(dir, "pebble-ceiling"), &pebble.Options{Logger: quiet{}})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	value := make([]byte, 400)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				b := db.NewBatch()
				_ = b.Set([]byte(fmt.Sprintf("k/%d/%d", w, i)), value, nil)
				if b.Commit(pebble.Sync) == nil {
					n.Add(1)
				}
				b.Close()
			}
		}(w)
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds(), nil
}

type quiet struct{}

func (quiet) Infof(string, ...interface{})  {}
func (quiet) Errorf(string, ...interface{}) {}
func (quiet) Fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format, args...)
	os.Exit(1)
}

// raftApplyCeiling is raw hashicorp/raft Apply throughput on one node over
// our Pebble raftstore (synced, as in production) with an FSM that does
// nothing: what replication costs before any of our apply work.
func raftApplyCeiling(dir string, writers int, d time.Duration) (float64, error) {
	_, trans := raft.NewInmemTransport("ceiling")
	r, closeRaft, err := ceilingRaft(filepath.Join(dir, "raft-ceiling"), "ceiling", trans)
	if err != nil {
		return 0, err
	}
	defer closeRaft()
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: "ceiling", Address: trans.LocalAddr()}}}).Error(); err != nil {
		return 0, err
	}
	for r.State() != raft.Leader {
		time.Sleep(10 * time.Millisecond)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	data := make([]byte, 400)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if r.Apply(data, 5*time.Second).Error() == nil {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds(), nil
}

// ceilingRaft starts a Raft node with a no-op FSM over our Pebble
// raftstore in dir (synced, as in production), with Chronicle's batching.
func ceilingRaft(dir, id string, trans raft.Transport) (*raft.Raft, func(), error) {
	store, err := raftstore.Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, nil, err
	}
	cfg := raft.DefaultConfig()
	cfg.LocalID = raft.ServerID(id)
	cfg.MaxAppendEntries = 512
	cfg.BatchApplyCh = true
	cfg.LogOutput = io.Discard
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 150*time.Millisecond
	r, err := raft.NewRaft(cfg, nopFSM{}, store, store, raft.NewDiscardSnapshotStore(), trans)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return r, func() { _ = r.Shutdown().Error(); store.Close() }, nil
}

// replicatedHTTP is bareHTTP whose handler also applies each body through
// a three-node Raft cluster (in this process, talking TCP over loopback,
// each node on its own synced raftstore, no-op FSMs) and answers once the
// entry is committed: the least a replicated create costs on this machine,
// without the hop from a follower. stop shuts the cluster down.
func replicatedHTTP(dir string) (url string, stop func(), err error) {
	var closers []func()
	stopAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	var servers []raft.Server
	var rafts []*raft.Raft
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("ceiling-%d", i)
		trans, err := raft.NewTCPTransport("127.0.0.1:0", nil, 8, 10*time.Second, io.Discard)
		if err != nil {
			stopAll()
			return "", nil, err
		}
		closers = append(closers, func() { _ = trans.Close() })
		r, closeRaft, err := ceilingRaft(filepath.Join(dir, "replicated-ceiling", id), id, trans)
		if err != nil {
			stopAll()
			return "", nil, err
		}
		closers = append(closers, closeRaft)
		rafts = append(rafts, r)
		servers = append(servers, raft.Server{ID: raft.ServerID(id), Address: trans.LocalAddr()})
	}
	if err := rafts[0].BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		stopAll()
		return "", nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for rafts[0].State() != raft.Leader {
		if time.Now().After(deadline) {
			stopAll()
			return "", nil, fmt.Errorf("replicated ceiling: no leader after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	url, stopHTTP, err := serveBare(func(body []byte) error { return rafts[0].Apply(body, 5*time.Second).Error() })
	if err != nil {
		stopAll()
		return "", nil, err
	}
	return url, func() { stopHTTP(); stopAll() }, nil
}

type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) interface{}         { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnap{}, nil }
func (nopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type nopSnap struct{}

func (nopSnap) Persist(s raft.SnapshotSink) error { return s.Close() }
func (nopSnap) Release()                          {}

var _ = harness.Percentile

// bareCallbackCeiling POSTs total callbacks, with a plain keep-alive client
// of `workers` goroutines, to a receiver like the one the firing scenarios
// use: the callbacks/s this machine can carry when nothing schedules them.
func bareCallbackCeiling(total, workers int) (float64, error) {
	rc, err := harness.NewReceiver()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	body := []byte(`{"n":12345}`)
	r := postLoad(goClient, rc.URL+"/f", workers, total, time.Hour, func(int) []byte { return body })
	if r.Errors > 0 {
		return 0, fmt.Errorf("bare callbacks: %d errors", r.Errors)
	}
	return r.PerSec, nil
}
