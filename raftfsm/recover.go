package raftfsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/chronicle-sched/chronicle/raftfsm/raftstore"
	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// Recover rewrites the Raft configuration of a stopped node's data dir to
// servers, offline: the way back for a cluster that lost its quorum (two
// of three nodes gone for good), as Consul's and rqlite's peers.json
// recovery do. It applies every entry of the node's log (committed or
// not: with the quorum lost, nobody knows which were), takes a snapshot
// that carries the new configuration, and truncates the log. Started
// again, the node belongs to the cluster of servers only: with itself the
// sole voter it elects itself and serves; run on every surviving node
// with the same servers, they elect a leader among them.
func Recover(dataDir, nodeID string, servers []Peer, logger *slog.Logger) (err error) {
	if len(servers) == 0 {
		return errors.New("recover: name the servers of the new configuration (--peers)")
	}
	self := false
	conf := raft.Configuration{}
	for _, p := range servers {
		self = self || p.ID == nodeID
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
	}
	if !self {
		return fmt.Errorf("recover: the new configuration must include this node (%s)", nodeID)
	}
	db, err := openState(dataDir, StateOptions(logger), DefaultStateCacheBytes, logger)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	defer func() {
		if ferr := db.Flush(); ferr != nil && err == nil {
			err = fmt.Errorf("recover: flush state store: %w", ferr)
		}
		db.Close()
	}()
	fsm, err := NewFSM(db, logger)
	if err != nil {
		return err
	}
	logs, err := raftstore.Open(filepath.Join(dataDir, "raft"), logger)
	if err != nil {
		return fmt.Errorf("recover: open raft log store: %w", err)
	}
	defer logs.Close()
	hlog := raftLogger(logger)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dataDir, 2, hlog)
	if err != nil {
		return fmt.Errorf("recover: open snapshot store: %w", err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(nodeID)
	rc.Logger = hlog
	_, trans := raft.NewInmemTransport("")
	if err := raft.RecoverCluster(rc, fsm, logs, logs, snaps, trans, conf); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	// RecoverCluster hands the FSM only command entries; the entries after
	// the last one (configuration changes, no-ops) would only have moved
	// the applied index, which the new snapshot covers. Recording it spares
	// the next start a restore from that snapshot.
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		return fmt.Errorf("recover: list snapshots: %v", err)
	}
	if list[0].Index > fsm.AppliedIndex() {
		var idx [8]byte
		binary.BigEndian.PutUint64(idx[:], list[0].Index)
		if err := db.Set(appliedKey, idx[:], pebble.Sync); err != nil {
			return fmt.Errorf("recover: record applied index: %w", err)
		}
	}
	logger.Info("recovered: Raft configuration rewritten", "node", nodeID, "servers", len(servers), "index", list[0].Index)
	return nil
}
