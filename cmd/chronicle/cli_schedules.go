package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chronicle-sched/chronicle/client"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
)

// chronicle schedules create|get|list|update|pause|resume|trigger|cancel|output|delete|runs|events

func schedulesCommands() []apiCommand {
	return []apiCommand{
		{verb: "create", nargs: [2]int{0, 0},
			summary: "create a one-time schedule (--at or --in) or a cron (--cron), from flags or a JSON body (-f)",
			example: "chronicle schedules create --app billing --in 10m --url http://10.0.0.5:9000/hook --payload '{\"order\":42}'\n" +
				"chronicle schedules create --app billing --cron '0 */5 * * * *' --name sync --url http://10.0.0.5:9000/sync --method GET\n" +
				"chronicle schedules create -f schedule.json    # the body of POST /goscheduler/schedules",
			setup: setupCreate},
		{verb: "get", args: "ID", nargs: [2]int{1, 1},
			summary: "show a schedule, a cron or a cron's run",
			setup: func(fs *flag.FlagSet) runFunc {
				lin := fs.Bool("linearizable", false, "see every write the cluster acknowledged (a quorum round trip), not this node's view")
				return func(ctx context.Context, r *cmdRun) error {
					var opts []client.ReadOption
					if *lin {
						opts = append(opts, client.Linearizable())
					}
					s, err := r.c.Schedule(ctx, r.args[0], opts...)
					if err != nil {
						return err
					}
					return printSchedule(r, s)
				}
			}},
		{verb: "list", nargs: [2]int{0, 0},
			summary: "list an app's one-time schedules and cron runs due in a time range (at most 30 days), or with --crons its crons",
			example: "chronicle schedules list --app billing --status FAILURE --from 2026-12-01T00:00:00Z --to 2026-12-07T00:00:00Z\n" +
				"chronicle schedules list --app billing --crons",
			setup: setupList},
		{verb: "update", args: "ID", nargs: [2]int{1, 1},
			summary: "change a schedule in place: only the fields given change (a new callback replaces the old one whole)",
			example: "chronicle schedules update ID --cron '0 0 * * * *' --payload v2 --max-attempts 5",
			setup:   setupUpdate},
		scheduleStep("pause", "stop a schedule from firing until it is resumed", (*client.Client).Pause),
		scheduleStep("resume", "let a paused schedule fire again (a cron from its next occurrence, none of those missed)", (*client.Client).Resume),
		{verb: "trigger", args: "ID", nargs: [2]int{1, 1},
			summary: "run a cron now, outside its occurrences, under a run id of its own",
			setup: func(fs *flag.FlagSet) runFunc {
				return func(ctx context.Context, r *cmdRun) error {
					out, err := r.c.Trigger(ctx, r.args[0])
					if err != nil {
						return err
					}
					return r.print(out, func(tw *tabwriter.Writer) {
						fmt.Fprintln(tw, "RUN\tSCHEDULE")
						fmt.Fprintf(tw, "%s\t%s\n", out.RunID, out.ScheduleID)
					})
				}
			}},
		{verb: "cancel", args: "ID", nargs: [2]int{1, 1},
			summary: "cut short what a schedule runs now (a call in flight, a command's processes): the runs end CANCELED",
			setup: func(fs *flag.FlagSet) runFunc {
				return func(ctx context.Context, r *cmdRun) error {
					out, err := r.c.Cancel(ctx, r.args[0])
					if err != nil {
						return err
					}
					return r.print(out, func(tw *tabwriter.Writer) {
						fmt.Fprintln(tw, "RUN\tSCHEDULE")
						for _, id := range out.RunIDs {
							fmt.Fprintf(tw, "%s\t%s\n", id, out.ScheduleID)
						}
					})
				}
			}},
		{verb: "output", args: "RUN-ID", nargs: [2]int{1, 1},
			summary: "what a command run wrote (kept for its schedule's newest runs); as text, or -o json",
			setup: func(fs *flag.FlagSet) runFunc {
				return func(ctx context.Context, r *cmdRun) error {
					out, err := r.c.Output(ctx, r.args[0])
					if err != nil {
						return err
					}
					if r.json {
						return r.print(out, nil)
					}
					_, err = io.WriteString(r.stdout, out.Output)
					if err == nil && out.Cut {
						r.note("only the start of the output was kept")
					}
					return err
				}
			}},
		scheduleStep("delete", "delete a schedule (a cron with its future runs)", (*client.Client).Delete),
		{verb: "runs", args: "ID", nargs: [2]int{1, 1},
			summary: "list a schedule's runs: fired (newest first) or, with --when future, a cron's coming occurrences",
			setup: func(fs *flag.FlagSet) runFunc {
				var q client.RunsQuery
				fs.StringVar(&q.When, "when", "past", "past or future")
				fs.IntVar(&q.Size, "size", 0, "runs per page, 1 to 1000 (default: the server's, 10)")
				fs.StringVar(&q.ContinuationToken, "page-token", "", "the previous page's continuation token")
				return func(ctx context.Context, r *cmdRun) error {
					if q.When != "past" && q.When != "future" {
						return usagef("--when must be past or future, not %q", q.When)
					}
					if q.Size < 0 || q.Size > 1000 {
						return usagef("--size must be from 1 to 1000")
					}
					page, err := r.c.Runs(ctx, r.args[0], q)
					if err != nil {
						return err
					}
					return printPage(r, page, runsTable)
				}
			}},
		{verb: "events", args: "ID", nargs: [2]int{1, 1},
			summary: "a schedule's history, oldest first (a cron's includes its runs'; a run's id gives that run's)",
			setup: func(fs *flag.FlagSet) runFunc {
				q := eventsFlags(fs)
				return func(ctx context.Context, r *cmdRun) error {
					page, err := r.c.ScheduleEvents(ctx, r.args[0], *q)
					if err != nil {
						return err
					}
					return printEvents(r, page)
				}
			}},
	}
}

// scheduleJSON is the data of an answer that is one schedule, as the API
// shapes it: {"schedule": {...}}.
type scheduleJSON struct {
	Schedule client.Schedule `json:"schedule"`
}

func printSchedule(r *cmdRun, s client.Schedule) error {
	return r.print(scheduleJSON{s}, func(tw *tabwriter.Writer) { scheduleTable(tw, s) })
}

func scheduleStep(verb, summary string, call func(*client.Client, context.Context, string) (client.Schedule, error)) apiCommand {
	return apiCommand{verb: verb, args: "ID", nargs: [2]int{1, 1}, summary: summary,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, r *cmdRun) error {
				s, err := call(r.c, ctx, r.args[0])
				if err != nil {
					return err
				}
				return printSchedule(r, s)
			}
		}}
}

// scheduleTable shows one schedule as FIELD VALUE lines.
func scheduleTable(tw *tabwriter.Writer, s client.Schedule) {
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("ID", s.ScheduleID)
	row("CRON", s.ParentScheduleID)
	row("APP", s.AppID)
	row("NAME", s.Name)
	if s.Number != 0 {
		row("NUMBER", strconv.FormatUint(s.Number, 10))
	}
	row("STATUS", s.Status)
	if s.IsCron() {
		expr := s.CronExpression
		if s.TimeZone != "" {
			expr += " (" + s.TimeZone + ")"
		}
		row("EXPRESSION", expr)
		row("NEXT RUN", unixText(s.NextRunTime))
		row("END", unixText(s.EndTime))
	} else {
		row("DUE", timeText(s.DueTime()))
	}
	row("CALLBACK", s.Callback.Details.Method+" "+s.Callback.Details.URL)
	row("HEADERS", headersText(s.Callback.Details.Headers))
	row("PAYLOAD", clip(s.Payload, 80))
	if s.Retry != nil {
		b, _ := json.Marshal(s.Retry)
		row("RETRY", string(b))
	}
	if s.StopOnCallback {
		row("STOP ON CALLBACK", "true")
	}
	row("LABELS", labelsText(s.Labels))
	if s.HTTPStatus != 0 {
		row("HTTP STATUS", strconv.Itoa(s.HTTPStatus))
	}
	if s.Attempts != 0 {
		row("ATTEMPTS", strconv.Itoa(s.Attempts))
	}
	row("ERROR", s.ErrorMessage)
	if s.UpdatedAt != 0 {
		row("UPDATED", timeText(time.UnixMilli(s.UpdatedAt)))
	}
}

func headersText(h map[string]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+h[k])
	}
	return strings.Join(parts, ", ")
}

func labelsText(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// schedulesTable lists schedules one a line.
func schedulesTable(tw *tabwriter.Writer, list []client.Schedule) {
	fmt.Fprintln(tw, "ID\tSTATUS\tDUE\tKIND\tNAME\tCALLBACK")
	for _, s := range list {
		kind := "once"
		switch {
		case s.IsCron():
			kind = "cron " + s.CronExpression
		case s.ParentScheduleID != "":
			kind = "run of " + s.ParentScheduleID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ScheduleID, s.Status, orDash(timeText(s.DueTime())), kind, orDash(s.Name),
			s.Callback.Details.Method+" "+s.Callback.Details.URL)
	}
}

func runsTable(tw *tabwriter.Writer, list []client.Schedule) {
	fmt.Fprintln(tw, "RUN\tSTATUS\tDUE\tHTTP\tATTEMPTS\tERROR")
	for _, s := range list {
		httpStatus, attempts := "-", "-"
		if s.HTTPStatus != 0 {
			httpStatus = strconv.Itoa(s.HTTPStatus)
		}
		if s.Attempts != 0 {
			attempts = strconv.Itoa(s.Attempts)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ScheduleID, s.Status, orDash(timeText(s.DueTime())), httpStatus, attempts,
			orDash(clip(s.ErrorMessage, 60)))
	}
}

func printPage(r *cmdRun, page client.SchedulePage, table func(*tabwriter.Writer, []client.Schedule)) error {
	if page.Schedules == nil {
		page.Schedules = []client.Schedule{}
	}
	if err := r.print(page, func(tw *tabwriter.Writer) { table(tw, page.Schedules) }); err != nil {
		return err
	}
	if page.ContinuationToken != "" {
		r.note("more: add --page-token %s", page.ContinuationToken)
	}
	return nil
}

func setupList(fs *flag.FlagSet) runFunc {
	app := fs.String("app", "", "the app (required, but with --crons)")
	crons := fs.Bool("crons", false, "list cron definitions (of --app, or of every app) instead")
	status := fs.String("status", "", "only this status: SCHEDULED, SUCCESS, FAILURE, MISS, DELETED, EXPIRED (PAUSED, STOPPED with --crons)")
	window := rangeFlags(fs)
	size := fs.Int("size", 0, "schedules per page, 1 to 1000 (default: the server's, 100)")
	token := fs.String("page-token", "", "the previous page's continuation token")
	return func(ctx context.Context, r *cmdRun) error {
		st := strings.ToUpper(*status)
		if *crons {
			if window.given() || *size != 0 || *token != "" {
				return usagef("--crons lists every cron at once: --from, --to, --size and --page-token do not apply")
			}
			list, err := r.c.Crons(ctx, *app, st)
			if err != nil {
				return err
			}
			return r.print(list, func(tw *tabwriter.Writer) { schedulesTable(tw, list) })
		}
		if *app == "" {
			return usagef("--app is required (or --crons for the crons of every app)")
		}
		if *size < 0 || *size > 1000 {
			return usagef("--size must be from 1 to 1000")
		}
		q := client.AppSchedulesQuery{Status: st, Size: *size, ContinuationToken: *token}
		var err error
		if q.Start, q.End, err = window.read(r.now()); err != nil {
			return err
		}
		page, err := r.c.AppSchedules(ctx, *app, q)
		if err != nil {
			return err
		}
		return printPage(r, page, schedulesTable)
	}
}

// timeRange is the --from and --to of a command that selects schedules by
// due time (the API takes at most 30 days).
type timeRange struct{ from, to *string }

func rangeFlags(fs *flag.FlagSet) timeRange {
	return timeRange{
		from: fs.String("from", "", "start of the range: RFC 3339, unix seconds or 'YYYY-MM-DD HH:MM:SS' UTC (default: 24h ago)"),
		to:   fs.String("to", "", "end of the range, same forms, at most 30 days after --from (default: --from + 30 days)"),
	}
}

func (w timeRange) given() bool { return *w.from != "" || *w.to != "" }

// read is the range the flags give: by default 30 days from 24 hours ago.
func (w timeRange) read(now time.Time) (start, end time.Time, err error) {
	start = now.Add(-24 * time.Hour).Truncate(time.Second)
	if *w.from != "" {
		if start, err = parseWhen("--from", *w.from); err != nil {
			return
		}
	}
	end = start.Add(30 * 24 * time.Hour)
	if *w.to != "" {
		if end, err = parseWhen("--to", *w.to); err != nil {
			return
		}
	}
	switch {
	case end.Before(start):
		err = usagef("--to is before --from")
	case end.Sub(start) > 30*24*time.Hour:
		err = usagef("--from and --to are more than 30 days apart (the API's limit)")
	}
	return
}

// parseWhen reads a time: unix seconds, RFC 3339 (with a fraction:
// milliseconds count) or "YYYY-MM-DD HH:MM:SS" in UTC.
func parseWhen(flagName, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > 1e11 {
			return time.Time{}, usagef("%s %s looks like milliseconds: give unix seconds or RFC 3339", flagName, s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usagef("%s %q is not a time: give RFC 3339 (2026-12-24T18:00:00Z), unix seconds or 'YYYY-MM-DD HH:MM:SS' (UTC)", flagName, s)
}

// scheduleFlags are the fields of a schedule as flags, shared by create
// and update.
type scheduleFlags struct {
	file                                       string
	app, cron, tz, at, in, end                 string
	url, method, payload, name, numberParam    string
	headers, secretHeaders, labels             stringList
	followRedirects, stopOnCallback, paused    bool
	maxAttempts                                int
	attemptTimeout, initialBackoff, maxBackoff time.Duration
	retry4xx                                   bool
	noEnd                                      bool
}

func addScheduleFlags(fs *flag.FlagSet, create bool) *scheduleFlags {
	f := &scheduleFlags{}
	fs.StringVar(&f.file, "f", "", "the request as a JSON file (- for stdin), instead of the field flags")
	fs.StringVar(&f.file, "file", "", "same as -f")
	if create {
		fs.StringVar(&f.app, "app", "", "the app the schedule belongs to (required)")
		fs.BoolVar(&f.paused, "paused", false, "create it paused")
	}
	fs.StringVar(&f.cron, "cron", "", "cron expression (5, 6 or 7 fields, @daily, @every 5m, ...): a cron")
	fs.StringVar(&f.tz, "tz", "", "IANA time zone of the cron expression (default UTC)")
	fs.StringVar(&f.at, "at", "", "due time of a one-time schedule: RFC 3339, unix seconds or 'YYYY-MM-DD HH:MM:SS' UTC")
	fs.StringVar(&f.in, "in", "", "due time of a one-time schedule as a delay from now (90s, 2h)")
	fs.StringVar(&f.end, "end", "", "a cron's end time (same forms as --at): no run after it")
	fs.StringVar(&f.url, "url", "", "callback URL (http or https)")
	method := "POST"
	if !create {
		method = ""
	}
	fs.StringVar(&f.method, "method", method, "callback method: GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS")
	fs.Var(&f.headers, "header", "callback header 'Name: value' (repeatable)")
	fs.Var(&f.secretHeaders, "secret-header", "name of a header no read shows (repeatable)")
	fs.BoolVar(&f.followRedirects, "follow-redirects", false, "follow the callback's redirects (at most 5, each checked)")
	fs.StringVar(&f.numberParam, "number-param", "", "query parameter that carries the schedule's number on every call")
	fs.StringVar(&f.payload, "payload", "", "the body of every call (for POST, PUT, PATCH, DELETE)")
	fs.StringVar(&f.name, "name", "", "a name unique among the app's schedules")
	fs.Var(&f.labels, "label", "label key=value (repeatable)")
	fs.BoolVar(&f.stopOnCallback, "stop-on-callback", false, "a cron stops for good when its receiver answers {\"code\":400}")
	fs.IntVar(&f.maxAttempts, "max-attempts", 0, "attempts per run (default: the server's)")
	fs.DurationVar(&f.attemptTimeout, "attempt-timeout", 0, "timeout of each attempt (default: the server's)")
	fs.DurationVar(&f.initialBackoff, "initial-backoff", 0, "first wait between attempts (default: the server's)")
	fs.DurationVar(&f.maxBackoff, "max-backoff", 0, "longest wait between attempts (default: the server's)")
	fs.BoolVar(&f.retry4xx, "retry-4xx", false, "retry 4xx answers too (408 and 429 always are)")
	if !create {
		fs.BoolVar(&f.noEnd, "no-end", false, "remove a cron's end time")
	}
	return f
}

// fieldFlagsSet lists the field flags given (everything but the file and
// the common flags).
func fieldFlagsSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) {
		if !commonFlagNames[fl.Name] && fl.Name != "f" && fl.Name != "file" && fl.Name != "linearizable" {
			set[fl.Name] = true
		}
	})
	return set
}

// readBody decodes the -f file into v, refusing fields the API does not
// have (a typo would otherwise be dropped without a word).
func readBody(r *cmdRun, file string, v any) error {
	var rd io.Reader = r.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return usagef("-f: %v", err)
		}
		defer f.Close()
		rd = f
	}
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return usagef("-f %s: not the request's JSON: %v", file, err)
	}
	if dec.More() {
		return usagef("-f %s: holds more than one JSON value", file)
	}
	return nil
}

// callback builds the callback from the flags, checked as the server
// would, so a mistake is told before any call.
func (f *scheduleFlags) callback() (*client.Callback, error) {
	if f.url == "" {
		return nil, usagef("--url is required")
	}
	u, err := url.Parse(f.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--url %q is not an absolute http:// or https:// URL", f.url)
	}
	method := strings.ToUpper(strings.TrimSpace(f.method))
	if !admit.Methods[method] {
		return nil, usagef("--method %q: use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS", f.method)
	}
	cb := &client.Callback{Type: "http", Details: client.CallbackDetails{URL: f.url, Method: method,
		FollowRedirects: f.followRedirects, NumberParam: f.numberParam, SecretHeaders: f.secretHeaders}}
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, usagef("--header %q: give 'Name: value'", h)
		}
		if cb.Details.Headers == nil {
			cb.Details.Headers = map[string]string{}
		}
		cb.Details.Headers[k] = strings.TrimSpace(v)
	}
	return cb, nil
}

func (f *scheduleFlags) labelMap() (map[string]string, error) {
	if len(f.labels) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, l := range f.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usagef("--label %q: give key=value", l)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

// retry is the retry policy of the flags given (nil: none given).
func (f *scheduleFlags) retry(set map[string]bool) (*client.RetryPolicy, error) {
	if !set["max-attempts"] && !set["attempt-timeout"] && !set["initial-backoff"] && !set["max-backoff"] && !set["retry-4xx"] {
		return nil, nil
	}
	if f.maxAttempts < 0 || f.attemptTimeout < 0 || f.initialBackoff < 0 || f.maxBackoff < 0 {
		return nil, usagef("retry flags must not be negative")
	}
	p := &client.RetryPolicy{MaxAttempts: f.maxAttempts, TimeoutMs: f.attemptTimeout.Milliseconds(),
		InitialBackoffMs: f.initialBackoff.Milliseconds(), MaxBackoffMs: f.maxBackoff.Milliseconds()}
	if set["retry-4xx"] {
		p.RetryOn4xx = &f.retry4xx
	}
	return p, nil
}

// dueTime reads --at or --in: epoch seconds, or milliseconds when the
// time has a fraction of a second.
func (f *scheduleFlags) dueTime(now time.Time) (sec, ms *int64, err error) {
	var t time.Time
	switch {
	case f.at != "" && f.in != "":
		return nil, nil, usagef("give --at or --in, not both")
	case f.in != "":
		d, err := time.ParseDuration(f.in)
		if err != nil || d <= 0 {
			return nil, nil, usagef("--in %q is not a positive duration (90s, 2h)", f.in)
		}
		// Whole seconds (rounded up, so never before the delay): a
		// fraction only --at asks for.
		t = now.Add(d)
		if t.Nanosecond() != 0 {
			t = t.Truncate(time.Second).Add(time.Second)
		}
	case f.at != "":
		if t, err = parseWhen("--at", f.at); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, nil
	}
	if t.Nanosecond() != 0 {
		v := t.UnixMilli()
		return nil, &v, nil
	}
	v := t.Unix()
	return &v, nil, nil
}

func setupCreate(fs *flag.FlagSet) runFunc {
	f := addScheduleFlags(fs, true)
	return func(ctx context.Context, r *cmdRun) error {
		set := fieldFlagsSet(fs)
		var req client.CreateScheduleRequest
		if f.file != "" {
			if len(set) > 0 {
				return usagef("give the schedule as flags or as -f, not both (-f with --%s)", firstKey(set))
			}
			if err := readBody(r, f.file, &req); err != nil {
				return err
			}
		} else {
			var err error
			if req, err = f.createRequest(set, r.now()); err != nil {
				return err
			}
		}
		s, err := r.c.CreateSchedule(ctx, req)
		if err != nil {
			return err
		}
		return printSchedule(r, s)
	}
}

func (f *scheduleFlags) createRequest(set map[string]bool, now time.Time) (client.CreateScheduleRequest, error) {
	req := client.CreateScheduleRequest{AppID: f.app, Payload: f.payload, CronExpression: strings.TrimSpace(f.cron),
		TimeZone: f.tz, Name: f.name, StopOnCallback: f.stopOnCallback, Paused: f.paused}
	if f.app == "" {
		return req, usagef("--app is required")
	}
	sec, ms, err := f.dueTime(now)
	if err != nil {
		return req, err
	}
	switch {
	case req.CronExpression != "" && (sec != nil || ms != nil):
		return req, usagef("give --cron (a cron) or --at/--in (a one-time schedule), not both")
	case req.CronExpression == "" && sec == nil && ms == nil:
		return req, usagef("give --cron EXPR for a cron, or --at TIME or --in DELAY for a one-time schedule")
	case req.CronExpression == "" && (f.tz != "" || f.end != "" || f.stopOnCallback):
		return req, usagef("--tz, --end and --stop-on-callback are for crons (--cron)")
	}
	req.ScheduleTime, req.ScheduleTimeMs = sec, ms
	if f.end != "" {
		t, err := parseWhen("--end", f.end)
		if err != nil {
			return req, err
		}
		end := t.Unix()
		req.EndTime = &end
	}
	if req.Callback, err = f.callback(); err != nil {
		return req, err
	}
	if req.Labels, err = f.labelMap(); err != nil {
		return req, err
	}
	req.Retry, err = f.retry(set)
	return req, err
}

func setupUpdate(fs *flag.FlagSet) runFunc {
	f := addScheduleFlags(fs, false)
	return func(ctx context.Context, r *cmdRun) error {
		set := fieldFlagsSet(fs)
		var req client.UpdateScheduleRequest
		if f.file != "" {
			if len(set) > 0 {
				return usagef("give the change as flags or as -f, not both (-f with --%s)", firstKey(set))
			}
			if err := readBody(r, f.file, &req); err != nil {
				return err
			}
		} else {
			if len(set) == 0 {
				return usagef("nothing to change: give at least one field flag (chronicle %s -h)", r.name)
			}
			var err error
			if req, err = f.updateRequest(set, r.now()); err != nil {
				return err
			}
		}
		s, err := r.c.UpdateSchedule(ctx, r.args[0], req)
		if err != nil {
			return err
		}
		return printSchedule(r, s)
	}
}

// updateRequest sends only what was given: a flag left out keeps the
// schedule's value.
func (f *scheduleFlags) updateRequest(set map[string]bool, now time.Time) (client.UpdateScheduleRequest, error) {
	var req client.UpdateScheduleRequest
	var err error
	if set["payload"] {
		req.Payload = &f.payload
	}
	if set["cron"] {
		expr := strings.TrimSpace(f.cron)
		req.CronExpression = &expr
	}
	if set["tz"] {
		req.TimeZone = &f.tz
	}
	if req.ScheduleTime, req.ScheduleTimeMs, err = f.dueTime(now); err != nil {
		return req, err
	}
	if (set["cron"] || set["tz"]) && (set["at"] || set["in"]) {
		return req, usagef("a schedule is a cron (--cron, --tz) or one-time (--at, --in), not both")
	}
	if set["name"] {
		req.Name = &f.name
	}
	switch {
	case set["end"] && f.noEnd:
		return req, usagef("give --end or --no-end, not both")
	case set["end"]:
		t, err := parseWhen("--end", f.end)
		if err != nil {
			return req, err
		}
		end := t.Unix()
		req.EndTime = &end
	case f.noEnd:
		zero := int64(0)
		req.EndTime = &zero
	}
	if set["stop-on-callback"] {
		req.StopOnCallback = &f.stopOnCallback
	}
	if set["label"] {
		labels, err := f.labelMap()
		if err != nil {
			return req, err
		}
		req.Labels = &labels
	}
	if set["url"] || set["method"] || set["header"] || set["secret-header"] || set["follow-redirects"] || set["number-param"] {
		// A callback is replaced whole, and what a read shows of it is
		// not all of it (secret headers read ***), so it is not merged:
		// the new one is given in full.
		if !set["url"] || !set["method"] {
			return req, usagef("a new callback replaces the old one whole: give --url and --method (and any --header) together")
		}
		if req.Callback, err = f.callback(); err != nil {
			return req, err
		}
	}
	req.Retry, err = f.retry(set)
	return req, err
}

func firstKey(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[0]
}
