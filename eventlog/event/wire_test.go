package event

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/chronicle-sched/chronicle/internal/testfill"
)

// Every field of every payload survives the binary form, and its JSON
// rendering (what the APIs show) is the JSON form's.
func TestEveryPayloadFieldRoundTrips(t *testing.T) {
	n := 0
	for typ := TypeAppRegistered; typ <= TypeEventsCompacted; typ++ {
		p := payloadKinds[typ].new()
		testfill.Fill(reflect.ValueOf(p).Elem(), &n)
		ev, err := New(p, 1, "n1")
		if err != nil {
			t.Fatal(err)
		}
		ev.Seq, ev.Term, ev.Index = 11, 12, 13
		stored, err := Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(stored)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		got, err := back.Payload()
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("%s changed in the binary form:\n got %+v\nwant %+v", typ, got, p)
		}
		again, _ := Encode(back)
		if !bytes.Equal(again, stored) {
			t.Errorf("%s does not re-encode to its stored bytes", typ)
		}
	}
}

// A retry policy's RetryOn4xx: absent, false and true are three answers.
func TestRetryOn4xxKeepsFalseApartFromAbsent(t *testing.T) {
	no := false
	for _, r := range []*RetryPolicy{nil, {}, {RetryOn4xx: &no}, {MaxAttempts: 3}} {
		ev, err := New(ScheduleCreated{ScheduleID: "s", Retry: r}, 1, "n")
		if err != nil {
			t.Fatal(err)
		}
		p, err := ev.Payload()
		if err != nil {
			t.Fatal(err)
		}
		if got := p.(*ScheduleCreated).Retry; !reflect.DeepEqual(got, r) {
			t.Errorf("retry %+v came back as %+v", r, got)
		}
	}
}

// A map is written in key order, so equal payloads are equal bytes.
func TestHeadersEncodeInKeyOrder(t *testing.T) {
	h := map[string]string{}
	for _, k := range []string{"z", "a", "m", "b", "y", "c"} {
		h[k] = k
	}
	first, _ := New(ScheduleCreated{Callback: Callback{Headers: h}}, 1, "n")
	for i := 0; i < 20; i++ {
		again, _ := New(ScheduleCreated{Callback: Callback{Headers: h}}, 1, "n")
		if !bytes.Equal(again.Data, first.Data) {
			t.Fatal("the same headers encoded to different bytes")
		}
	}
}

// Damaged binary events are errors naming the problem, never a panic or
// a quietly different event.
func TestBinaryDecodeRejectsDamage(t *testing.T) {
	ev, err := New(RunFired{ScheduleID: "s", RunID: "r", AppID: "a", ScheduledTime: 5}, 1, "n")
	if err != nil {
		t.Fatal(err)
	}
	ev.Seq = 3
	stored, _ := Encode(ev)
	for cut := 1; cut < len(stored); cut++ {
		back, err := Decode(stored[:cut])
		if err != nil {
			continue
		}
		// A cut at a field boundary is a valid shorter envelope; its
		// payload must then fail or differ visibly, never equal the whole.
		if p, err := back.Payload(); err == nil && reflect.DeepEqual(back, ev) && p != nil {
			t.Fatalf("cut at %d decoded to the whole event", cut)
		}
	}
	for _, c := range []struct {
		raw []byte
		msg string
	}{
		{[]byte{3, 8, 1}, "unsupported schema version 3"},
		{[]byte{2, 0x10, 99}, "unknown type 99"},
		{[]byte{2, 0x12, 1, 'x'}, "wire type 2, want 0"}, // type as bytes
		{[]byte{2, 0x08}, "decode event envelope"},       // seq with no value
		{nil, "empty"},
	} {
		if _, err := Decode(c.raw); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Decode(%x) = %v, want %q", c.raw, err, c.msg)
		}
	}
	bad := Event{V: 2, Type: TypeRunFired, Data: []byte{0x22, 5, 'a'}} // runId longer than the data
	if _, err := bad.Payload(); err == nil {
		t.Fatal("a truncated payload decoded")
	}
	big := Event{V: 2, Type: TypeRunFired, Data: []byte{0x20, 0x80, 0x80, 0x80, 0x80, 0x20}} // partition 2^33
	if _, err := big.Payload(); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("an out-of-range partition decoded: %v", err)
	}
}

// FuzzDecode: whatever the bytes, Decode and Payload return an error or an
// event that re-encodes to a form that decodes to the same event.
func FuzzDecode(f *testing.F) {
	for typ := TypeAppRegistered; typ <= TypeEventsCompacted; typ++ {
		p := payloadKinds[typ].new()
		n := 0
		testfill.Fill(reflect.ValueOf(p).Elem(), &n)
		ev, _ := New(p, 1, "n1")
		b, _ := Encode(ev)
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"seq":1,"type":6,"data":{"runId":"r"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Decode(b)
		if err != nil {
			return
		}
		p, err := ev.Payload()
		if err != nil {
			return
		}
		again, err := Encode(ev)
		if err != nil {
			t.Fatalf("decoded event does not encode: %v", err)
		}
		ev2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		p2, err := ev2.Payload()
		if err != nil || !reflect.DeepEqual(p, p2) {
			t.Fatalf("payload changed through re-encoding: %v\n%+v\n%+v", err, p, p2)
		}
	})
}

// A field this build does not know (written by a later one) is skipped,
// and the fields it knows still read: the evolution rule of the wire form.
func TestUnknownFieldsAreSkipped(t *testing.T) {
	w := NewWire(nil)
	w.String(1, "s1")
	w.String(40, "from a later build")
	w.Int(41, 7)
	w.Message(42, func(b *Wire) { b.String(1, "nested") })
	w.String(2, "r1")
	ev := Event{V: SchemaVersion, Type: TypeRunFired, Data: w.Bytes()}
	p, err := ev.Payload()
	if err != nil {
		t.Fatal(err)
	}
	if rf := p.(*RunFired); rf.ScheduleID != "s1" || rf.RunID != "r1" {
		t.Fatalf("got %+v", rf)
	}
}

// Two fields under one number would make a codec ambiguous: refused when
// the codec is built, that is when the package loads.
func TestCodecRefusesANumberUsedTwice(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a codec with field 1 twice was built")
		}
	}()
	NewCodec(
		StringField(1, func(p *RunFired) *string { return &p.ScheduleID }),
		StringField(1, func(p *RunFired) *string { return &p.RunID }),
	)
}
