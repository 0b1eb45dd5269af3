package event

import (
	"strings"
	"testing"
)

func TestEnvelopeRoundTripAndStrictDecode(t *testing.T) {
	ev, err := New(ScheduleCreated{ScheduleID: "s1", AppID: "a", ScheduleTime: 100,
		Callback: Callback{Type: "http", URL: "http://x/", Method: "GET"}}, 42, "node1")
	if err != nil {
		t.Fatal(err)
	}
	ev.Seq, ev.Term, ev.Index = 7, 2, 9
	b, err := Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	p, err := got.Payload()
	if err != nil {
		t.Fatal(err)
	}
	sc := p.(*ScheduleCreated)
	if got.V != SchemaVersion || got.Seq != 7 || got.Time != 42 || got.Node != "node1" || sc.ScheduleID != "s1" || sc.IsCron() {
		t.Fatalf("round trip: %+v %+v", got, sc)
	}
	for _, c := range []struct{ raw, msg string }{
		{`{"v":2,"seq":1,"type":1,"data":{}}`, "unsupported schema version 2"},
		{`{"v":0,"seq":1,"type":1,"data":{}}`, "unsupported schema version 0"},
		{`{"v":1,"seq":1,"type":999,"data":{}}`, "unknown type 999"},
		{`{"v":1,`, "decode event envelope"},
	} {
		if _, err := Decode([]byte(c.raw)); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Decode(%s) = %v, want %q", c.raw, err, c.msg)
		}
	}
	bad := Event{V: 1, Type: TypeRunFired, Data: []byte(`{"scheduledTime":"soon"}`)}
	if _, err := bad.Payload(); err == nil {
		t.Fatal("a payload of the wrong shape decoded")
	}
}

// The numbers are stored in every log: this pins them.
func TestTypeNumbersNeverChange(t *testing.T) {
	want := map[Type]string{1: "AppRegistered", 2: "AppActivated", 3: "AppDeactivated", 4: "ScheduleCreated",
		5: "ScheduleDeleted", 6: "RunFired", 7: "RunCompleted", 8: "BulkAction", 9: "NodeAnnounced"}
	for n, name := range want {
		if n.String() != name {
			t.Errorf("type %d is %s, was %s: renumbering breaks every stored log", n, n, name)
		}
	}
	if len(typeNames) < len(want) {
		t.Errorf("a type was removed")
	}
}

// Run ids are how receivers de-duplicate: they must never change.
func TestRunIDsAreStable(t *testing.T) {
	a := CronRunID("167233ef-1fce-11ee-ba66-0242ac120004", 1689071760)
	if a != CronRunID("167233ef-1fce-11ee-ba66-0242ac120004", 1689071760) {
		t.Fatal("not deterministic")
	}
	if a != "6633fb72-a9c4-5830-8d98-d72fd30eaa22" {
		t.Fatalf("CronRunID changed: %s", a)
	}
	if a == CronRunID("167233ef-1fce-11ee-ba66-0242ac120004", 1689071761) {
		t.Fatal("different occurrences share a run id")
	}
	if got := ReconcileRunID("s1", 2); got != "s1.r2" {
		t.Fatalf("reconcile id %s", got)
	}
}
