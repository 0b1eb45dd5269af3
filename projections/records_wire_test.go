package projections

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/testfill"
)

// roundTrip encodes a filled record in both forms and decodes it back.
func roundTrip[T record](t *testing.T) {
	t.Helper()
	var v T
	n := 0
	testfill.Fill(reflect.ValueOf(&v).Elem(), &n)
	for _, asJSON := range []bool{false, true} {
		b, err := encodeRecord[T](v, asJSON)
		if err != nil {
			t.Fatal(err)
		}
		if (b[0] == '{') != asJSON {
			t.Fatalf("%T: JSON %v but stored as %q", v, asJSON, b[:1])
		}
		got, err := decodeRecord[T](b)
		if err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("%T (JSON %v) changed:\n got %+v\nwant %+v", v, asJSON, got, v)
		}
		again, _ := encodeRecord[T](got, asJSON)
		if !bytes.Equal(again, b) {
			t.Errorf("%T (JSON %v) does not re-encode to its bytes", v, asJSON)
		}
	}
}

// Every field of every record survives both stored forms.
func TestEveryRecordFieldRoundTrips(t *testing.T) {
	roundTrip[App](t)
	roundTrip[Schedule](t)
	roundTrip[Run](t)
	roundTrip[PendingRun](t)
	roundTrip[Node](t)
}

// A record takes the form of the event that writes it, and a store that
// holds both (a log written across an upgrade) reads as one.
func TestRecordsTakeTheFormOfTheirEvent(t *testing.T) {
	w := newWorld(t)
	applyIn := func(v int, p event.Payload) {
		t.Helper()
		ev, err := event.New(p, w.now, "n1")
		if err != nil {
			t.Fatal(err)
		}
		if v == event.SchemaJSON {
			if ev, err = ev.InJSON(); err != nil {
				t.Fatal(err)
			}
		}
		w.seq++
		ev.Seq = w.seq
		b := w.db.NewIndexedBatch()
		defer b.Close()
		if _, err := Apply(b, ev, nil); err != nil {
			t.Fatalf("apply %s v%d: %v", ev.Type, v, err)
		}
		if err := b.Commit(nil); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(key []byte) []byte {
		t.Helper()
		v, closer, err := w.db.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		return append([]byte(nil), v...)
	}
	cb := event.Callback{Type: "http", URL: "http://127.0.0.1:1/", Method: "POST", Headers: map[string]string{"a": "b"}}
	applyIn(1, event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	applyIn(1, event.ScheduleCreated{ScheduleID: "s", AppID: "a", ScheduleTime: 100, Payload: "p", Callback: cb})
	if b := stored(scheduleKey("s")); !json.Valid(b) {
		t.Fatalf("a version 1 event wrote %q", b)
	}
	before, ok, err := w.q().Schedule("s")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	applyIn(2, event.RunFired{ScheduleID: "s", RunID: "s", AppID: "a", ScheduledTime: 100})
	if b := stored(scheduleKey("s")); b[0] != binaryRecord {
		t.Fatalf("a version 2 event wrote %q", b)
	}
	after, ok, err := w.q().Schedule("s")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	before.FiredAt = after.FiredAt
	if !reflect.DeepEqual(before, after) || after.FiredAt == 0 {
		t.Fatalf("the record changed form and content:\nbefore %+v\n after %+v", before, after)
	}
	// The app record is still JSON and still read.
	if b := stored(appKey("a")); !json.Valid(b) {
		t.Fatalf("app record %q", b)
	}
	if app, ok, err := w.q().App("a"); err != nil || !ok || !app.Active {
		t.Fatalf("app %+v %v %v", app, ok, err)
	}
}

// Damaged binary records are errors, never a panic or a quiet zero record.
func TestDamagedRecordsAreErrors(t *testing.T) {
	s := Schedule{ScheduleID: "s", AppID: "a", Status: event.StatusScheduled}
	b, _ := encodeRecord(s, false)
	for cut := 2; cut < len(b); cut++ {
		got, err := decodeRecord[Schedule](b[:cut])
		if err == nil && reflect.DeepEqual(got, s) {
			t.Fatalf("cut at %d decoded to the whole record", cut)
		}
	}
	for _, bad := range [][]byte{nil, {binaryRecord, 0x0a, 9, 'x'}, []byte("{not json")} {
		if _, err := decodeRecord[Schedule](bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}
