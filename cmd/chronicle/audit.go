package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// audit prints the history of a schedule (a cron's runs included), of one
// cron run, or of an app, from a stopped node's data dir: every event with
// its seq, time, the node and Raft term that produced it, and what it says.
func audit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./data", "data dir of a stopped node")
	app := fs.Bool("app", false, "ID is an app: print the app's history")
	asJSON := fs.Bool("json", false, "print one JSON event per line")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chronicle audit [--data-dir DIR] [--app] [--json] ID")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("audit: give exactly one schedule, run or app id")
	}
	id := fs.Arg(0)
	db, err := raftfsm.OpenState(*dataDir, true, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer db.Close()
	q := projections.Reader{R: db}

	read, keep, err := historyOf(q, id, *app)
	if err != nil {
		return err
	}
	last, err := eventlog.LastSeq(db)
	if err != nil {
		return err
	}
	// An app's history may be millions of events: the progress line (on
	// stderr) shows how far through the log the reading is.
	prog := newProgress(stderr, "reading history", last)
	var evs []event.Event
	pageEvents := 0
	for after := uint64(0); ; {
		page, err := read(after, 1000)
		if err != nil {
			return err
		}
		for _, ev := range page.Events {
			if keep(ev) {
				evs = append(evs, ev)
			}
			after = ev.Seq
		}
		pageEvents += len(page.Events)
		prog.update(after, pageEvents)
		if !page.More {
			break
		}
	}
	prog.done()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, ev := range evs {
			v, err := ev.View()
			if err != nil {
				return err
			}
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
		return nil
	}
	if len(evs) == 0 {
		return fmt.Errorf("audit: no events for %s", id)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME (UTC)\tNODE\tTERM\tEVENT\tDETAILS")
	for _, ev := range evs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", ev.Seq, time.Unix(0, ev.Time).UTC().Format("2006-01-02 15:04:05.000"),
			ev.Node, ev.Term, ev.Type, describe(ev))
	}
	return tw.Flush()
}

type historyReader func(after uint64, limit int) (projections.EventPage, error)

// historyOf picks the index to read and, for a cron run, the filter that
// keeps the run's own events out of its cron's history.
func historyOf(q projections.Reader, id string, app bool) (historyReader, func(event.Event) bool, error) {
	all := func(event.Event) bool { return true }
	if app {
		if _, ok, err := q.App(id); err != nil || !ok {
			return nil, nil, notFoundOr(err, "app", id)
		}
		return func(after uint64, limit int) (projections.EventPage, error) { return q.AppEvents(id, after, limit) }, all, nil
	}
	s, ok, err := q.Schedule(id)
	if err != nil || !ok {
		return nil, nil, notFoundOr(err, "schedule", id)
	}
	read := func(after uint64, limit int) (projections.EventPage, error) {
		return q.ScheduleEvents(s.ScheduleID, after, limit)
	}
	if s.ParentID == "" {
		return read, all, nil
	}
	read = func(after uint64, limit int) (projections.EventPage, error) {
		return q.ScheduleEvents(s.ParentID, after, limit)
	}
	return read, func(ev event.Event) bool { return ev.RunID() == id }, nil
}

func notFoundOr(err error, what, id string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("audit: no %s %s in this data dir (never created, or removed by retention)", what, id)
}

// describe says in a few words what an event records.
func describe(ev event.Event) string {
	p, err := ev.Payload()
	if err != nil {
		return "undecodable: " + err.Error()
	}
	unix := func(s int64) string { return time.Unix(s, 0).UTC().Format("2006-01-02 15:04:05") }
	ms := func(m int64) string { return time.UnixMilli(m).UTC().Format("15:04:05.000") }
	switch p := p.(type) {
	case *event.AppRegistered:
		return fmt.Sprintf("app %s, %d partitions, active=%v", p.AppID, p.Partitions, p.Active)
	case *event.AppActivated:
		return "app " + p.AppID + " activated"
	case *event.AppDeactivated:
		return "app " + p.AppID + " deactivated"
	case *event.ScheduleCreated:
		what := "one-time at " + unix(p.ScheduleTime)
		if p.IsCron() {
			what = fmt.Sprintf("cron %q %s, first run %s", p.CronExpression, p.TimeZone, unix(p.NextRunTime))
		}
		return fmt.Sprintf("%s %s: %s → %s %s", p.ScheduleID, p.AppID, what, p.Callback.Method, p.Callback.URL)
	case *event.ScheduleDeleted:
		return p.ScheduleID + " deleted"
	case *event.RunFired:
		s := fmt.Sprintf("run %s due %s fired", p.RunID, unix(p.ScheduledTime))
		if p.Refire {
			s += " again (outcome was never recorded)"
		}
		if p.NextRunTime > 0 {
			s += ", next " + unix(p.NextRunTime)
		}
		return s
	case *event.RunCompleted:
		s := fmt.Sprintf("run %s due %s: %s", p.RunID, unix(p.ScheduledTime), p.Status)
		if p.HTTPStatus != 0 {
			s += fmt.Sprintf(", HTTP %d", p.HTTPStatus)
		}
		if p.Attempts > 0 {
			s += fmt.Sprintf(", %d attempt(s) %s–%s", p.Attempts, ms(p.StartedAt), ms(p.FinishedAt))
		}
		if p.ErrorMessage != "" {
			s += ": " + p.ErrorMessage
		}
		if p.Skipped > 0 {
			s += fmt.Sprintf(", %d more occurrence(s) skipped", p.Skipped)
		}
		return s
	case *event.BulkAction:
		status := p.Status
		if status == "" {
			status = "any status"
		}
		return fmt.Sprintf("bulk %s of app %s, %s, %s..%s", p.Action, p.AppID, status, unix(p.StartTime), unix(p.EndTime))
	case *event.NodeAnnounced:
		return fmt.Sprintf("node %s at http %s, raft %s", p.NodeID, p.HTTPAddr, p.RaftAddr)
	case *event.EventsCompacted:
		return fmt.Sprintf("retention %s removed schedules closed before %s: %s", p.Retention,
			time.Unix(0, p.Cutoff).UTC().Format(time.RFC3339), strings.Join(p.ScheduleIDs, ", "))
	}
	if data, err := ev.ShownJSON(); err == nil {
		return string(data)
	}
	return fmt.Sprintf("(payload of %d bytes this build cannot read)", len(ev.Data))
}
