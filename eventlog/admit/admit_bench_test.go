package admit

import (
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

// What admission costs per event, on the paths that propose the most:
// creates, fires, outcomes.
func BenchmarkEvent(b *testing.B) {
	for name, p := range map[string]event.Payload{
		"ScheduleCreated": create(),
		"RunFired": event.RunFired{ScheduleID: "0193a8b2-7c1e-7000-8000-000000000001", RunID: "0193a8b2-7c1e-7000-8000-000000000001",
			AppID: "mail", Partition: 3, ScheduledTime: at.Unix()},
		"RunCompleted": event.RunCompleted{ScheduleID: "0193a8b2-7c1e-7000-8000-000000000001", RunID: "0193a8b2-7c1e-7000-8000-000000000001",
			AppID: "mail", Partition: 3, ScheduledTime: at.Unix(), Status: event.StatusSuccess, HTTPStatus: 200, Attempts: 1,
			StartedAt: at.UnixMilli(), FinishedAt: at.UnixMilli()},
	} {
		ev, err := event.New(p, at.UnixNano(), "n1")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Event(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
