package actors

import (
	"context"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

// retentionBatch is how many schedules one EventsCompacted event removes at
// most, so that one Raft entry and one apply batch stay small.
const retentionBatch = 500

// retain runs on the leader while it leads (ctx is its term): every
// RetentionInterval it proposes EventsCompacted for the schedules closed
// before now − Retention. Only the leader proposes; every node applies the
// event identically, so the event log and projections shrink everywhere.
func (e *Engine) retain(ctx context.Context) {
	if e.cfg.Retention <= 0 {
		return
	}
	tick := time.NewTicker(e.cfg.RetentionInterval)
	defer tick.Stop()
	for {
		e.compactOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// compactOnce removes every schedule closed before the cutoff, a batch per
// event, until none is left or the term ends.
func (e *Engine) compactOnce(ctx context.Context) {
	cutoff := e.clock.Now().Add(-e.cfg.Retention)
	for ctx.Err() == nil {
		ids, err := e.state.ClosedBefore(cutoff.UnixMilli(), retentionBatch)
		if err != nil {
			e.cfg.Logger.Error("retention: list closed schedules", "err", err)
			return
		}
		if len(ids) == 0 {
			return
		}
		res, err := e.proposeOne(event.ActorSystem, event.EventsCompacted{Cutoff: cutoff.UnixNano(),
			Retention: e.cfg.Retention.String(), ScheduleIDs: ids})
		if err != nil {
			e.cfg.Logger.Warn("retention: compaction not applied", "err", err)
			return
		}
		e.cfg.Logger.Info("retention: removed closed schedules", "listed", len(ids), "removed", res.Affected,
			"closedBefore", cutoff.UTC().Format(time.RFC3339), "seq", res.Seq)
		if res.Affected == 0 {
			return // nothing listed was removable: wait for the next round
		}
	}
}
