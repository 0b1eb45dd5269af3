// Package reconcile keeps an app's schedules equal to the jobs a
// configuration file defines (karajo's, see karajo.go): on the leader, each
// job missing from the state is created, each that differs is updated in
// place (its id, and so its history, stays), and each schedule the file no
// longer defines is deleted. It changes state only through the engine's
// commands, so every change is an event like any other, replicated and in
// the history; a second pass over the same file proposes nothing.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/chronicle-sched/chronicle/actors"
	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/projections"
)

// Job is one schedule the file defines. Its Name is its key between
// loads; everything else is its definition.
type Job struct {
	Name     string
	Cron     *cronspec.Spec
	Payload  string
	Callback event.Callback
	Retry    *event.RetryPolicy
	Labels   map[string]string
	// Options are its job options (counter, overlap, outputs kept,
	// notifications).
	Options event.JobOptions
}

// Engine is what reconciling needs of actors.Engine.
type Engine interface {
	RegisterApp(ctx context.Context, c actors.RegisterApp) (projections.App, error)
	CreateSchedule(ctx context.Context, c actors.CreateSchedule) (projections.Schedule, error)
	UpdateSchedule(ctx context.Context, id string, c actors.ScheduleChange) (projections.Schedule, error)
	DeleteSchedule(ctx context.Context, id string) (projections.Schedule, error)
}

// State is what reconciling reads of the projections.
type State interface {
	App(id string) (projections.App, bool, error)
	Crons(app, status string) ([]projections.Schedule, error)
}

// Reconciler makes App's schedules labelled OwnerLabel equal to Jobs.
// Schedules without that label (made through the APIs) are left alone.
type Reconciler struct {
	App        string
	OwnerLabel string // every Job carries it; its presence marks a schedule as the file's
	Jobs       []Job
	Engine     Engine
	State      State
	Logger     *slog.Logger
}

// Summary counts what one pass changed.
type Summary struct{ Created, Updated, Deleted, Unchanged int }

// Run reconciles until a pass succeeds or ctx ends (the leader's term):
// a pass that fails (a proposal refused while a member upgrades, a lost
// quorum) is tried again, from the state as it then is.
func (r *Reconciler) Run(ctx context.Context) {
	wait := time.Second
	for {
		s, err := r.Once(ctx)
		if err == nil {
			r.Logger.Info("configuration reconciled", "app", r.App, "created", s.Created, "updated", s.Updated,
				"deleted", s.Deleted, "unchanged", s.Unchanged)
			return
		}
		if ctx.Err() != nil {
			return
		}
		r.Logger.Warn("reconciling the configuration failed; retrying", "app", r.App, "err", err, "in", wait)
		if !delivery.Sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// Once makes one pass: the app is registered if missing, then every job
// is created, updated or left, and every schedule of the file no job
// names any more is deleted.
func (r *Reconciler) Once(ctx context.Context) (Summary, error) {
	var s Summary
	ctx = actors.WithActor(ctx, event.ActorSystem)
	if _, ok, err := r.State.App(r.App); err != nil {
		return s, err
	} else if !ok {
		if _, err := r.Engine.RegisterApp(ctx, actors.RegisterApp{AppID: r.App, Partitions: 1, Active: true}); err != nil &&
			!errors.Is(err, projections.ErrAppExists) {
			return s, fmt.Errorf("register app %s: %w", r.App, err)
		}
	}
	crons, err := r.State.Crons(r.App, "")
	if err != nil {
		return s, err
	}
	have := map[string]projections.Schedule{}
	for _, c := range crons {
		if _, owned := c.Labels[r.OwnerLabel]; owned && c.Status != event.StatusDeleted {
			have[c.Name] = c
		}
	}
	for _, j := range r.Jobs {
		cur, exists := have[j.Name]
		delete(have, j.Name)
		switch {
		case exists && !cur.Active():
			// Closed (a calendar that ran out, or a build that could not
			// evaluate it): a new one takes its place.
			if _, err := r.Engine.DeleteSchedule(ctx, cur.ScheduleID); err != nil {
				return s, fmt.Errorf("replace closed %s: %w", j.Name, err)
			}
			fallthrough
		case !exists:
			if _, err := r.Engine.CreateSchedule(ctx, actors.CreateSchedule{AppID: r.App, Payload: j.Payload, Cron: j.Cron,
				Callback: j.Callback, Retry: j.Retry,
				Definition: event.Definition{Name: j.Name, Labels: j.Labels, Job: j.Options.Ref()}}); err != nil {
				return s, fmt.Errorf("create %s: %w", j.Name, err)
			}
			s.Created++
		case !same(cur, j):
			change := actors.ScheduleChange{Payload: &j.Payload, Cron: j.Cron, Callback: &j.Callback, Retry: j.Retry,
				Labels: &j.Labels, Counted: &j.Options.Counted, Overlap: &j.Options.Overlap,
				KeepOutputs: &j.Options.KeepOutputs, NotifyOnSuccess: &j.Options.NotifyOnSuccess,
				NotifyOnFailure: &j.Options.NotifyOnFailure}
			if j.Retry == nil {
				change.Retry = &event.RetryPolicy{}
			}
			if _, err := r.Engine.UpdateSchedule(ctx, cur.ScheduleID, change); err != nil {
				return s, fmt.Errorf("update %s: %w", j.Name, err)
			}
			s.Updated++
		default:
			s.Unchanged++
		}
	}
	for name, cur := range have {
		if _, err := r.Engine.DeleteSchedule(ctx, cur.ScheduleID); err != nil {
			return s, fmt.Errorf("delete %s, which the configuration no longer defines: %w", name, err)
		}
		s.Deleted++
	}
	return s, nil
}

// same reports whether schedule s is job j as defined (empty and absent
// maps alike).
func same(s projections.Schedule, j Job) bool {
	zone := ""
	if loc := j.Cron.Location(); loc != time.UTC {
		zone = loc.String()
	}
	return s.CronExpression == j.Cron.Expression() && s.TimeZone == zone && s.Payload == j.Payload &&
		reflect.DeepEqual(normal(s.Callback), normal(j.Callback)) && reflect.DeepEqual(retryOf(s.Retry), retryOf(j.Retry)) &&
		maps.Equal(s.Labels, j.Labels) && sameJob(s.Jobs(), j.Options)
}

func sameJob(a, b event.JobOptions) bool {
	return a.Counted == b.Counted && a.Overlap == b.Overlap && a.KeepOutputs == b.KeepOutputs &&
		slices.Equal(a.NotifyOnSuccess, b.NotifyOnSuccess) && slices.Equal(a.NotifyOnFailure, b.NotifyOnFailure)
}

func normal(c event.Callback) event.Callback {
	if len(c.Headers) == 0 {
		c.Headers = nil
	}
	if len(c.SecretHeaders) == 0 {
		c.SecretHeaders = nil
	}
	return c
}

func retryOf(r *event.RetryPolicy) event.RetryPolicy {
	if r == nil {
		return event.RetryPolicy{}
	}
	return *r
}
