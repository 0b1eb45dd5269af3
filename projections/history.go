package projections

import (
	"encoding/binary"
	"fmt"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/cockroachdb/pebble/v2"
)

// History indexes. Every accepted event is indexed under the app and the
// schedules it is about, so an auditor can read one schedule's story (a
// cron's runs included) without scanning the whole log. The index value is
// the event type, which retention needs to tell a schedule's own events
// from app-wide ones (a bulk action) that must outlive it.

// recordHistory indexes the applied event and updates the closed state of
// the schedules it touched. It runs after the handler succeeded.
func (a *applier) recordHistory() error {
	var typ [2]byte
	binary.BigEndian.PutUint16(typ[:], uint16(a.ev.Type))
	seen := map[string]bool{}
	for _, t := range a.touched {
		if seen[t.id] {
			continue
		}
		seen[t.id] = true
		s, ok, err := getRecord[Schedule](a.b, scheduleKey(t.id))
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if a.app == "" {
			a.app = s.AppID
		}
		if err := a.b.Set(sevKey(t.id, a.ev.Seq), typ[:], nil); err != nil {
			return fmt.Errorf("index event %d under schedule %s: %w", a.ev.Seq, t.id, err)
		}
		if t.mayCloseNow {
			if err := a.refreshClosed(s); err != nil {
				return err
			}
		}
	}
	if a.app != "" {
		if err := a.b.Set(aevKey(a.app, a.ev.Seq), typ[:], nil); err != nil {
			return fmt.Errorf("index event %d under app %s: %w", a.ev.Seq, a.app, err)
		}
	}
	return nil
}

// closedNow reports whether s is closed: finished (a one-time schedule's
// outcome, a cron's end), or deleted, with nothing pending.
func (a *applier) closedNow(s Schedule) (bool, error) {
	if s.Active() {
		return false, nil
	}
	pending, err := a.hasPending(s)
	return !pending, err
}

// hasPending reports whether any run of s is pending or in flight.
//
// A one-time schedule has at most one such run, and only two ids it can
// have: its own (the first run) and its latest reconcile, because a
// reconcile is refused while either is pending. Two record lookups (served
// from the record cache) replace a prefix scan that cost an iterator over
// every level for each completed run. A cron's runs are not so bounded,
// so it is scanned; that only happens when a cron is deleted.
func (a *applier) hasPending(s Schedule) (bool, error) {
	if _, bounded := pendingRunIDs(s); !bounded {
		return a.scanPending(s.ScheduleID)
	}
	runs, err := a.pendingRunsOf(s)
	return len(runs) > 0, err
}

// pendingRunIDs lists the ids a pending run of a one-time schedule can
// have (see hasPending); bounded is false for schedules whose runs must be
// found in the pending-by-schedule index.
func pendingRunIDs(s Schedule) (ids []string, bounded bool) {
	if s.CronExpression != "" || s.ParentID != "" {
		return nil, false
	}
	ids = []string{s.ScheduleID}
	if s.Reconciles > 0 {
		ids = append(ids, event.ReconcileRunID(s.ScheduleID, s.Reconciles))
	}
	return ids, true
}

// scanPending reports whether the pending-by-schedule index lists a run.
func (a *applier) scanPending(scheduleID string) (bool, error) {
	pending := false
	err := scanPrefix(a.b, pschPrefix(scheduleID), nil, func(_, _ []byte) (bool, error) {
		pending = true
		return false, nil
	})
	return pending, err
}

// refreshClosed keeps s.ClosedAt and the closed index in step with s.
func (a *applier) refreshClosed(s Schedule) error {
	closed, err := a.closedNow(s)
	if err != nil {
		return err
	}
	switch {
	case closed && s.ClosedAt == 0:
		s.ClosedAt = a.nowMs()
		if err := a.b.Set(closedKey(s.ClosedAt, s.ScheduleID), nil, nil); err != nil {
			return err
		}
	case !closed && s.ClosedAt != 0:
		if err := a.b.Delete(closedKey(s.ClosedAt, s.ScheduleID), nil); err != nil {
			return err
		}
		s.ClosedAt = 0
	default:
		return nil
	}
	return putRecord(a, scheduleKey(s.ScheduleID), s)
}

// scheduleScoped reports whether events of type t are about one schedule
// only, so that retention may drop them with it.
func scheduleScoped(t event.Type) bool {
	switch t {
	case event.TypeScheduleCreated, event.TypeScheduleDeleted, event.TypeRunFired, event.TypeRunCompleted,
		event.TypeScheduleClosed, event.TypeScheduleUpdated, event.TypeSchedulePaused, event.TypeScheduleResumed,
		event.TypeRunTriggered, event.TypeScheduleStoppedByCallback, event.TypeNotificationSent,
		event.TypeJobCreated, event.TypeJobStarted, event.TypeTaskStarted, event.TypeTaskFinished, event.TypeJobFinished,
		event.TypeJobCancelled:
		return true
	}
	return false
}

// eventsCompacted removes the listed schedules that are closed before the
// cutoff: their own events, their history index entries and every record
// of them and their runs. Others are skipped, not rejected: the state may
// have moved on since the leader listed them, and on a replay of a
// compacted log they no longer exist at all. It returns how many went.
func (a *applier) eventsCompacted(p *event.EventsCompacted) (int, error) {
	if p.Cutoff <= 0 {
		return 0, fmt.Errorf("%w: compaction without a cutoff", ErrInvalidEvent)
	}
	removed := 0
	for _, id := range p.ScheduleIDs {
		s, ok, err := getRecord[Schedule](a.b, scheduleKey(id))
		if err != nil {
			return 0, err
		}
		if !ok || s.ClosedAt == 0 || s.ClosedAt*1e6 >= p.Cutoff {
			continue
		}
		if closed, err := a.closedNow(s); err != nil {
			return 0, err
		} else if !closed {
			continue
		}
		if err := a.dropSchedule(s); err != nil {
			return 0, err
		}
		removed++
	}
	return removed, nil
}

// dropSchedule deletes a closed schedule's events and records.
func (a *applier) dropSchedule(s Schedule) error {
	var keys [][]byte
	var events []uint64
	err := scanPrefix(a.b, sevPrefix(s.ScheduleID), nil, func(k, v []byte) (bool, error) {
		keys = append(keys, append([]byte(nil), k...))
		seq := binary.BigEndian.Uint64(k[len(k)-8:])
		if len(v) == 2 && scheduleScoped(event.Type(binary.BigEndian.Uint16(v))) {
			events = append(events, seq)
			keys = append(keys, aevKey(s.AppID, seq))
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	err = scanPrefix(a.b, runsOfCron(s.ScheduleID), nil, func(k, v []byte) (bool, error) {
		r, err := decodeRecord[Run](v)
		if err != nil {
			return false, err
		}
		keys = append(keys, append([]byte(nil), k...), ridKey(r.RunID), atKey(r.AppID, r.ScheduledTime, r.RunID))
		return true, nil
	})
	if err != nil {
		return err
	}
	if s.Queue != nil { // a schedule that never had a job (jobCreated sets it) has none to drop: no scan
		err = scanPrefix(a.b, sjobPrefix(s.ScheduleID), nil, func(k, _ []byte) (bool, error) {
			id := binary.BigEndian.Uint64(k[len(k)-8:])
			keys = append(keys, append([]byte(nil), k...), jobKey(id), liveJobKey(id))
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	err = scanPrefix(a.b, outsPrefix(s.ScheduleID), nil, func(k, v []byte) (bool, error) {
		keys = append(keys, append([]byte(nil), k...), outKey(string(v)))
		events = append(events, binary.BigEndian.Uint64(k[len(k)-8:]))
		return true, nil
	})
	if err != nil {
		return err
	}
	keys = append(keys, scheduleKey(s.ScheduleID), closedKey(s.ClosedAt, s.ScheduleID))
	if s.Name != "" && s.Status != event.StatusDeleted { // a deleted one's name was freed, and may be another's now
		keys = append(keys, nameKey(s.AppID, s.Name))
	}
	if s.IsCron() {
		keys = append(keys, cronIndexKey(s.AppID, s.ScheduleID))
	} else {
		keys = append(keys, atKey(s.AppID, s.ScheduleTime, s.ScheduleID))
	}
	for _, k := range keys {
		if err := a.b.Delete(k, nil); err != nil {
			return fmt.Errorf("retention: delete %q of %s: %w", k, s.ScheduleID, err)
		}
	}
	for _, seq := range events {
		if err := eventlog.Remove(a.b, seq); err != nil {
			return fmt.Errorf("retention of %s: %w", s.ScheduleID, err)
		}
	}
	return nil
}

// EventPage is a page of a history, oldest first. More is true when events
// after the last one exist.
type EventPage struct {
	Events []event.Event
	More   bool
}

// Views renders the page's events as the APIs show them, and returns the
// cursor of the next page: the last seq listed, or after if none was.
func (p EventPage) Views(after uint64) ([]event.View, uint64, error) {
	views := make([]event.View, 0, len(p.Events))
	next := after
	for _, ev := range p.Events {
		v, err := ev.View()
		if err != nil {
			return nil, 0, fmt.Errorf("event %d: %w", ev.Seq, err)
		}
		views = append(views, v)
		next = max(next, ev.Seq)
	}
	return views, next, nil
}

// ScheduleEvents returns the events about schedule id (for a cron, its
// runs' events too) with seq > after, at most limit.
func (q Reader) ScheduleEvents(id string, after uint64, limit int) (EventPage, error) {
	return q.indexedEvents(sevPrefix(id), after, limit)
}

// AppEvents returns the events about app and its schedules with seq >
// after, at most limit.
func (q Reader) AppEvents(app string, after uint64, limit int) (EventPage, error) {
	return q.indexedEvents(aevPrefix(app), after, limit)
}

func (q Reader) indexedEvents(prefix []byte, after uint64, limit int) (EventPage, error) {
	var page EventPage
	err := scanPrefix(q.R, prefix, join(prefix, u64(after+1)), func(k, _ []byte) (bool, error) {
		if len(page.Events) == limit {
			page.More = true
			return false, nil
		}
		ev, err := eventlog.Get(q.R, binary.BigEndian.Uint64(k[len(k)-8:]))
		if err != nil {
			return false, fmt.Errorf("history index %q: %w", k, err)
		}
		page.Events = append(page.Events, ev)
		return true, nil
	})
	return page, err
}

// ClosedBefore returns up to limit schedules closed before cutoffMs,
// oldest first: what retention may remove.
func (q Reader) ClosedBefore(cutoffMs int64, limit int) ([]string, error) {
	var ids []string
	end := join([]byte(pClos), u64(uint64(cutoffMs)))
	it, err := q.R.NewIter(&pebble.IterOptions{LowerBound: []byte(pClos), UpperBound: end})
	if err != nil {
		return nil, fmt.Errorf("closed schedules before %d: %w", cutoffMs, err)
	}
	defer it.Close()
	for ok := it.First(); ok && len(ids) < limit; ok = it.Next() {
		ids = append(ids, string(it.Key()[len(pClos)+8:]))
	}
	return ids, it.Error()
}
