// Package admit decides what may enter the replicated log. A node checks
// every event here before it proposes it, whether its own actors stamped
// it or a follower forwarded it, so apply never meets a payload it cannot
// decode or a value outside what the APIs accept (a committed entry apply
// cannot read stops every node, on every restart). Apply still checks what
// depends on the state (the app exists and is active, the run is pending);
// this package checks what does not, with no state and no clock but the
// event's own time.
//
// The APIs refuse bad input with the helpers below (AppID, Callback,
// Retry, PayloadText, DueTime), so a request and the event made of it are
// judged by the same rules, in the same words.
package admit

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/internal/errkind"
)

// Limits of what the log takes.
const (
	MaxIDLen        = 128        // app, schedule and node ids
	MaxPartitions   = 1024       // per app
	MaxPayloadBytes = 512 << 10  // a schedule's payload
	MaxHeaders      = 64         // callback headers
	MaxAttempts     = 20         // a schedule's retry.maxAttempts
	MaxTimeoutMs    = 3_600_000  // a schedule's retry.timeoutMs (an hour: karajo's jobs may run long)
	MaxScheduleTime = 7258118400 // 2200-01-01: a due time beyond is a mistake
	LooksLikeMillis = 100000000000
	MaxBulkRange    = 30 * 24 * time.Hour // a bulk action's time range
	// ClockSkew is how far before its event's time a due time may lie: the
	// APIs refuse the past, but a follower's clock and the forwarding delay
	// put the leader's stamp a little after the follower's check.
	ClockSkew = 5 * time.Minute

	maxRunIDLen      = MaxIDLen + 24 // a schedule id with a reconcile suffix
	maxCronLen       = 1024
	maxURLLen        = 8 << 10
	maxMessageBytes  = 64 << 10 // an outcome's error message
	maxCompacted     = 10_000   // schedules one EventsCompacted lists
	maxRecordedTries = 1000     // attempts a RunCompleted may report (the server's policy is a flag)
)

// refused is the error of an event that may not enter the log.
func refused(format string, args ...any) error {
	return errkind.Newf(errkind.Invalid, format, args...)
}

// Event checks an event about to be proposed: its envelope, and its
// payload decoded and checked by the rules of its type. It returns the
// decoded payload.
func Event(ev event.Event) (event.Payload, error) {
	switch {
	case ev.V != event.SchemaJSON && ev.V != event.SchemaVersion:
		return nil, refused("event schema version %d is not one this build writes", ev.V)
	case !ev.Type.Known():
		return nil, refused("event type %d is unknown", ev.Type)
	case ev.Time <= 0 || ev.Time/1e9 > MaxScheduleTime:
		return nil, refused("%s stamped at %d ns: not a time", ev.Type, ev.Time)
	}
	if err := NodeID("node", ev.Node); err != nil {
		return nil, refused("%s: %v", ev.Type, err)
	}
	if ev.Actor != "" {
		if err := NodeID("actor", ev.Actor); err != nil {
			return nil, refused("%s: %v", ev.Type, err)
		}
	}
	p, err := ev.Payload()
	if err != nil {
		return nil, refused("%s payload does not decode: %v", ev.Type, err)
	}
	if err := check(p, ev.Time); err != nil {
		return nil, refused("%s: %v", ev.Type, err)
	}
	return p, nil
}

// check applies the rules of p's type; at is the event's time (unix ns).
func check(p event.Payload, at int64) error {
	switch p := p.(type) {
	case *event.AppRegistered:
		if p.Partitions < 1 || p.Partitions > MaxPartitions {
			return fmt.Errorf("partitions %d: want 1 to %d", p.Partitions, MaxPartitions)
		}
		return firstErr(AppID(p.AppID), optionalSecret(p.SigningSecret))
	case *event.TokenIssued:
		return tokenIssued(p)
	case *event.TokenRevoked:
		return TokenID(p.TokenID)
	case *event.SecretRotated:
		if p.PreviousUntil < 0 {
			return fmt.Errorf("previousUntil %d", p.PreviousUntil)
		}
		return firstErr(AppID(p.AppID), SigningSecret(p.Secret))
	case *event.AppActivated:
		return AppID(p.AppID)
	case *event.AppDeactivated:
		return AppID(p.AppID)
	case *event.ScheduleCreated:
		return scheduleCreated(p, at)
	case *event.ScheduleDeleted:
		return firstErr(ScheduleID(p.ScheduleID), AppID(p.AppID))
	case *event.RunFired:
		if p.Skipped < 0 {
			return fmt.Errorf("run %s skipped %d occurrences", p.RunID, p.Skipped)
		}
		return firstErr(runRef(p.ScheduleID, p.RunID, p.AppID, p.Partition, p.ScheduledTime), dueTimeOrNone(p.NextRunTime))
	case *event.RunCompleted:
		return runCompleted(p)
	case *event.BulkAction:
		return bulkAction(p)
	case *event.NodeAnnounced:
		return nodeAnnounced(p)
	case *event.EventsCompacted:
		return eventsCompacted(p)
	case *event.ScheduleClosed:
		return scheduleClosed(p)
	case *event.ScheduleUpdated:
		return scheduleUpdated(p, at)
	case *event.SchedulePaused:
		return firstErr(ScheduleID(p.ScheduleID), AppID(p.AppID))
	case *event.ScheduleResumed:
		return firstErr(ScheduleID(p.ScheduleID), AppID(p.AppID), dueTimeOrNone(p.NextRunTime))
	case *event.RunTriggered:
		return runRef(p.ScheduleID, p.RunID, p.AppID, p.Partition, 0)
	case *event.ScheduleStoppedByCallback:
		return scheduleStopped(p)
	case *event.SignatureSpent:
		return signatureSpent(p, at)
	case *event.NotificationSent:
		return notificationSent(p)
	case *event.JobCreated:
		return jobCreated(p)
	case *event.JobStarted:
		return jobRef(p.JobID, p.ScheduleID, p.AppID)
	case *event.JobCancelled:
		return jobRef(p.JobID, p.ScheduleID, p.AppID)
	case *event.TaskStarted:
		return taskStarted(p)
	case *event.TaskFinished:
		return taskFinished(p)
	case *event.JobFinished:
		if !event.JobOutcome(p.Status) {
			return fmt.Errorf("job %d finished with status %q", p.JobID, clip(p.Status, 40))
		}
		return jobRef(p.JobID, p.ScheduleID, p.AppID)
	case *event.RunOutput:
		if len(p.Output) > MaxOutputBytes {
			return fmt.Errorf("run %s: output longer than %d bytes", p.RunID, MaxOutputBytes)
		}
		return runRef(p.ScheduleID, p.RunID, p.AppID, 0, 0)
	}
	return fmt.Errorf("no admission rule for %T", p)
}

func scheduleCreated(p *event.ScheduleCreated, at int64) error {
	if err := firstErr(ScheduleID(p.ScheduleID), AppID(p.AppID), PayloadText(p.Payload)); err != nil {
		return err
	}
	if p.Partition < 0 || p.Partition >= MaxPartitions {
		return fmt.Errorf("partition %d: want 0 to %d", p.Partition, MaxPartitions-1)
	}
	if problems := append(append(Request(p.Callback, p.Payload), Retry(p.Retry)...), Definition(p.Definition, p.IsCron())...); len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, ","))
	}
	earliest := at/1e9 - int64(ClockSkew/time.Second)
	what := "first run"
	if p.IsCron() && p.Paused {
		// Its resume computes its next run: created paused, it has none.
		if p.NextRunTime != 0 {
			return fmt.Errorf("cron %s is created paused with a next run", p.ScheduleID)
		}
		what = "next run"
	}
	if err := scheduleTimes(p.ScheduleID, p.IsCron(), p.CronExpression, p.TimeZone, p.ScheduleTime, p.ScheduleTimeMs,
		p.NextRunTime, p.EndTime, earliest, what); err != nil || p.IsCron() {
		return err
	}
	if p.ScheduleTime < earliest {
		return fmt.Errorf("scheduleTime %d is before %s, when the event was stamped", p.ScheduleTime,
			time.Unix(0, at).UTC().Format(time.RFC3339))
	}
	return dueTimeErr("scheduleTime", p.ScheduleTime)
}

// scheduleTimes checks the times of a created or updated schedule: a
// cron's run (what names it: its first, or its next) is one of its
// occurrences, not long before the event and not after its end time; a
// one-time schedule has no cron fields and one due second.
func scheduleTimes(id string, cron bool, expr, tz string, st, stMs, next, end, earliest int64, what string) error {
	if cron {
		if st != 0 || stMs != 0 {
			return fmt.Errorf("cron schedule %s also has a scheduleTime", id)
		}
		if err := cronRun(expr, tz, next, earliest, what); err != nil {
			return err
		}
		return endAfter(end, next)
	}
	switch {
	case tz != "" || next != 0:
		return fmt.Errorf("one-time schedule %s has a cron time zone or next run", id)
	case stMs != 0 && stMs/1000 != st:
		return fmt.Errorf("scheduleTime %d and scheduleTimeMs %d name different seconds", st, stMs)
	}
	return nil
}

// cronRun checks a cron's expression and that run (its first or next
// run; 0 for none where what says "next run") is one of its occurrences,
// not long before the event.
func cronRun(expr, tz string, run, earliest int64, what string) error {
	if len(expr) > maxCronLen || !utf8.ValidString(expr+tz) {
		return fmt.Errorf("cron expression is longer than %d bytes or not UTF-8", maxCronLen)
	}
	spec, err := cronspec.Load(expr, tz)
	if err != nil {
		return err
	}
	if run == 0 && (what == "next run" || spec.Manual()) {
		return nil // none: paused, past its end, or @manual
	}
	if err := dueTimeErr("nextRunTime", run); err != nil {
		return err
	}
	if run < earliest {
		return fmt.Errorf("%s %d is long before the event", what, run)
	}
	if got := spec.Next(time.Unix(run-1, 0)); got.Unix() != run {
		return fmt.Errorf("%s %d is not an occurrence of %q", what, run, expr)
	}
	return nil
}

// endAfter checks that a cron's end time does not come before the run it
// is given with.
func endAfter(end, run int64) error {
	if end != 0 && run > end {
		return fmt.Errorf("run %d is after the end time %d", run, end)
	}
	return nil
}

// updatableFields are the names ScheduleUpdated.Changed may hold.
var updatableFields = map[string]bool{"payload": true, "scheduleTime": true, "scheduleTimeMs": true,
	"cronExpression": true, "timeZone": true, "callback": true, "retry": true, "name": true, "endTime": true,
	"stopOnCallback": true, "labels": true, "counted": true, "overlap": true, "keepOutputs": true,
	"notifyOnSuccess": true, "notifyOnFailure": true}

func scheduleUpdated(p *event.ScheduleUpdated, at int64) error {
	if err := firstErr(ScheduleID(p.ScheduleID), AppID(p.AppID), PayloadText(p.Payload)); err != nil {
		return err
	}
	if problems := append(append(Request(p.Callback, p.Payload), Retry(p.Retry)...), Definition(p.Definition, p.IsCron())...); len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, ","))
	}
	if len(p.Changed) > len(updatableFields) {
		return fmt.Errorf("%d changed fields", len(p.Changed))
	}
	for _, f := range p.Changed {
		if !updatableFields[f] {
			return fmt.Errorf("changed field %q is not one an update changes", clip(f, 40))
		}
	}
	earliest := at/1e9 - int64(ClockSkew/time.Second)
	if err := scheduleTimes(p.ScheduleID, p.IsCron(), p.CronExpression, p.TimeZone, p.ScheduleTime, p.ScheduleTimeMs,
		p.NextRunTime, p.EndTime, earliest, "next run"); err != nil || p.IsCron() {
		return err
	}
	return dueTimeErr("scheduleTime", p.ScheduleTime)
}

// Limits of a schedule's Definition.
const (
	MaxNameLen       = 200
	MaxLabels        = 32
	MaxLabelKeyLen   = 63
	MaxLabelValueLen = 256
	maxResponseBytes = 4 << 10 // of a stopping answer, kept for the record
)

// Definition returns what is wrong with a schedule's name, end time,
// stop-on-callback and labels, for a cron or a one-time schedule.
func Definition(d event.Definition, cron bool) []string {
	var problems []string
	if len(d.Name) > MaxNameLen || !printable(d.Name) {
		problems = append(problems, fmt.Sprintf("name must be at most %d characters of printable UTF-8", MaxNameLen))
	}
	if d.EndTime != 0 {
		if !cron {
			problems = append(problems, "endTime is for cron schedules: a one-time schedule ends when it runs")
		} else if msg := DueTime("endTime", d.EndTime); msg != "" {
			problems = append(problems, msg)
		}
	}
	if d.StopOnCallback && !cron {
		problems = append(problems, "stopOnCallback is for cron schedules: a one-time schedule runs once")
	}
	j := d.Jobs()
	if j.Overlap != event.OverlapAllow && j.Overlap != event.OverlapBufferOne {
		problems = append(problems, fmt.Sprintf("overlap %q must be %q or absent", clip(j.Overlap, 40), event.OverlapBufferOne))
	}
	if j.KeepOutputs < 0 || j.KeepOutputs > MaxKeptOutputs {
		problems = append(problems, fmt.Sprintf("keepOutputs must be between 0 and %d", MaxKeptOutputs))
	}
	for field, names := range map[string][]string{"notifyOnSuccess": j.NotifyOnSuccess, "notifyOnFailure": j.NotifyOnFailure} {
		if len(names) > MaxNotifyTargets {
			problems = append(problems, fmt.Sprintf("%s names at most %d notification targets", field, MaxNotifyTargets))
		}
		for _, n := range names {
			if n == "" || len(n) > MaxNameLen || !printable(n) {
				problems = append(problems, fmt.Sprintf("%s: a target's name must be 1 to %d characters of printable UTF-8", field, MaxNameLen))
			}
		}
	}
	if len(d.Labels) > MaxLabels {
		problems = append(problems, fmt.Sprintf("at most %d labels are allowed", MaxLabels))
	}
	for k, v := range d.Labels {
		if k == "" || len(k) > MaxLabelKeyLen || !labelKey(k) {
			problems = append(problems, fmt.Sprintf("label key %q must be 1 to %d letters, digits, '.', '_', '-' or '/'", clip(k, 40), MaxLabelKeyLen))
		}
		if len(v) > MaxLabelValueLen || !printable(v) {
			problems = append(problems, fmt.Sprintf("label %q: value must be at most %d characters of printable UTF-8", clip(k, 40), MaxLabelValueLen))
		}
	}
	return problems
}

func labelKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._-/", c) >= 0) {
			return false
		}
	}
	return true
}

// printable reports whether s is UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// MaxNotifyTargets bounds the targets a schedule notifies of an outcome.
const MaxNotifyTargets = 16

func notificationSent(p *event.NotificationSent) error {
	if err := runRef(p.ScheduleID, p.RunID, p.AppID, 0, 0); err != nil {
		return err
	}
	switch {
	case p.Target == "" || len(p.Target) > MaxNameLen || !printable(p.Target):
		return fmt.Errorf("notification target %q", clip(p.Target, 40))
	case p.Channel != "email" && p.Channel != "webhook":
		return fmt.Errorf("notification channel %q", clip(p.Channel, 40))
	case p.Status != event.NotificationDelivered && p.Status != event.NotificationFailed:
		return fmt.Errorf("notification status %q", clip(p.Status, 40))
	case p.Attempts < 0 || p.Attempts > maxRecordedTries || p.Code < 0 || p.Code > 999:
		return fmt.Errorf("notification of %s: impossible counts", p.RunID)
	case len(p.Error) > maxMessageBytes || !utf8.ValidString(p.Error):
		return fmt.Errorf("notification of %s: error longer than %d bytes or not UTF-8", p.RunID, maxMessageBytes)
	case (p.JobID == 0) != (p.Notice == ""):
		return fmt.Errorf("notification of %s: a job's notification names its job and channel, another names neither", p.RunID)
	}
	switch p.Notice {
	case "", event.NoticeError, event.NoticeWarning, event.NoticeWaiting, event.NoticeProcessing:
	default:
		return fmt.Errorf("notification of job %d on channel %q", p.JobID, clip(p.Notice, 40))
	}
	return nil
}

// MaxSignatureLife bounds how long a spent signature is kept.
const MaxSignatureLife = 24 * time.Hour

func signatureSpent(p *event.SignatureSpent, at int64) error {
	if len(p.Digest) != 64 || strings.Trim(p.Digest, "0123456789abcdef") != "" {
		return fmt.Errorf("digest %q is not a hex SHA-256", clip(p.Digest, 80))
	}
	if now := at / 1e6; p.Until <= now || p.Until > now+MaxSignatureLife.Milliseconds() {
		return fmt.Errorf("until %d is not within %s after the event", p.Until, MaxSignatureLife)
	}
	return nil
}

func scheduleStopped(p *event.ScheduleStoppedByCallback) error {
	if err := runRef(p.ScheduleID, p.RunID, p.AppID, 0, 0); err != nil {
		return err
	}
	switch {
	case p.HTTPStatus != 0 && (p.HTTPStatus < 100 || p.HTTPStatus > 999):
		return fmt.Errorf("HTTP status %d", p.HTTPStatus)
	case len(p.Response) > maxResponseBytes || !utf8.ValidString(p.Response):
		return fmt.Errorf("response longer than %d bytes or not UTF-8", maxResponseBytes)
	}
	return nil
}

func runCompleted(p *event.RunCompleted) error {
	if err := firstErr(runRef(p.ScheduleID, p.RunID, p.AppID, p.Partition, p.ScheduledTime),
		dueTimeOrNone(p.NextRunTime)); err != nil {
		return err
	}
	switch {
	case p.Status != event.StatusSuccess && p.Status != event.StatusFailure && p.Status != event.StatusMiss &&
		p.Status != event.StatusCanceled:
		return fmt.Errorf("run %s completed with status %q", p.RunID, p.Status)
	case len(p.ErrorMessage) > maxMessageBytes || !utf8.ValidString(p.ErrorMessage):
		return fmt.Errorf("run %s: error message longer than %d bytes or not UTF-8", p.RunID, maxMessageBytes)
	case p.HTTPStatus != 0 && (p.HTTPStatus < 100 || p.HTTPStatus > 999):
		return fmt.Errorf("run %s: HTTP status %d", p.RunID, p.HTTPStatus)
	case p.Attempts < 0 || p.Attempts > maxRecordedTries || p.Skipped < 0 || p.StartedAt < 0 || p.FinishedAt < 0:
		return fmt.Errorf("run %s: negative or impossible counts and times", p.RunID)
	}
	return nil
}

func bulkAction(p *event.BulkAction) error {
	if err := AppID(p.AppID); err != nil {
		return err
	}
	switch {
	case p.Action != event.ActionDelete && p.Action != event.ActionReconcile:
		return fmt.Errorf("bulk action %q: want %s or %s", p.Action, event.ActionReconcile, event.ActionDelete)
	case p.Status != "" && !Statuses[p.Status]:
		return fmt.Errorf("bulk action on status %q", p.Status)
	case p.StartTime < 0 || p.EndTime < p.StartTime || p.EndTime > MaxScheduleTime:
		return fmt.Errorf("bulk action range %d to %d", p.StartTime, p.EndTime)
	case time.Duration(p.EndTime-p.StartTime)*time.Second > MaxBulkRange:
		return fmt.Errorf("bulk action range of more than %s", MaxBulkRange)
	}
	return nil
}

func nodeAnnounced(p *event.NodeAnnounced) error {
	if err := NodeID("nodeId", p.NodeID); err != nil {
		return err
	}
	if err := HostPort("httpAddr", p.HTTPAddr); err != nil {
		return err
	}
	if p.RaftAddr != "" {
		if err := HostPort("raftAddr", p.RaftAddr); err != nil {
			return err
		}
	}
	if p.Schema < 0 || p.Schema > 0xffff || p.Types < 0 || p.Types > 0xffff {
		return fmt.Errorf("schema %d or types %d is not an event schema version or type", p.Schema, p.Types)
	}
	return nil
}

func tokenIssued(p *event.TokenIssued) error {
	if err := TokenID(p.TokenID); err != nil {
		return err
	}
	switch {
	case p.Role != event.RoleAdmin && p.Role != event.RoleWriter && p.Role != event.RoleReader:
		return refused("role %q: use admin, writer or reader", clip(p.Role, 40))
	case p.Name == "" || len(p.Name) > MaxIDLen || !utf8.ValidString(p.Name):
		return refused("name must be 1 to %d bytes of UTF-8", MaxIDLen)
	case len(p.Hash) != 64 || strings.Trim(p.Hash, "0123456789abcdef") != "":
		return fmt.Errorf("hash %q is not a hex SHA-256", clip(p.Hash, 70))
	case len(p.Apps) > maxTokenApps:
		return refused("a token may name at most %d apps", maxTokenApps)
	}
	for _, app := range p.Apps {
		if err := AppID(app); err != nil {
			return err
		}
	}
	return nil
}

// maxTokenApps bounds the apps one token names.
const maxTokenApps = 1000

// TokenID checks an API token's id.
func TokenID(id string) error {
	if id == "" || len(id) > MaxIDLen || !idChars(id) || id == "." || id == ".." {
		return refused("token id %q is invalid", clip(id, 40))
	}
	return nil
}

func scheduleClosed(p *event.ScheduleClosed) error {
	if err := firstErr(ScheduleID(p.ScheduleID), AppID(p.AppID)); err != nil {
		return err
	}
	switch {
	case p.Reason != event.ReasonExhausted && p.Reason != event.ReasonUnevaluable && p.Reason != event.ReasonExpired:
		return fmt.Errorf("closing reason %q", clip(p.Reason, 40))
	case len(p.Message) > maxMessageBytes || !utf8.ValidString(p.Message):
		return fmt.Errorf("closing message longer than %d bytes or not UTF-8", maxMessageBytes)
	}
	return nil
}

func eventsCompacted(p *event.EventsCompacted) error {
	switch {
	case p.Cutoff <= 0:
		return fmt.Errorf("compaction without a cutoff")
	case len(p.ScheduleIDs) > maxCompacted:
		return fmt.Errorf("compaction of %d schedules: at most %d per event", len(p.ScheduleIDs), maxCompacted)
	case len(p.Retention) > 64 || !utf8.ValidString(p.Retention):
		return fmt.Errorf("retention %q", p.Retention)
	}
	for _, id := range p.ScheduleIDs {
		if err := ScheduleID(id); err != nil {
			return err
		}
	}
	return nil
}

// runRef checks the fields every run event carries.
func runRef(scheduleID, runID, appID string, partition int, scheduled int64) error {
	if err := firstErr(ScheduleID(scheduleID), AppID(appID)); err != nil {
		return err
	}
	if runID == "" || len(runID) > maxRunIDLen || !idChars(runID) {
		return fmt.Errorf("run id %q", clip(runID, 40))
	}
	if partition < 0 || partition >= MaxPartitions {
		return fmt.Errorf("partition %d", partition)
	}
	if scheduled < 0 || scheduled > MaxScheduleTime {
		return fmt.Errorf("scheduled time %d", scheduled)
	}
	return nil
}

// SigningSecretPrefix starts every signing secret (the Standard Webhooks
// convention): whsec_ and the base64 of the key.
const SigningSecretPrefix = "whsec_"

// SigningSecret checks a signing secret: whsec_ and the standard base64
// of 24 to 64 bytes.
func SigningSecret(s string) error {
	key, ok := strings.CutPrefix(s, SigningSecretPrefix)
	raw, err := base64.StdEncoding.DecodeString(key)
	if !ok || err != nil || len(raw) < 24 || len(raw) > 64 {
		return fmt.Errorf("a signing secret is %s and the base64 of 24 to 64 bytes", SigningSecretPrefix)
	}
	return nil
}

func optionalSecret(s string) error {
	if s == "" {
		return nil // apps of builds before signing
	}
	return SigningSecret(s)
}

// Statuses are the statuses of schedules and runs.
var Statuses = map[string]bool{event.StatusScheduled: true, event.StatusSuccess: true, event.StatusFailure: true,
	event.StatusMiss: true, event.StatusDeleted: true, event.StatusExpired: true, event.StatusPaused: true,
	event.StatusStopped: true, event.StatusCanceled: true}

// AppID checks an app id: 1 to MaxIDLen letters, digits, '.', '_' or '-',
// and neither "." nor ".." (they would name a path, not an app).
func AppID(id string) error {
	switch {
	case strings.TrimSpace(id) == "":
		return refused("AppId cannot be empty")
	case len(id) > MaxIDLen || !idChars(id) || id == "." || id == "..":
		return refused("AppId %q is invalid: use at most %d letters, digits, '.', '_' or '-' (not . or .. alone)", clip(id, 40), MaxIDLen)
	}
	return nil
}

// ScheduleID checks the id of a schedule as the log holds it.
func ScheduleID(id string) error {
	if id == "" || len(id) > MaxIDLen || !idChars(id) || id == "." || id == ".." {
		return refused("schedule id %q is invalid: use at most %d letters, digits, '.', '_' or '-'", clip(id, 40), MaxIDLen)
	}
	return nil
}

// NodeID checks a cluster member's id: printable, no spaces, bounded.
func NodeID(field, id string) error {
	if id == "" || len(id) > MaxIDLen || !utf8.ValidString(id) {
		return refused("%s %q must be 1 to %d bytes of UTF-8", field, clip(id, 40), MaxIDLen)
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return refused("%s %q has a space or control character", field, clip(id, 40))
		}
	}
	return nil
}

func idChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// HostPort checks a network address as host:port with a port from 1 to
// 65535 and a host that is not empty.
func HostPort(field, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return refused("%s %q is not host:port: %v", field, clip(addr, 80), err)
	}
	n, err := strconv.Atoi(port)
	switch {
	case host == "":
		return refused("%s %q names no host", field, clip(addr, 80))
	case err != nil || n < 1 || n > 65535:
		return refused("%s %q: port must be a number from 1 to 65535", field, clip(addr, 80))
	case strings.ContainsAny(host, " /?#@\x00"):
		return refused("%s %q: not a host name or address", field, clip(addr, 80))
	}
	return nil
}

// PayloadText checks a schedule's payload: at most MaxPayloadBytes of
// UTF-8. Invalid UTF-8 would be shown altered (as U+FFFD) by every JSON
// answer, so it is refused rather than stored.
func PayloadText(s string) error {
	switch {
	case len(s) > MaxPayloadBytes:
		return errkind.Newf(errkind.Invalid, "payload is larger than %d bytes", MaxPayloadBytes)
	case !utf8.ValidString(s):
		return refused("payload is not valid UTF-8: send text, or encode binary data (base64)")
	}
	return nil
}

// DueTime returns what is wrong with a one-time due time in epoch seconds
// named field ("" if nothing): milliseconds sent as seconds, or a time
// after the year 2200. Whether it is in the past is the API's to say.
func DueTime(field string, sec int64) string {
	switch {
	case sec >= LooksLikeMillis:
		return fmt.Sprintf("%s %d looks like milliseconds: send epoch seconds", field, sec)
	case sec > MaxScheduleTime:
		return fmt.Sprintf("%s %d is after the year 2200", field, sec)
	case sec <= 0:
		return fmt.Sprintf("%s %d is not a time", field, sec)
	}
	return ""
}

func dueTimeErr(field string, sec int64) error {
	if msg := DueTime(field, sec); msg != "" {
		return fmt.Errorf("%s", msg)
	}
	return nil
}

func dueTimeOrNone(sec int64) error {
	if sec == 0 {
		return nil
	}
	return dueTimeErr("nextRunTime", sec)
}

// Methods are the HTTP methods a callback may use.
var Methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

// Callback returns what is wrong with a callback, each problem in the
// words GoScheduler answers with (nil if nothing). The method must be
// upper case and the type "http", as the APIs normalise them.
func Callback(cb event.Callback) []string {
	switch {
	case cb.Type == event.CallbackCommand:
		return commandCallback(cb)
	case cb.Type == event.CallbackWorkflow:
		return workflowCallback(cb)
	}
	var problems []string
	if cb.Type != "http" {
		problems = append(problems, fmt.Sprintf("unsupported callback type %q: only http is supported", clip(cb.Type, 40)))
	}
	if cb.Command != nil || cb.Workflow != nil {
		problems = append(problems, "an http callback runs no command or workflow")
	}
	if u, err := url.ParseRequestURI(cb.URL); err != nil {
		problems = append(problems, err.Error())
	} else if cb.Local() {
		if u.Host != "" || strings.HasPrefix(cb.URL, "//") || !utf8.ValidString(cb.URL) || len(cb.URL) > maxURLLen {
			problems = append(problems, fmt.Sprintf("callback url %q: a call to this cluster's own API is a path starting with one '/'", clip(cb.URL, 200)))
		}
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !utf8.ValidString(cb.URL) {
		problems = append(problems, fmt.Sprintf("callback url %q must be an absolute http or https URL", clip(cb.URL, 200)))
	} else if u.User != nil {
		// It would be shown by every read of the schedule: credentials
		// belong in a header, which reads mask.
		problems = append(problems, "callback url must not carry a user name or password: send credentials in a header (its value is masked when shown)")
	} else if len(cb.URL) > maxURLLen {
		problems = append(problems, fmt.Sprintf("callback url is longer than %d bytes", maxURLLen))
	}
	if !Methods[cb.Method] {
		problems = append(problems, "Invalid http callback method "+clip(cb.Method, 40))
	}
	if len(cb.Headers) > MaxHeaders {
		problems = append(problems, fmt.Sprintf("at most %d callback headers are allowed", MaxHeaders))
	}
	if p := cb.NumberParam; p != "" && !paramName(p) {
		problems = append(problems, fmt.Sprintf("numberParam %q must be 1 to 64 letters, digits, '.', '_', '~' or '-'", clip(p, 40)))
	}
	if len(cb.SecretHeaders) > MaxHeaders {
		problems = append(problems, fmt.Sprintf("at most %d secret headers may be named", MaxHeaders))
	}
	for _, k := range cb.SecretHeaders {
		if !HeaderName(k) {
			problems = append(problems, fmt.Sprintf("invalid secret header name %q", clip(k, 40)))
		}
	}
	problems = append(problems, shape(cb)...)
	for k, v := range cb.Headers {
		if !HeaderName(k) {
			problems = append(problems, fmt.Sprintf("invalid callback header name %q", clip(k, 40)))
		}
		if strings.ContainsAny(v, "\r\n\x00") || !utf8.ValidString(v) {
			problems = append(problems, fmt.Sprintf("callback header %q has a control character in its value", clip(k, 40)))
		}
	}
	return problems
}

// Request returns what is wrong with a callback (Callback) and with the
// request it makes with payload: a callback whose parameters are its body
// (form or json) sends them, so it has no payload and a method that
// sends a body.
func Request(cb event.Callback, payload string) []string {
	return append(Callback(cb), BodyParams(cb, payload)...)
}

// BodyParams returns what is wrong with sending payload on a callback
// whose parameters may be its body (see Request).
func BodyParams(cb event.Callback, payload string) []string {
	var problems []string
	if params := cb.Shaping().Params; params == event.ParamsForm || params == event.ParamsJSON {
		if payload != "" {
			problems = append(problems, fmt.Sprintf("a callback with %s params sends them as its body: the payload must be empty", params))
		}
		if !BodyMethods[cb.Method] {
			problems = append(problems, fmt.Sprintf("a callback with %s params sends a body: its method must be POST, PUT, PATCH or DELETE", params))
		}
	}
	return problems
}

// BodyMethods are the methods whose calls send a body (the payload, or
// form or json params).
var BodyMethods = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// MaxSecretLen bounds a callback signature's secret.
const MaxSecretLen = 1024

// shape returns what is wrong with a callback's request shape (see
// event.Callback.Shaped).
func shape(cb event.Callback) []string {
	var problems []string
	if cb.Shape != nil && *cb.Shape == (event.RequestShape{}) {
		problems = append(problems, "an empty request shape: leave it out")
	}
	sh := cb.Shaping()
	if p := sh.TimeParam; p != "" && !paramName(p) {
		problems = append(problems, fmt.Sprintf("timeParam %q must be 1 to 64 letters, digits, '.', '_', '~' or '-'", clip(p, 40)))
	}
	switch sh.Params {
	case "":
	case event.ParamsQuery, event.ParamsForm, event.ParamsJSON:
		if sh.TimeParam == "" {
			problems = append(problems, "params says where the call's parameters go: it needs timeParam")
		}
	default:
		problems = append(problems, fmt.Sprintf("params %q must be query, form or json", clip(sh.Params, 40)))
	}
	if s := sh.Signature; s != nil {
		switch {
		case !HeaderName(s.Header):
			problems = append(problems, fmt.Sprintf("invalid signature header name %q", clip(s.Header, 40)))
		case chronicleHeader(s.Header):
			problems = append(problems, fmt.Sprintf("signature header %q is one Chronicle sets on every call", clip(s.Header, 40)))
		}
		for k := range cb.Headers {
			if strings.EqualFold(k, s.Header) {
				problems = append(problems, fmt.Sprintf("signature header %q is also a callback header", clip(s.Header, 40)))
			}
		}
		if s.Secret == "" || len(s.Secret) > MaxSecretLen || !utf8.ValidString(s.Secret) || strings.ContainsAny(s.Secret, "\r\n\x00") {
			problems = append(problems, fmt.Sprintf("signature secret must be 1 to %d bytes of text on one line", MaxSecretLen))
		}
	}
	if s := sh.SuccessStatus; s != 0 && (s < 200 || s > 299) {
		problems = append(problems, fmt.Sprintf("successStatus %d must be a 2xx status", s))
	}
	return problems
}

// paramName: a URL query parameter's name that needs no escaping.
func paramName(p string) bool {
	return p != "" && len(p) <= 64 && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-") == ""
}

// chronicleHeader: a header Chronicle sets on every call (its own, and
// Standard Webhooks').
func chronicleHeader(k string) bool {
	k = strings.ToLower(k)
	return strings.HasPrefix(k, "x-chronicle-") || strings.HasPrefix(k, "webhook-")
}

// Limits of a command callback.
const (
	MaxCommandLines    = 64
	MaxCommandLineLen  = 8 << 10
	MaxOutputBytes     = 1 << 20 // of a run's output (RunOutput); the runner keeps the start
	MaxKeptOutputs     = 1000    // Definition.KeepOutputs
	maxCommandDirLen   = 255
	maxCounterEnvLen   = 64
	commandDirChars    = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/"
	environmentVarHead = "ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
)

// commandCallback returns what is wrong with a command callback: lines to
// run, a directory inside the data directory, an environment variable
// name, and nothing of an HTTP call.
func commandCallback(cb event.Callback) []string {
	c := cb.Command
	if c == nil {
		return []string{"a command callback needs its commands"}
	}
	var problems []string
	if cb.URL != "" || cb.Method != "" || len(cb.Headers) > 0 || cb.FollowRedirects || len(cb.SecretHeaders) > 0 ||
		cb.NumberParam != "" || cb.Shape != nil {
		problems = append(problems, "a command callback makes no HTTP call: no url, method, headers or request shape")
	}
	if len(c.Lines) == 0 || len(c.Lines) > MaxCommandLines {
		problems = append(problems, fmt.Sprintf("a command callback runs 1 to %d commands", MaxCommandLines))
	}
	for i, l := range c.Lines {
		if strings.TrimSpace(l) == "" || len(l) > MaxCommandLineLen || !utf8.ValidString(l) || strings.ContainsRune(l, 0) {
			problems = append(problems, fmt.Sprintf("command %d must be 1 to %d bytes of text", i+1, MaxCommandLineLen))
		}
	}
	clean := path.Clean(c.Dir)
	if c.Dir == "" || len(c.Dir) > maxCommandDirLen || clean != c.Dir || path.IsAbs(c.Dir) || clean == "." ||
		clean == ".." || strings.HasPrefix(clean, "../") || strings.Trim(c.Dir, commandDirChars) != "" {
		problems = append(problems, fmt.Sprintf("command dir %q must be a clean relative path inside the data directory", clip(c.Dir, 40)))
	}
	if e := c.CounterEnv; e != "" && (len(e) > maxCounterEnvLen || !strings.ContainsRune(environmentVarHead, rune(e[0])) ||
		strings.Trim(e, environmentVarHead+"0123456789") != "") {
		problems = append(problems, fmt.Sprintf("counterEnv %q must be an environment variable name (A-Z, 0-9, _)", clip(e, 40)))
	}
	return problems
}

// HeaderName reports whether k is an HTTP header name: an RFC 9110 token
// (section 5.6.2). Other inputs than callbacks (karajo's config) check
// their header names with it too.
func HeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+.^_`|~-", c) >= 0) {
			return false
		}
	}
	return true
}

// Retry returns what is wrong with a schedule's retry overrides (a zero
// field takes the server's default).
func Retry(r *event.RetryPolicy) []string {
	if r == nil {
		return nil
	}
	var problems []string
	check := func(name string, v, lo, hi int64) {
		if v != 0 && (v < lo || v > hi) {
			problems = append(problems, fmt.Sprintf("retry.%s must be between %d and %d", name, lo, hi))
		}
	}
	check("maxAttempts", int64(r.MaxAttempts), 1, MaxAttempts)
	check("timeoutMs", r.TimeoutMs, 1, MaxTimeoutMs)
	check("initialBackoffMs", r.InitialBackoffMs, 1, 3600000)
	check("maxBackoffMs", r.MaxBackoffMs, 1, 3600000)
	return problems
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// clip shortens s for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
