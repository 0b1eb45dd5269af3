package main

import (
	"time"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/internal/metrics"
	"github.com/chronicle-sched/chronicle/raftfsm"
	"github.com/hashicorp/raft"
)

// watchNode adds to m the metrics read from the node's layers at each
// scrape: Raft's progress, the runs the engine holds, the stores' size and
// whether the node is ready. Each group is one read of its layer.
func watchNode(m *metrics.Metrics, rn *raftfsm.Node, engine *actors.Engine, ready func() error) {
	type rs = raftfsm.RaftStats
	metrics.Group(m, rn.RaftStats,
		metrics.Reading[rs]{Name: "chronicle_raft_state", Help: "This node's Raft state: 0 follower, 1 candidate, 2 leader, 3 shut down.",
			Value: func(s rs) float64 { return float64(s.State) }},
		metrics.Reading[rs]{Name: "chronicle_raft_has_leader", Help: "1 if this node knows a leader, else 0.",
			Value: func(s rs) float64 { return boolGauge(s.HasLeader) }},
		metrics.Reading[rs]{Name: "chronicle_raft_term", Help: "The current Raft term.",
			Value: func(s rs) float64 { return float64(s.Term) }},
		metrics.Reading[rs]{Name: "chronicle_raft_last_index", Help: "The last entry in this node's Raft log.",
			Value: func(s rs) float64 { return float64(s.LastIndex) }},
		metrics.Reading[rs]{Name: "chronicle_raft_commit_index", Help: "The last entry this node knows to be committed.",
			Value: func(s rs) float64 { return float64(s.CommitIndex) }},
		metrics.Reading[rs]{Name: "chronicle_raft_applied_index", Help: "The last entry applied to this node's state store (events and projections).",
			Value: func(s rs) float64 { return float64(s.AppliedIndex) }},
		metrics.Reading[rs]{Name: "chronicle_raft_commit_lag_entries",
			Help:  "Entries committed but not yet applied here: what this node's reads are behind by (catching up after a restart, or slow).",
			Value: func(s rs) float64 { return float64(s.CommitIndex - min(s.AppliedIndex, s.CommitIndex)) }},
		metrics.Reading[rs]{Name: "chronicle_raft_last_contact_seconds", Help: "On a follower, time since it last heard from the leader (0 on the leader).",
			Value: func(s rs) float64 {
				if s.State == raft.Leader || s.LastContact.IsZero() {
					return 0
				}
				return time.Since(s.LastContact).Seconds()
			}},
		metrics.Reading[rs]{Name: "chronicle_raft_leader_changes_total", Help: "Leader changes this node saw (including losing the leader).",
			Counter: true, Value: func(s rs) float64 { return float64(s.LeaderChanges) }},
	)

	type rc = actors.RunCounts
	metrics.Group(m, engine.RunCounts,
		metrics.Reading[rc]{Name: "chronicle_runs_queued", Help: "Runs due within the timer window, queued in this leader's timers (0 on a follower).",
			Value: func(c rc) float64 { return float64(c.Queued) }},
		metrics.Reading[rc]{Name: "chronicle_runs_firing", Help: "Runs due and being recorded as fired or missed.",
			Value: func(c rc) float64 { return float64(c.Firing) }},
		metrics.Reading[rc]{Name: "chronicle_runs_in_flight", Help: "Runs fired whose callbacks are being made, retries included.",
			Value: func(c rc) float64 { return float64(c.Delivering) }},
	)

	type sizes struct{ state, log uint64 }
	metrics.Group(m, func() sizes { s, l := rn.StoreMetrics(); return sizes{s.DiskSpaceUsage(), l.DiskSpaceUsage()} },
		metrics.Reading[sizes]{Name: "chronicle_state_store_bytes", Help: "Disk space of the state store: the event log and the projections.",
			Value: func(z sizes) float64 { return float64(z.state) }},
		metrics.Reading[sizes]{Name: "chronicle_raft_log_store_bytes", Help: "Disk space of the Raft log store.",
			Value: func(z sizes) float64 { return float64(z.log) }},
	)

	m.Gauge("chronicle_eventlog_last_seq", "Seq of the newest event in this node's event log (events ever appended, before retention).",
		func() float64 { return float64(rn.LastSeq()) })
	m.Gauge("chronicle_ready", "1 if the node serves (as /readyz), 0 while it catches up or has no leader.",
		func() float64 { return boolGauge(ready() == nil) })
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
