package goscheduler

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/chronicle-sched/chronicle/projections"
	"github.com/julienschmidt/httprouter"
)

// History endpoints: a schedule's or an app's events, oldest first, paged
// by event seq (after=SEQ, size=N). The answer's "next" is the cursor for
// the following page and "more" says whether there is one.

const (
	defaultHistorySize = 100
	maxHistorySize     = 1000
	// runScanBudget bounds how many of a cron's events one page of a
	// single run's history looks through.
	runScanBudget = 20 * maxHistorySize
)

func parseHistoryCursor(q url.Values) (after uint64, size int, err error) {
	if raw := q.Get("after"); raw != "" {
		if after, err = strconv.ParseUint(raw, 10, 64); err != nil {
			return 0, 0, badRequest("after must be an event seq (a non-negative integer), not %q", truncate(raw, 40))
		}
	}
	size = defaultHistorySize
	if raw := q.Get("size"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxHistorySize {
			return 0, 0, badRequest("size must be an integer from 1 to %d, not %q", maxHistorySize, truncate(raw, 40))
		}
		size = n
	}
	return after, size, nil
}

func okHistory(w http.ResponseWriter, key, id string, after uint64, page projections.EventPage) error {
	views, next, err := page.Views(after)
	if err != nil {
		return fmt.Errorf("history of %s: %w", id, err)
	}
	ok(w, http.StatusOK, len(views), map[string]any{key: id, "events": views, "next": next, "more": page.More})
	return nil
}

func (a *API) scheduleEvents(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	after, size, err := parseHistoryCursor(r.URL.Query())
	if err != nil {
		return err
	}
	s, err := a.findSchedule(r, ps.ByName("id"), false)
	if err != nil {
		return err
	}
	var page projections.EventPage
	if s.ParentID != "" {
		page, after, err = a.runEvents(s.ParentID, s.ScheduleID, after, size)
	} else {
		page, err = a.q.ScheduleEvents(s.ScheduleID, after, size)
	}
	if err != nil {
		return err
	}
	return okHistory(w, "scheduleId", s.ScheduleID, after, page)
}

// runEvents is the history of one cron run: the cron's events that name
// it. The returned cursor is the last event looked at, so a page cut short
// by the scan budget still moves the reader forward.
func (a *API) runEvents(cronID, runID string, after uint64, size int) (projections.EventPage, uint64, error) {
	var out projections.EventPage
	for scanned := 0; len(out.Events) < size && scanned < runScanBudget; {
		page, err := a.q.ScheduleEvents(cronID, after, size)
		if err != nil {
			return out, after, err
		}
		consumed := 0
		for _, ev := range page.Events {
			consumed++
			after = ev.Seq
			if ev.RunID() == runID {
				out.Events = append(out.Events, ev)
				if len(out.Events) == size {
					break
				}
			}
		}
		scanned += consumed
		out.More = page.More || consumed < len(page.Events)
		if !out.More {
			break
		}
	}
	return out, after, nil
}

func (a *API) appEvents(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := appParam(r, ps, false)
	if err != nil {
		return err
	}
	after, size, err := parseHistoryCursor(r.URL.Query())
	if err != nil {
		return err
	}
	if err := a.requireApp(id); err != nil {
		return err
	}
	page, err := a.q.AppEvents(id, after, size)
	if err != nil {
		return err
	}
	return okHistory(w, "appId", id, after, page)
}

// requireApp answers the seed's "unregistered App" unless app exists.
func (a *API) requireApp(id string) error {
	if _, found, err := a.q.App(id); err != nil {
		return err
	} else if !found {
		return projections.ErrAppNotFound
	}
	return nil
}
