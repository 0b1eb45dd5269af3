package raftfsm

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

func sampleEvents(t testing.TB) []event.Event {
	t.Helper()
	var evs []event.Event
	for _, p := range []event.Payload{
		event.AppRegistered{AppID: "billing", Partitions: 4, Active: true},
		event.ScheduleCreated{ScheduleID: "s-1", AppID: "billing", Partition: 3, Payload: "ünïcode \"quoted\"",
			ScheduleTime: 1_900_000_000, Callback: event.Callback{Type: "http", URL: "http://127.0.0.1:1/cb", Method: "POST"}},
	} {
		ev, err := event.New(p, -5, "node-é")
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// A command encoded now decodes to the events proposed, field for field:
// in format 3 with each event's actor, in format 2 (what a leader writes
// while a member of an older build cannot read format 3) without.
func TestCommandRoundTrip(t *testing.T) {
	evs := sampleEvents(t)
	evs[0].Actor = "tok_0193"
	for _, c := range []struct {
		actors bool
		format byte
	}{{true, formatActors}, {false, formatBinary}} {
		b, err := encodeCommand(evs, c.actors)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != c.format {
			t.Fatalf("format byte %d, want %d", b[0], c.format)
		}
		got, err := decodeCommand(b)
		if err != nil {
			t.Fatal(err)
		}
		want := append([]event.Event(nil), evs...)
		if !c.actors {
			want[0].Actor = ""
		}
		if !reflect.DeepEqual(got.Events, want) {
			t.Fatalf("format %d: round trip changed the events:\n got %+v\nwant %+v", c.format, got.Events, want)
		}
	}
}

// Entries written by builds that encoded commands as JSON (format 1) still
// decode: a node replays its whole Raft log tail on start.
func TestCommandDecodesTheJSONFormat(t *testing.T) {
	// Those builds wrote schema version 1 events: JSON payloads.
	evs := sampleEvents(t)
	for i := range evs {
		var err error
		if evs[i], err = evs[i].InJSON(); err != nil {
			t.Fatal(err)
		}
	}
	js, err := json.Marshal(command{Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeCommand(append([]byte{formatJSON}, js...))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 2 || got.Events[1].Node != "node-é" || got.Events[1].Time != -5 ||
		!bytes.Equal(got.Events[1].Data, evs[1].Data) {
		t.Fatalf("decoded %+v", got.Events)
	}
}

// A damaged entry is an error naming the problem, never a panic or a
// silently shorter command.
func TestCommandRejectsDamagedEntries(t *testing.T) {
	b, err := encodeCommand(sampleEvents(t), true)
	if err != nil {
		t.Fatal(err)
	}
	for cut := 1; cut < len(b); cut++ {
		if _, err := decodeCommand(b[:cut]); err == nil {
			t.Fatalf("entry cut to %d of %d bytes decoded without error", cut, len(b))
		}
	}
	if _, err := decodeCommand(append(append([]byte{}, b...), 0)); err == nil || !strings.Contains(err.Error(), "after the last event") {
		t.Fatalf("trailing byte: %v", err)
	}
	if _, err := decodeCommand([]byte{9, 1}); err == nil || !strings.Contains(err.Error(), "unknown format byte 9") {
		t.Fatalf("unknown format: %v", err)
	}
	if _, err := decodeCommand([]byte{formatBinary, 0xff, 0xff, 0xff, 0x7f}); err == nil {
		t.Fatal("a count larger than the entry decoded")
	}
}

func FuzzDecodeCommand(f *testing.F) {
	b, err := encodeCommand(sampleEvents(f), true)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{formatJSON, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCommand(data)
		if err != nil || len(data) == 0 || data[0] != formatBinary {
			return
		}
		again, err := encodeCommand(c.Events, true)
		if err != nil {
			t.Fatalf("decoded command does not encode: %v", err)
		}
		// Varints have more than one spelling, so compare what they mean.
		back, err := decodeCommand(again)
		if err != nil || !reflect.DeepEqual(back.Events, c.Events) {
			t.Fatalf("decode/encode/decode changed the command: %v\n in %+v\nout %+v", err, c.Events, back.Events)
		}
	})
}
