package main

import (
	"time"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/internal/metrics"
	"github.com/chronicle-sched/chronicle/raftfsm"
	"github.com/hashicorp/raft"
)

// watchNode adds to m the gauges read from the node's layers at each
// scrape: Raft's progress, the runs the engine holds, the stores' size and
// whether the node is ready.
func watchNode(m *metrics.Metrics, rn *raftfsm.Node, engine *actors.Engine, ready func() error) {
	raftGauge := func(name, help string, value func(raftfsm.RaftStats) float64) {
		m.Gauge(name, help, func() float64 { return value(rn.RaftStats()) })
	}
	raftGauge("chronicle_raft_state", "This node's Raft state: 0 follower, 1 candidate, 2 leader, 3 shut down.",
		func(s raftfsm.RaftStats) float64 { return float64(s.State) })
	raftGauge("chronicle_raft_has_leader", "1 if this node knows a leader, else 0.",
		func(s raftfsm.RaftStats) float64 { return boolGauge(s.HasLeader) })
	raftGauge("chronicle_raft_term", "The current Raft term.",
		func(s raftfsm.RaftStats) float64 { return float64(s.Term) })
	raftGauge("chronicle_raft_last_index", "The last entry in this node's Raft log.",
		func(s raftfsm.RaftStats) float64 { return float64(s.LastIndex) })
	raftGauge("chronicle_raft_commit_index", "The last entry this node knows to be committed.",
		func(s raftfsm.RaftStats) float64 { return float64(s.CommitIndex) })
	raftGauge("chronicle_raft_applied_index", "The last entry applied to this node's state store (events and projections).",
		func(s raftfsm.RaftStats) float64 { return float64(s.AppliedIndex) })
	raftGauge("chronicle_raft_commit_lag_entries",
		"Entries committed but not yet applied here: what this node's reads are behind by (catching up after a restart, or slow).",
		func(s raftfsm.RaftStats) float64 { return float64(s.CommitIndex - min(s.AppliedIndex, s.CommitIndex)) })
	raftGauge("chronicle_raft_last_contact_seconds", "On a follower, time since it last heard from the leader (0 on the leader).",
		func(s raftfsm.RaftStats) float64 {
			if s.State == raft.Leader || s.LastContact.IsZero() {
				return 0
			}
			return time.Since(s.LastContact).Seconds()
		})
	m.Counter("chronicle_raft_leader_changes_total", "Leader changes this node saw (including losing the leader).",
		func() float64 { return float64(rn.RaftStats().LeaderChanges) })

	runs := func(name, help string, value func(actors.RunCounts) int) {
		m.Gauge(name, help, func() float64 { return float64(value(engine.RunCounts())) })
	}
	runs("chronicle_runs_queued", "Runs due within the timer window, queued in this leader's timers (0 on a follower).",
		func(c actors.RunCounts) int { return c.Queued })
	runs("chronicle_runs_firing", "Runs due and being recorded as fired or missed.",
		func(c actors.RunCounts) int { return c.Firing })
	runs("chronicle_runs_in_flight", "Runs fired whose callbacks are being made, retries included.",
		func(c actors.RunCounts) int { return c.Delivering })

	m.Gauge("chronicle_eventlog_last_seq", "Seq of the newest event in this node's event log (events ever appended, before retention).",
		func() float64 { return float64(rn.LastSeq()) })
	m.Gauge("chronicle_state_store_bytes", "Disk space of the state store: the event log and the projections.",
		func() float64 { s, _ := rn.StoreMetrics(); return float64(s.DiskSpaceUsage()) })
	m.Gauge("chronicle_raft_log_store_bytes", "Disk space of the Raft log store.",
		func() float64 { _, l := rn.StoreMetrics(); return float64(l.DiskSpaceUsage()) })
	m.Gauge("chronicle_ready", "1 if the node serves (as /readyz), 0 while it catches up or has no leader.",
		func() float64 { return boolGauge(ready() == nil) })
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
