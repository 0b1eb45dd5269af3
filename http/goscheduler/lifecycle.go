package goscheduler

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/julienschmidt/httprouter"
)

// A schedule's lifecycle after its creation (Chronicle's additions to the
// GoScheduler API): PATCH changes it in place, pause and resume stop and
// restart its firing, trigger runs a cron now.

// patchRequest is PATCH /goscheduler/schedules/{id}: the create request's
// fields, each optional; one left out keeps its value.
type patchRequest struct {
	AppID           *string            `json:"appId"`
	Payload         *string            `json:"payload"`
	ScheduleTime    *int64             `json:"scheduleTime"`
	ScheduleTimeMs  *int64             `json:"scheduleTimeMs"`
	CronExpression  *string            `json:"cronExpression"`
	TimeZone        *string            `json:"timeZone"`
	Callback        *callbackJSON      `json:"callback"`
	HTTPCallback    *detailsJSON       `json:"httpCallback"`
	Retry           *retryJSON         `json:"retry"`
	Name            *string            `json:"name"`
	EndTime         *int64             `json:"endTime"` // 0 removes it
	StopOnCallback  *bool              `json:"stopOnCallback"`
	Labels          *map[string]string `json:"labels"`
	Counted         *bool              `json:"counted"`
	Overlap         *string            `json:"overlap"`
	KeepOutputs     *int               `json:"keepOutputs"`
	NotifyOnSuccess *[]string          `json:"notifyOnSuccess"`
	NotifyOnFailure *[]string          `json:"notifyOnFailure"`
}

func (a *API) updateSchedule(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	var req patchRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	s, err := a.findSchedule(r, ps.ByName("id"), true)
	if err != nil {
		return err
	}
	if s.ParentID != "" {
		return badRequest("%s is a run of cron %s: update the cron", s.ScheduleID, s.ParentID)
	}
	if s.IsCommand() && (req.Callback != nil || req.HTTPCallback != nil) {
		return badRequest("%s runs commands: its callback is defined only in the server's configuration", s.ScheduleID)
	}
	c, errs := a.scheduleChange(req, s.AppID, s.IsCron(), s.CronExpression, s.TimeZone)
	if len(errs) > 0 {
		return badRequest("%s", strings.Join(errs, ","))
	}
	updated, err := a.cmd.UpdateSchedule(r.Context(), s.ScheduleID, c)
	if err != nil {
		return err
	}
	okSchedule(w, http.StatusOK, updated)
	return nil
}

// scheduleChange validates a patch of a schedule of app (a cron, with
// expression expr in zone tz, or a one-time schedule) by the create's
// rules, and returns it as a change, or its problems.
func (a *API) scheduleChange(req patchRequest, app string, cron bool, expr, tz string) (actors.ScheduleChange, []string) {
	var c actors.ScheduleChange
	var errs []string
	if req.AppID != nil && *req.AppID != app {
		errs = append(errs, fmt.Sprintf("appId cannot change (the schedule is %s's)", app))
	}
	if req.Payload != nil {
		if err := admit.PayloadText(*req.Payload); err != nil {
			errs = append(errs, err.Error())
		}
		c.Payload = req.Payload
	}
	cb := req.Callback
	if cb == nil && req.HTTPCallback != nil {
		cb = &callbackJSON{Type: "http", Details: *req.HTTPCallback}
	}
	if cb != nil {
		c.Callback = validateCallback(cb, &errs)
		a.checkURLs(c.Callback, &errs)
	}
	if req.Retry != nil {
		c.Retry = validateRetry(req.Retry, &errs)
		if c.Retry == nil {
			c.Retry = &event.RetryPolicy{}
		}
	}
	switch {
	case cron && (req.ScheduleTime != nil || req.ScheduleTimeMs != nil):
		errs = append(errs, "this is a cron schedule: change its cronExpression, not a scheduleTime")
	case !cron && (req.CronExpression != nil || req.TimeZone != nil):
		errs = append(errs, "this is a one-time schedule: cronExpression and timeZone are for crons")
	case req.ScheduleTimeMs != nil:
		ms := a.validateScheduleTimeMs(*req.ScheduleTimeMs, req.ScheduleTime, app, &errs)
		c.ScheduleTimeMs = &ms
	case req.ScheduleTime != nil:
		t, now := *req.ScheduleTime, a.now().Unix()
		if msg := admit.DueTime("scheduleTime", t); msg != "" {
			errs = append(errs, msg)
		} else if t < now {
			errs = append(errs, fmt.Sprintf("schedule time : %d is less than current time: %d for app: %s. Time cannot be in past.", t, now, app))
		}
		c.ScheduleTime = &t
	case req.CronExpression != nil || req.TimeZone != nil:
		if req.CronExpression != nil {
			expr = strings.TrimSpace(*req.CronExpression)
		}
		if req.TimeZone != nil {
			tz = *req.TimeZone
		}
		spec, err := cronspec.ParseUnion(expr, tz)
		if err != nil {
			errs = append(errs, err.Error())
		}
		c.Cron = spec
	}
	def := event.Definition{}
	if req.Name != nil {
		c.Name, def.Name = req.Name, *req.Name
	}
	if req.EndTime != nil {
		c.EndTime, def.EndTime = req.EndTime, *req.EndTime
		a.futureEndTime(*req.EndTime, &errs)
	}
	if req.StopOnCallback != nil {
		c.StopOnCallback, def.StopOnCallback = req.StopOnCallback, *req.StopOnCallback
	}
	if req.Labels != nil {
		c.Labels, def.Labels = req.Labels, *req.Labels
	}
	// The job options as they would be checked: those given, over zero.
	c.Counted, c.Overlap, c.KeepOutputs = req.Counted, req.Overlap, req.KeepOutputs
	c.NotifyOnSuccess, c.NotifyOnFailure = req.NotifyOnSuccess, req.NotifyOnFailure
	def.Job = c.JobOver(event.JobOptions{}).Ref()
	errs = append(errs, admit.Definition(def, cron)...)
	if c.Payload == nil && c.Callback == nil && c.Retry == nil && c.ScheduleTime == nil && c.ScheduleTimeMs == nil &&
		c.Cron == nil && req.Name == nil && req.EndTime == nil && req.StopOnCallback == nil && req.Labels == nil &&
		req.Counted == nil && req.Overlap == nil && req.KeepOutputs == nil && req.NotifyOnSuccess == nil &&
		req.NotifyOnFailure == nil && len(errs) == 0 {
		errs = append(errs, "nothing to change: give at least one of payload, scheduleTime, scheduleTimeMs, cronExpression, "+
			"timeZone, callback, retry, name, endTime, stopOnCallback, labels")
	}
	return c, errs
}

func (a *API) pauseSchedule(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	return a.lifecycleStep(w, r, ps, a.cmd.PauseSchedule)
}

func (a *API) resumeSchedule(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	return a.lifecycleStep(w, r, ps, a.cmd.ResumeSchedule)
}

// lifecycleStep answers a pause or a resume with the schedule as applied.
func (a *API) lifecycleStep(w http.ResponseWriter, r *http.Request, ps httprouter.Params,
	step func(context.Context, string) (projections.Schedule, error)) error {
	s, err := a.findSchedule(r, ps.ByName("id"), true)
	if err != nil {
		return err
	}
	if s.ParentID != "" {
		return badRequest("%s is a run of cron %s: pause or resume the cron", s.ScheduleID, s.ParentID)
	}
	if s, err = step(r.Context(), s.ScheduleID); err != nil {
		return err
	}
	okSchedule(w, http.StatusOK, s)
	return nil
}

// cancelRun cancels what a schedule is running: a command's processes
// are killed, a call cut short, and the run's outcome is CANCELED.
func (a *API) cancelRun(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.findSchedule(r, ps.ByName("id"), true)
	if err != nil {
		return err
	}
	if s.ParentID != "" {
		return badRequest("%s is a run of cron %s: cancel the cron's run through the cron", s.ScheduleID, s.ParentID)
	}
	runIDs, err := a.cmd.CancelRun(r.Context(), s.ScheduleID)
	if err != nil {
		return err
	}
	ok(w, http.StatusOK, len(runIDs), map[string]any{"scheduleId": s.ScheduleID, "runIds": runIDs})
	return nil
}

// runOutput answers what a run's commands wrote (kept for a command
// schedule's keepOutputs newest runs).
func (a *API) runOutput(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.findSchedule(r, ps.ByName("id"), false)
	if err != nil {
		return err
	}
	out, cut, found, err := a.q.RunOutput(s.ScheduleID)
	if err != nil {
		return err
	}
	if !found {
		return notFound("run %s has no output kept: only a command's runs have one, once finished, and only its schedule's keepOutputs newest keep it", s.ScheduleID)
	}
	ok(w, http.StatusOK, 1, map[string]any{"runId": s.ScheduleID, "output": strings.ToValidUTF8(string(out), "\uFFFD"), "cut": cut})
	return nil
}

// triggerRun fires a run of a cron now: body statusCode 201, as for a
// creation, with the run's id.
func (a *API) triggerRun(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	s, err := a.findSchedule(r, ps.ByName("id"), true)
	if err != nil {
		return err
	}
	if s.ParentID != "" {
		return badRequest("%s is a run of cron %s: trigger the cron", s.ScheduleID, s.ParentID)
	}
	runID, err := a.cmd.TriggerRun(r.Context(), s.ScheduleID)
	if err != nil {
		return err
	}
	ok(w, http.StatusCreated, 1, map[string]string{"runId": runID, "scheduleId": s.ScheduleID})
	return nil
}
