package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Apps.

// RegisterApp registers an app; 409 (Code 4002) if it exists.
func (c *Client) RegisterApp(ctx context.Context, req RegisterAppRequest) (App, error) {
	var app App
	if err := c.native(ctx, http.MethodPost, "/goscheduler/apps", nil, req, &app); err != nil {
		return App{}, fmt.Errorf("register app %s: %w", req.AppID, err)
	}
	return app, nil
}

// Apps lists the apps the token may see, or only appID if it is not
// empty (404, Code 4001, if it is not registered).
func (c *Client) Apps(ctx context.Context, appID string) (AppList, error) {
	var q url.Values
	if appID != "" {
		q = url.Values{"app_id": {appID}}
	}
	var list AppList
	if err := c.native(ctx, http.MethodGet, "/goscheduler/apps", q, nil, &list); err != nil {
		return AppList{}, fmt.Errorf("list apps: %w", err)
	}
	return list, nil
}

// ActivateApp lets an app's schedules be created and fire again.
func (c *Client) ActivateApp(ctx context.Context, appID string) (AppActivation, error) {
	return c.setActive(ctx, appID, "activate")
}

// DeactivateApp stops an app: no creates, no firing, until activated.
func (c *Client) DeactivateApp(ctx context.Context, appID string) (AppActivation, error) {
	return c.setActive(ctx, appID, "deactivate")
}

func (c *Client) setActive(ctx context.Context, appID, verb string) (AppActivation, error) {
	var out AppActivation
	if err := c.native(ctx, http.MethodPost, "/goscheduler/apps/"+seg(appID)+"/"+verb, nil, nil, &out); err != nil {
		return AppActivation{}, fmt.Errorf("%s app %s: %w", verb, appID, err)
	}
	return out, nil
}

// SigningSecret is an app's callback signing secret (Standard Webhooks,
// "whsec_..."): a credential, shown to writers and admins of the app only.
type SigningSecret struct {
	Secret string `json:"secret"`
	// PreviousValidUntil: after a rotation, callbacks are also signed with
	// the previous secret until then (RFC 3339).
	PreviousValidUntil string `json:"previousValidUntil,omitempty"`
}

// AppSigningSecret is the secret receivers of appID's callbacks verify
// their signatures with.
func (c *Client) AppSigningSecret(ctx context.Context, appID string) (SigningSecret, error) {
	var out SigningSecret
	if err := c.native(ctx, http.MethodGet, "/goscheduler/apps/"+seg(appID)+"/signing-secret", nil, nil, &out); err != nil {
		return SigningSecret{}, fmt.Errorf("signing secret of app %s: %w", appID, err)
	}
	return out, nil
}

// RotateSigningSecret gives appID a new signing secret; the previous one
// still signs its callbacks for the server's grace period.
func (c *Client) RotateSigningSecret(ctx context.Context, appID string) (SigningSecret, error) {
	var out SigningSecret
	if err := c.native(ctx, http.MethodPost, "/goscheduler/apps/"+seg(appID)+"/signing-secret/rotate", nil, nil, &out); err != nil {
		return SigningSecret{}, fmt.Errorf("rotate the signing secret of app %s: %w", appID, err)
	}
	return out, nil
}

// BulkActionQuery selects the schedules a bulk action applies to: those
// due in [Start, End] (at most 30 days apart), in Status if not empty.
type BulkActionQuery struct {
	Start, End time.Time
	Status     string
}

// BulkActionResult says what a bulk action did.
type BulkActionResult struct {
	Action   string `json:"action"`
	Affected int    `json:"affected"`
}

// BulkAction deletes ("delete") or fires again ("reconcile") the matching
// schedules of appID, in one event.
func (c *Client) BulkAction(ctx context.Context, appID, action string, q BulkActionQuery) (BulkActionResult, error) {
	v := url.Values{
		"start_time": {q.Start.UTC().Format(time.RFC3339)},
		"end_time":   {q.End.UTC().Format(time.RFC3339)},
	}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	var out BulkActionResult
	if err := c.native(ctx, http.MethodPost, "/goscheduler/apps/"+seg(appID)+"/bulk-action/"+seg(action), v, nil, &out); err != nil {
		return BulkActionResult{}, fmt.Errorf("%s the schedules of app %s: %w", action, appID, err)
	}
	return out, nil
}

// AppSchedulesQuery selects an app's schedules (one-time schedules and
// cron runs) by due time. Start and End are required by the server, at
// most 30 days apart.
type AppSchedulesQuery struct {
	Start, End time.Time
	Status     string // SCHEDULED, SUCCESS, ...; empty: any
	Size       int    // 0: the server's default (100); at most 1000
	// ContinuationToken is the previous page's, for the next page.
	ContinuationToken string
}

// AppSchedules lists a page of an app's schedules due in a time range.
func (c *Client) AppSchedules(ctx context.Context, appID string, q AppSchedulesQuery) (SchedulePage, error) {
	v := url.Values{
		// RFC 3339, which the server reads as well as its own layout,
		// keeps the zone explicit.
		"start_time": {q.Start.UTC().Format(time.RFC3339)},
		"end_time":   {q.End.UTC().Format(time.RFC3339)},
	}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if q.Size != 0 {
		v.Set("size", strconv.Itoa(q.Size))
	}
	if q.ContinuationToken != "" {
		v.Set("continuationToken", q.ContinuationToken)
	}
	var page SchedulePage
	if err := c.native(ctx, http.MethodGet, "/goscheduler/apps/"+seg(appID)+"/schedules", v, nil, &page); err != nil {
		return SchedulePage{}, fmt.Errorf("schedules of app %s: %w", appID, err)
	}
	return page, nil
}

// Crons lists cron definitions, of one app (appID not empty) and in one
// status (not empty). None is a 404 ("No cron schedules found").
func (c *Client) Crons(ctx context.Context, appID, status string) ([]Schedule, error) {
	v := url.Values{}
	if appID != "" {
		v.Set("app_id", appID)
	}
	if status != "" {
		v.Set("status", status)
	}
	var list []Schedule
	if err := c.native(ctx, http.MethodGet, "/goscheduler/crons/schedules", v, nil, &list); err != nil {
		return nil, fmt.Errorf("list crons: %w", err)
	}
	return list, nil
}

// Schedules.

// scheduleData is the data of every answer that is one schedule.
type scheduleData struct {
	Schedule Schedule `json:"schedule"`
}

// CreateSchedule creates a one-time schedule or a cron. A create that got
// no answer may or may not have happened: read (by name) before creating
// again, or a retry may create twice.
func (c *Client) CreateSchedule(ctx context.Context, req CreateScheduleRequest) (Schedule, error) {
	var d scheduleData
	if err := c.native(ctx, http.MethodPost, "/goscheduler/schedules", nil, req, &d); err != nil {
		return Schedule{}, fmt.Errorf("create schedule of app %s: %w", req.AppID, err)
	}
	return d.Schedule, nil
}

// ReadOption changes how a read is served.
type ReadOption func(url.Values)

// Linearizable makes a read see every write the cluster acknowledged
// before it (a quorum round trip; 503 on a node cut off from the quorum).
// Without it a node answers from its own projections, which may lag the
// leader's by the replication delay.
func Linearizable() ReadOption { return func(v url.Values) { v.Set("consistency", "linearizable") } }

// Schedule reads a schedule, a cron or a cron's run by id.
func (c *Client) Schedule(ctx context.Context, id string, opts ...ReadOption) (Schedule, error) {
	v := url.Values{}
	for _, o := range opts {
		o(v)
	}
	var d scheduleData
	if err := c.native(ctx, http.MethodGet, "/goscheduler/schedules/"+seg(id), v, nil, &d); err != nil {
		return Schedule{}, fmt.Errorf("get schedule %s: %w", id, err)
	}
	return d.Schedule, nil
}

// UpdateSchedule changes a schedule in place and returns it as applied.
func (c *Client) UpdateSchedule(ctx context.Context, id string, req UpdateScheduleRequest) (Schedule, error) {
	return c.scheduleStep(ctx, http.MethodPatch, id, "", req, "update")
}

// Pause stops a schedule from firing until Resume (409 if it is paused).
func (c *Client) Pause(ctx context.Context, id string) (Schedule, error) {
	return c.scheduleStep(ctx, http.MethodPost, id, "/pause", nil, "pause")
}

// Resume lets a paused schedule fire again: a cron from its next
// occurrence after now, never the ones missed while paused.
func (c *Client) Resume(ctx context.Context, id string) (Schedule, error) {
	return c.scheduleStep(ctx, http.MethodPost, id, "/resume", nil, "resume")
}

// Delete deletes a schedule (a cron with its future runs) and returns it.
func (c *Client) Delete(ctx context.Context, id string) (Schedule, error) {
	return c.scheduleStep(ctx, http.MethodDelete, id, "", nil, "delete")
}

func (c *Client) scheduleStep(ctx context.Context, method, id, suffix string, body any, what string) (Schedule, error) {
	var d scheduleData
	if err := c.native(ctx, method, "/goscheduler/schedules/"+seg(id)+suffix, nil, body, &d); err != nil {
		return Schedule{}, fmt.Errorf("%s schedule %s: %w", what, id, err)
	}
	return d.Schedule, nil
}

// Trigger runs a cron now, outside its occurrences, under a run id of its
// own (a one-time schedule cannot be triggered: 400).
func (c *Client) Trigger(ctx context.Context, id string) (TriggerResult, error) {
	var out TriggerResult
	if err := c.native(ctx, http.MethodPost, "/goscheduler/schedules/"+seg(id)+"/trigger", nil, nil, &out); err != nil {
		return TriggerResult{}, fmt.Errorf("trigger schedule %s: %w", id, err)
	}
	return out, nil
}

// Cancel cuts short what a schedule is running now (a call in flight, a
// command's processes); the runs are recorded CANCELED.
func (c *Client) Cancel(ctx context.Context, id string) (CancelResult, error) {
	var out CancelResult
	if err := c.native(ctx, http.MethodPost, "/goscheduler/schedules/"+seg(id)+"/cancel", nil, nil, &out); err != nil {
		return CancelResult{}, fmt.Errorf("cancel schedule %s: %w", id, err)
	}
	return out, nil
}

// Output returns what command run runID wrote (kept for its schedule's
// newest runs).
func (c *Client) Output(ctx context.Context, runID string) (RunOutput, error) {
	var out RunOutput
	if err := c.native(ctx, http.MethodGet, "/goscheduler/schedules/"+seg(runID)+"/output", nil, nil, &out); err != nil {
		return RunOutput{}, fmt.Errorf("output of run %s: %w", runID, err)
	}
	return out, nil
}

// RunsQuery selects a page of a schedule's runs.
type RunsQuery struct {
	// When is "past" (the default: runs fired, newest first) or "future"
	// (a cron's coming occurrences, computed).
	When              string
	Size              int // 0: the server's default (10); at most 1000
	ContinuationToken string
}

// Runs lists a page of a schedule's runs. None is a 404 ("No runs found
// for schedule with id ...").
func (c *Client) Runs(ctx context.Context, id string, q RunsQuery) (SchedulePage, error) {
	v := url.Values{}
	if q.When != "" {
		v.Set("when", q.When)
	}
	if q.Size != 0 {
		v.Set("size", strconv.Itoa(q.Size))
	}
	if q.ContinuationToken != "" {
		v.Set("continuationToken", q.ContinuationToken)
	}
	var page SchedulePage
	if err := c.native(ctx, http.MethodGet, "/goscheduler/schedules/"+seg(id)+"/runs", v, nil, &page); err != nil {
		return SchedulePage{}, fmt.Errorf("runs of schedule %s: %w", id, err)
	}
	return page, nil
}

// EventsQuery pages a history by event seq.
type EventsQuery struct {
	After uint64 // events with a greater seq; 0: from the start
	Size  int    // 0: the server's default (100); at most 1000
}

func (q EventsQuery) values() url.Values {
	v := url.Values{}
	if q.After != 0 {
		v.Set("after", strconv.FormatUint(q.After, 10))
	}
	if q.Size != 0 {
		v.Set("size", strconv.Itoa(q.Size))
	}
	return v
}

// ScheduleEvents reads a page of a schedule's history (a cron's includes
// its runs'; a run's id gives that run's events).
func (c *Client) ScheduleEvents(ctx context.Context, id string, q EventsQuery) (EventPage, error) {
	var page EventPage
	if err := c.native(ctx, http.MethodGet, "/goscheduler/schedules/"+seg(id)+"/events", q.values(), nil, &page); err != nil {
		return EventPage{}, fmt.Errorf("events of schedule %s: %w", id, err)
	}
	return page, nil
}

// AppEvents reads a page of an app's history: its registration,
// activations and every event of its schedules.
func (c *Client) AppEvents(ctx context.Context, appID string, q EventsQuery) (EventPage, error) {
	var page EventPage
	if err := c.native(ctx, http.MethodGet, "/goscheduler/apps/"+seg(appID)+"/events", q.values(), nil, &page); err != nil {
		return EventPage{}, fmt.Errorf("events of app %s: %w", appID, err)
	}
	return page, nil
}

// Cluster.

// ClusterStatus is the answering node's view of the cluster, with every
// member's API probed from it.
func (c *Client) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	var st ClusterStatus
	if err := c.plain(ctx, http.MethodGet, "/cluster", nil, nil, &st); err != nil {
		return ClusterStatus{}, fmt.Errorf("cluster status: %w", err)
	}
	return st, nil
}

// AddMember adds a member (admin). A voter the quorum cannot count on yet
// is added as a non-voter and promoted once it catches up; if it does not
// come up in time the answer is 409 and it stays a non-voter. Returns the
// cluster as it is after the change.
func (c *Client) AddMember(ctx context.Context, req AddMemberRequest) (ClusterStatus, error) {
	var st ClusterStatus
	if err := c.plain(ctx, http.MethodPost, "/cluster/members", nil, req, &st); err != nil {
		return ClusterStatus{}, fmt.Errorf("add member %s: %w", req.ID, err)
	}
	return st, nil
}

// RemoveMember removes a member (admin); a removal that would lose the
// quorum is refused (409) unless force.
func (c *Client) RemoveMember(ctx context.Context, id string, force bool) (ClusterStatus, error) {
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	var st ClusterStatus
	if err := c.plain(ctx, http.MethodDelete, "/cluster/members/"+seg(id), q, nil, &st); err != nil {
		return ClusterStatus{}, fmt.Errorf("remove member %s: %w", id, err)
	}
	return st, nil
}

// TransferLeadership asks the leader to hand leadership to the member id
// ("": any up-to-date voter) (admin).
func (c *Client) TransferLeadership(ctx context.Context, id string) (ClusterStatus, error) {
	var body any
	if id != "" {
		body = struct {
			ID string `json:"id"`
		}{id}
	}
	var st ClusterStatus
	if err := c.plain(ctx, http.MethodPost, "/cluster/leadership-transfer", nil, body, &st); err != nil {
		if id == "" {
			id = "any voter"
		}
		return ClusterStatus{}, fmt.Errorf("transfer leadership to %s: %w", id, err)
	}
	return st, nil
}

// Tokens (admin).

// CreateToken issues a token. Its secret is in the answer only: the
// server keeps its hash.
func (c *Client) CreateToken(ctx context.Context, req CreateTokenRequest) (IssuedToken, error) {
	var out IssuedToken
	if err := c.plain(ctx, http.MethodPost, "/auth/tokens", nil, req, &out); err != nil {
		return IssuedToken{}, fmt.Errorf("create token %q: %w", req.Name, err)
	}
	if out.ID == "" || out.Token == "" {
		return IssuedToken{}, errors.New("create token: the answer holds no id or token")
	}
	return out, nil
}

// Tokens lists the issued tokens, revoked ones included.
func (c *Client) Tokens(ctx context.Context) ([]Token, error) {
	var out TokenList
	if err := c.plain(ctx, http.MethodGet, "/auth/tokens", nil, nil, &out); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out.Tokens, nil
}

// RevokeToken revokes a token on every node (within milliseconds on the
// others).
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	if err := c.plain(ctx, http.MethodDelete, "/auth/tokens/"+seg(id), nil, nil, nil); err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	return nil
}

// Healthy returns nil if the node can serve: it has a leader and has
// applied what the leader had committed. Otherwise an *APIError (503,
// with the reason) or the transport's error.
func (c *Client) Healthy(ctx context.Context) error {
	if err := c.plain(ctx, http.MethodGet, "/goscheduler/healthcheck", nil, nil, nil); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	return nil
}

// JobsQuery selects a page of a workflow schedule's jobs, newest first.
type JobsQuery struct {
	Size   int // 0: the server's default (100); at most 1000
	Offset int // jobs skipped
}

// Jobs lists a page of workflow schedule id's jobs, newest first.
func (c *Client) Jobs(ctx context.Context, id string, q JobsQuery) (JobList, error) {
	v := url.Values{}
	if q.Size != 0 {
		v.Set("size", strconv.Itoa(q.Size))
	}
	if q.Offset != 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	raw, err := c.do(ctx, http.MethodGet, "/goscheduler/schedules/"+seg(id)+"/jobs", v, nil)
	if err != nil {
		return JobList{}, fmt.Errorf("jobs of schedule %s: %w", id, err)
	}
	var env struct {
		Status status  `json:"status"`
		Data   JobList `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return JobList{}, fmt.Errorf("jobs of schedule %s: decode the answer: %w", id, err)
	}
	if env.Status.TotalCount != nil {
		env.Data.Total = *env.Status.TotalCount
	}
	return env.Data, nil
}

// RunJob creates a job of workflow schedule id now; it waits its turn
// (a 409 *APIError when one waits already).
func (c *Client) RunJob(ctx context.Context, id string, req RunJobRequest) (Job, error) {
	var out Job
	if err := c.native(ctx, http.MethodPost, "/goscheduler/schedules/"+seg(id)+"/jobs", nil, req, &out); err != nil {
		return Job{}, fmt.Errorf("run a job of schedule %s: %w", id, err)
	}
	return out, nil
}

// Job returns workflow job id with each task's outcome.
func (c *Client) Job(ctx context.Context, id uint64) (Job, error) {
	var out Job
	if err := c.native(ctx, http.MethodGet, "/goscheduler/jobs/"+strconv.FormatUint(id, 10), nil, nil, &out); err != nil {
		return Job{}, fmt.Errorf("job %d: %w", id, err)
	}
	return out, nil
}

// CancelJob cancels job id, which must be waiting (a 409 *APIError
// otherwise).
func (c *Client) CancelJob(ctx context.Context, id uint64) (Job, error) {
	var out Job
	if err := c.native(ctx, http.MethodDelete, "/goscheduler/jobs/"+strconv.FormatUint(id, 10), nil, nil, &out); err != nil {
		return Job{}, fmt.Errorf("cancel job %d: %w", id, err)
	}
	return out, nil
}
