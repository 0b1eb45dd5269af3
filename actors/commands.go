package actors

import (
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/projections"
)

// Errors the HTTP layer maps to answers. Rejections decided by apply come
// back as the projections package's errors (ErrAppNotFound, ...).
var (
	// ErrUnavailable: no leader could take the write right now (503).
	ErrUnavailable = errkind.New(errkind.Unavailable, "service unavailable: no raft leader")
	// ErrNotLeader: this node cannot take writes; the leader can (503 or forward).
	ErrNotLeader = errkind.New(errkind.Unavailable, "this node is not the leader")
)

// RegisterApp registers an app. Partitions 0 takes the configured default.
type RegisterApp struct {
	AppID      string
	Partitions int
	Active     bool
}

// CreateSchedule creates a one-time schedule (ScheduleTime, unix seconds,
// or ScheduleTimeMs, unix milliseconds, for a sub-second due time) or a
// cron schedule (Cron, already parsed and validated by the caller).
type CreateSchedule struct {
	AppID          string
	Payload        string
	ScheduleTime   int64
	ScheduleTimeMs int64
	Cron           *cronspec.Spec
	Callback       event.Callback
	Retry          *event.RetryPolicy
}

// BulkAction deletes or reconciles an app's schedules in a time range.
type BulkAction struct {
	AppID  string
	Action string
	Status string
	Start  time.Time
	End    time.Time
}

// Messages to app actors. Each carries the channel its answer goes to, so
// the answer can be sent from the goroutine that waits on Raft without
// touching the actor's context.
type (
	registerApp struct {
		RegisterApp
		reply chan<- reply
	}
	setActive struct {
		active bool
		reply  chan<- reply
	}
	createSchedule struct {
		CreateSchedule
		reply    chan<- reply
		caughtUp bool // a follower already caught up with the leader for it
	}
	deleteSchedule struct {
		scheduleID string
		reply      chan<- reply
	}
	bulkAction struct {
		BulkAction
		reply chan<- reply
	}
)

// reply is what an app actor answers: an error, or what the applied event
// did (the record a create wrote, the count a bulk action touched).
type reply struct {
	affected int
	created  *projections.Schedule // a create's record, as apply wrote it
	err      error
}
