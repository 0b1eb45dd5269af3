package main

import (
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
func bareHTTP() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	answer := []byte(`{"status":{"statusCode":201,"statusMessage":"Success","statusType":"Success","totalCount":1},"data":{"schedule":{"scheduleId":"01a204a2-81e8-741e-b7de-36c7291fcf55","payload":"x","appId":"bench","scheduleTime":1795374089,"partitionId":1,"scheduleGroup":1795374060,"callback":{"type":"http","details":{"url":"http://127.0.0.1:9/cb","method":"POST","headers":{}}},"status":"SCHEDULED"}}}`)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
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
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := raftstore.Open(filepath.Join(dir, "raft-ceiling"), logger)
	if err != nil {
		return 0, err
	}
	defer store.Close()
	cfg := raft.DefaultConfig()
	cfg.LocalID = "ceiling"
	cfg.MaxAppendEntries = 512
	cfg.LogOutput = io.Discard
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 150*time.Millisecond
	_, trans := raft.NewInmemTransport("ceiling")
	r, err := raft.NewRaft(cfg, nopFSM{}, store, store, raft.NewDiscardSnapshotStore(), trans)
	if err != nil {
		return 0, err
	}
	defer r.Shutdown()
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
