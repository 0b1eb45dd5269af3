package projections

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/cockroachdb/pebble/v2"
)

// ErrBadToken means a continuation token was not one this query issued.
var ErrBadToken = errors.New("invalid continuationToken")

// Reader answers queries from the projections. It reads whatever r shows:
// the live DB (committed state) or a snapshot.
type Reader struct{ R pebble.Reader }

// App returns a registered app.
func (q Reader) App(id string) (App, bool, error) { return getRecord[App](q.R, appKey(id)) }

// Apps returns every app, ordered by id.
func (q Reader) Apps() ([]App, error) {
	var out []App
	err := scanPrefix(q.R, []byte(pApp), nil, func(_, v []byte) (bool, error) {
		a, err := decodeRecord[App](v)
		out = append(out, a)
		return err == nil, err
	})
	return out, err
}

// Tokens lists every API token, revoked ones included.
func (q Reader) Tokens() ([]Token, error) {
	var out []Token
	err := scanPrefix(q.R, []byte(pTok), nil, func(_, v []byte) (bool, error) {
		t, err := decodeRecord[Token](v)
		out = append(out, t)
		return err == nil, err
	})
	return out, err
}

// TokenByHash returns the live (not revoked) token whose secret has hash.
func (q Reader) TokenByHash(hash string) (Token, bool, error) {
	id, closer, err := q.R.Get(tokenHashKey(hash))
	if errors.Is(err, pebble.ErrNotFound) {
		return Token{}, false, nil
	}
	if err != nil {
		return Token{}, false, fmt.Errorf("token by hash: %w", err)
	}
	key := tokenKey(string(id))
	closer.Close()
	return getRecord[Token](q.R, key)
}

// Schedule returns a schedule by id. A cron run's id resolves to the run,
// shaped as a schedule whose ParentID is the cron.
func (q Reader) Schedule(id string) (Schedule, bool, error) {
	s, ok, err := getRecord[Schedule](q.R, scheduleKey(id))
	if err != nil || ok {
		return s, ok, err
	}
	ref, closer, err := q.R.Get(ridKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return Schedule{}, false, nil
	}
	if err != nil {
		return Schedule{}, false, fmt.Errorf("read run id %s: %w", id, err)
	}
	key := join([]byte(pRun), ref)
	closer.Close()
	r, ok, err := getRecord[Run](q.R, key)
	if err != nil || !ok {
		return Schedule{}, ok, err
	}
	parent, ok, err := getRecord[Schedule](q.R, scheduleKey(r.ScheduleID))
	if err != nil || !ok {
		return Schedule{}, ok, err
	}
	return RunAsSchedule(parent, r), true, nil
}

// ScheduleByName returns app's schedule named name (not deleted).
func (q Reader) ScheduleByName(app, name string) (Schedule, bool, error) {
	v, closer, err := q.R.Get(nameKey(app, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return Schedule{}, false, nil
	}
	if err != nil {
		return Schedule{}, false, fmt.Errorf("read name %q of %s: %w", name, app, err)
	}
	id := string(v)
	closer.Close()
	return getRecord[Schedule](q.R, scheduleKey(id))
}

// ScheduleByNumber returns the schedule whose number (the seq of its
// ScheduleCreated) is n: found in the log, so a schedule retention removed
// is not found.
func (q Reader) ScheduleByNumber(n uint64) (Schedule, bool, error) {
	ev, err := eventlog.Get(q.R, n)
	if errors.Is(err, pebble.ErrNotFound) || (err == nil && ev.Type != event.TypeScheduleCreated) {
		return Schedule{}, false, nil
	}
	if err != nil {
		return Schedule{}, false, err
	}
	p, err := ev.Payload()
	if err != nil {
		return Schedule{}, false, fmt.Errorf("schedule number %d: %w", n, err)
	}
	s, ok, err := getRecord[Schedule](q.R, scheduleKey(p.(*event.ScheduleCreated).ScheduleID))
	if err != nil || !ok || s.CreatedSeq != n {
		return Schedule{}, false, err
	}
	return s, true, nil
}

// RunAsSchedule renders a cron run the way GoScheduler shows runs: as a
// schedule of its own, carrying the parent's payload and callback.
func RunAsSchedule(parent Schedule, r Run) Schedule {
	return Schedule{
		ScheduleID: r.RunID, ParentID: parent.ScheduleID, AppID: r.AppID, Partition: r.Partition,
		Payload: parent.Payload, ScheduleTime: r.ScheduledTime, CronExpression: parent.CronExpression,
		TimeZone: parent.TimeZone, Callback: parent.Callback, Retry: parent.Retry, Status: r.Status,
		ErrorMessage: r.ErrorMessage, HTTPStatus: r.HTTPStatus, Attempts: r.Attempts, FiredAt: r.FiredAt,
		CompletedAt: r.CompletedAt, Reconciles: r.Reconciles, Counter: r.Counter,
	}
}

// Crons returns the cron schedules of app (every app if app is ""),
// filtered by status if status is not "".
func (q Reader) Crons(app, status string) ([]Schedule, error) {
	prefix := []byte(pCron)
	if app != "" {
		prefix = cronPrefix(app)
	}
	var out []Schedule
	err := scanPrefix(q.R, prefix, nil, func(k, _ []byte) (bool, error) {
		id := k[bytes.LastIndexByte(k, 0)+1:]
		s, ok, err := getRecord[Schedule](q.R, scheduleKey(string(id)))
		if err != nil {
			return false, err
		}
		if ok && (status == "" || s.Status == status) {
			out = append(out, s)
		}
		return true, nil
	})
	return out, err
}

// Page is one page of a paginated query. Next is "" on the last page.
type Page struct {
	Items []Schedule
	Next  string

	lastKey []byte
}

// PastRuns returns the runs of cron schedule s that have fired or been
// missed, newest first.
func (q Reader) PastRuns(s Schedule, size int, token string) (Page, error) {
	prefix := runsOfCron(s.ScheduleID)
	upper := prefixEnd(prefix)
	if token != "" {
		k, err := decodeToken(token, prefix)
		if err != nil {
			return Page{}, err
		}
		upper = k
	}
	it, err := q.R.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return Page{}, fmt.Errorf("runs of %s: %w", s.ScheduleID, err)
	}
	defer it.Close()
	var page Page
	for ok := it.Last(); ok; ok = it.Prev() {
		if len(page.Items) == size {
			page.Next = encodeToken(page.lastKey)
			break
		}
		r, err := decodeRecord[Run](it.Value())
		if err != nil {
			return Page{}, err
		}
		page.Items = append(page.Items, RunAsSchedule(s, r))
		page.lastKey = append(page.lastKey[:0], it.Key()...)
	}
	return page, it.Error()
}

// AppSchedules pages through an app's one-time schedules and cron runs
// whose scheduled time is in [start, end] (unix s), in time order,
// filtered by status if status is not "".
func (q Reader) AppSchedules(app string, start, end int64, status string, size int, token string) (Page, error) {
	var from []byte
	if token != "" {
		k, err := decodeToken(token, atPrefix(app))
		if err != nil {
			return Page{}, err
		}
		from = append(k, 0) // strictly after the last key returned
	}
	var page Page
	err := scanTimeIndex(q.R, app, start, end, from, func(k []byte, s *Schedule, r *Run) (bool, error) {
		item := s
		if r != nil {
			parent, ok, err := getRecord[Schedule](q.R, scheduleKey(r.ScheduleID))
			if err != nil || !ok {
				return err == nil, err
			}
			rs := RunAsSchedule(parent, *r)
			item = &rs
		}
		if status != "" && item.Status != status {
			return true, nil
		}
		if len(page.Items) == size {
			page.Next = encodeToken(page.lastKey)
			return false, nil
		}
		page.Items = append(page.Items, *item)
		page.lastKey = append(page.lastKey[:0], k...)
		return true, nil
	})
	return page, err
}

// Nodes returns the announced cluster members, by id.
func (q Reader) Nodes() (map[string]Node, error) {
	out := map[string]Node{}
	err := scanPrefix(q.R, []byte(pNode), nil, func(_, v []byte) (bool, error) {
		n, err := decodeRecord[Node](v)
		out[n.NodeID] = n
		return err == nil, err
	})
	return out, err
}

// Pending returns a pending run by id.
func (q Reader) Pending(runID string) (PendingRun, bool, error) {
	return getRecord[PendingRun](q.R, pendKey(runID))
}

// PendingOf returns schedule id's pending runs (due, or in flight), in
// run id order.
func (q Reader) PendingOf(id string) ([]PendingRun, error) { return pendingOf(q.R, id) }

// DueRuns calls fn, in due order, for the not-yet-fired runs of one app
// partition due in [fromMs, untilMs), until fn returns false. It returns
// the due time of the partition's first run at or after untilMs (-1 if
// none, or if fn stopped the scan): how long a timer may sleep.
func (q Reader) DueRuns(app string, partition int, fromMs, untilMs int64, fn func(PendingRun) bool) (nextMs int64, err error) {
	prefix := duePrefix(app, partition)
	it, err := q.R.NewIter(&pebble.IterOptions{LowerBound: join(prefix, u64(uint64(max(fromMs, 0)))), UpperBound: prefixEnd(prefix)})
	if err != nil {
		return -1, fmt.Errorf("due runs of %s/%d: %w", app, partition, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		due := int64(binary.BigEndian.Uint64(k[len(prefix):]))
		if due >= untilMs {
			return due, it.Error()
		}
		pr, found, err := getRecord[PendingRun](q.R, pendKey(string(k[len(prefix)+8:])))
		if err != nil {
			return -1, err
		}
		// The iterator sees the index as it was when it opened, the record
		// is read as it is now: a run fired or moved since has a record
		// that no longer matches its entry. It is not due here any more
		// (whoever fired it delivers it; a moved run is announced at its
		// new time), and returning it made a timer fire it a second time.
		if !found || pr.Fired || pr.DueMs != due {
			continue
		}
		if !fn(pr) {
			return -1, it.Error()
		}
	}
	return -1, it.Error()
}

// PartitionsWithRuns lists the partitions of app that hold a run due or
// in flight: those a leader needs a timer for. It seeks once per such
// partition, not once per partition of the app.
func (q Reader) PartitionsWithRuns(app string) ([]int, error) {
	seen := map[int]bool{}
	for _, prefix := range []string{pDue, pInfl} {
		base := join([]byte(prefix), []byte(app), nul)
		it, err := q.R.NewIter(&pebble.IterOptions{LowerBound: base, UpperBound: prefixEnd(base)})
		if err != nil {
			return nil, fmt.Errorf("partitions of %s with runs: %w", app, err)
		}
		for ok := it.First(); ok; {
			p := binary.BigEndian.Uint32(it.Key()[len(base):])
			seen[int(p)] = true
			ok = it.SeekGE(join(base, u32(p+1)))
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("partitions of %s with runs: %w", app, err)
		}
	}
	out := make([]int, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Ints(out)
	return out, nil
}

// InflightRuns calls fn for each run of one app partition that fired but
// has no recorded outcome.
func (q Reader) InflightRuns(app string, partition int, fn func(PendingRun) bool) error {
	prefix := inflPrefix(app, partition)
	return scanPrefix(q.R, prefix, nil, func(k, _ []byte) (bool, error) {
		pr, found, err := getRecord[PendingRun](q.R, pendKey(string(k[len(prefix):])))
		if err != nil || !found {
			return err == nil, err
		}
		return fn(pr), nil
	})
}

// scanTimeIndex visits an app's time index in [start, end], resolving each
// entry to its schedule or run. from, if set, is the first key to visit.
func scanTimeIndex(r pebble.Reader, app string, start, end int64, from []byte, fn func(k []byte, s *Schedule, run *Run) (bool, error)) error {
	lower := join(atPrefix(app), u64(uint64(start)))
	if from != nil && bytes.Compare(from, lower) > 0 {
		lower = from
	}
	upper := join(atPrefix(app), u64(uint64(end)+1))
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("time index of %s: %w", app, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		if len(v) < 2 {
			return fmt.Errorf("time index of %s: corrupt entry %q", app, it.Key())
		}
		var s *Schedule
		var run *Run
		switch v[0] {
		case 'o':
			sc, found, err := getRecord[Schedule](r, scheduleKey(string(v[1:])))
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			s = &sc
		case 'r':
			rn, found, err := getRecord[Run](r, join([]byte(pRun), v[1:]))
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			run = &rn
		default:
			return fmt.Errorf("time index of %s: corrupt entry %q", app, it.Key())
		}
		cont, err := fn(it.Key(), s, run)
		if err != nil || !cont {
			return err
		}
	}
	return it.Error()
}

// scanPrefix calls fn for each key with the prefix, from key `from` if set.
func scanPrefix(r pebble.Reader, prefix, from []byte, fn func(k, v []byte) (bool, error)) error {
	lower := prefix
	if from != nil {
		lower = from
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("scan %q: %w", prefix, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		cont, err := fn(it.Key(), it.Value())
		if err != nil || !cont {
			return err
		}
	}
	return it.Error()
}

// Continuation tokens are the last key a page returned, base64url: opaque
// to clients, and checked against the query's key range when they return.
func encodeToken(k []byte) string { return base64.RawURLEncoding.EncodeToString(k) }

func decodeToken(tok string, prefix []byte) ([]byte, error) {
	k, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !bytes.HasPrefix(k, prefix) {
		return nil, ErrBadToken
	}
	return k, nil
}

// Rejections lists every rejection apply returns. A follower's forwarded
// proposal gets its rejections back as positions in this list (see
// cluster/protocol.go), so a new rejection is appended, never inserted.
var Rejections = []error{ErrAppExists, ErrAppNotFound, ErrAppInactive, ErrAppAlreadyActive,
	ErrAppAlreadyInactive, ErrScheduleExists, ErrScheduleNotFound, ErrRunNotPending,
	ErrRunAlreadyFired, ErrRunNotFired, ErrInvalidEvent, ErrScheduleClosed, ErrTokenExists, ErrTokenNotFound,
	ErrNameTaken, ErrSchedulePaused, ErrScheduleNotPaused, ErrSignatureSpent, ErrJobWaiting, ErrJobNotFound,
	ErrJobNotWaiting, ErrJobBusy, ErrJobOfRun}

// RejectionIndex is the position in Rejections of the rejection err is, or
// -1 if it is none.
func RejectionIndex(err error) int {
	for i, e := range Rejections {
		if errors.Is(err, e) {
			return i
		}
	}
	return -1
}

// IsRejection reports whether err is one of apply's rejections.
func IsRejection(err error) bool { return RejectionIndex(err) >= 0 }
