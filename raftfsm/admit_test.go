package raftfsm

import (
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

// A leader whose cluster does not read JobsSince yet refuses a schedule
// that uses its fields (a shaped callback, a union of crons) even from a
// caller that skipped the engine's check, and proposes the same schedule
// without them.
func TestProposerRefusesFieldsNotEveryMemberReads(t *testing.T) {
	now := time.Now()
	next := (now.Unix()/60 + 1) * 60
	base := event.ScheduleCreated{ScheduleID: "s1", AppID: "app", Payload: "",
		CronExpression: "0 * * * * *", NextRunTime: next,
		Callback: event.Callback{Type: "http", URL: "https://example.com/hook", Method: "POST"}}
	shaped := base
	shaped.Callback.Shape = &event.RequestShape{TimeParam: "_karajo_epoch", Params: event.ParamsJSON}
	union := base
	union.ScheduleID, union.CronExpression = "s2", "0 * * * * *; 30 * * * * *"

	var evs []event.Event
	for _, p := range []event.Payload{base, shaped, union} {
		ev, err := event.New(p, now.UnixNano(), "n1")
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	admitted, refused := admitEvents(evs, event.LifecycleSince)
	if len(admitted) != 1 || refused == nil || refused[0].Err != nil {
		t.Fatalf("admitted %d, refused %v: want the plain schedule only", len(admitted), refused)
	}
	for i := 1; i < 3; i++ {
		if err := refused[i].Err; err == nil || !strings.Contains(err.Error(), "not read in full by every member") {
			t.Errorf("event %d: %v, want a refusal naming the members", i, err)
		}
	}
	if admitted, refused := admitEvents(evs, event.JobsSince); len(admitted) != 3 || refused != nil {
		t.Fatalf("with every member reading JobsSince: admitted %d, refused %v", len(admitted), refused)
	}
}
