package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// FuzzForwardedBatch drives the leader's forwarding endpoint and a real
// FSM together: whatever the endpoint takes, apply must take without
// panicking (a panic there stops every node, on every restart). `go test`
// runs the seeds below; `make fuzz` explores from them.
func FuzzForwardedBatch(f *testing.F) {
	f.Add(batch(f, create("s1")))
	f.Add(batch(f, create("s1"), create("s2"), create("s1")))
	cron := create("c1")
	cron.ScheduleTime, cron.CronExpression, cron.NextRunTime = 0, "* * * * * *", time.Now().Unix()+1
	f.Add(batch(f, cron))
	ms := create("m1")
	ms.ScheduleTimeMs = ms.ScheduleTime*1000 + 250
	f.Add(batch(f, ms))
	f.Add(batch(f, event.RunFired{ScheduleID: "s1", RunID: "s1", AppID: "mail"}))
	poison, _ := raftfsm.EncodeCommand([]event.Event{{V: 2, Type: event.TypeScheduleCreated, Time: 1, Node: "n", Data: []byte{0xff}}}, true)
	f.Add(poison)
	v1, _ := event.New(create("j1"), time.Now().UnixNano(), "old")
	v1, _ = v1.InJSON()
	jsonCmd, _ := raftfsm.EncodeCommand([]event.Event{v1}, true)
	f.Add(jsonCmd)
	f.Add([]byte{1, '{', '}'})
	f.Add([]byte(`{"events":[{"v":1,"type":4,"time":1,"node":"x","data":{"scheduleId":"x"}}]}`))
	f.Add(batch(f, event.ScheduleCreated{ScheduleID: "..", AppID: "mail", Payload: strings.Repeat("é", 10)}))
	f.Add([]byte{})

	l := newFSMLeader(f)
	svc := newService(l)
	f.Fuzz(func(t *testing.T, body []byte) {
		applied := l.AppliedIndex()
		if _, err := svc.Take(body, protocolVersion); err != nil && l.AppliedIndex() != applied {
			t.Fatalf("a refused batch was proposed: %v", err)
		}
	})
}
