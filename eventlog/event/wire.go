package event

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// The binary form of payloads (schema version 2) and of the read models'
// records is the protobuf wire format, written and read with protowire
// through a Codec per type (codec.go) rather than generated code. It is tagged: a field may be
// added under a new number and old data decodes with its zero value, and a
// field this build does not know is skipped, which is the evolution rule
// the JSON form gave us, at a fraction of its cost (JSON was the largest
// single cost of apply and of replay). protowire is part of
// google.golang.org/protobuf, already in the module graph through
// protoactor. Zero values are not written, maps are written in key order,
// so equal values always encode to equal bytes (replay compares bytes).

// Field numbers are per message; like type numbers they are append-only.

// Wire is a message being encoded.
type Wire struct{ b []byte }

// NewWire starts a message in buf's spare capacity (buf may be nil).
func NewWire(buf []byte) *Wire { return &Wire{b: buf[:0]} }

// Bytes is the encoded message.
func (w *Wire) Bytes() []byte { return w.b }

// Raw appends bytes as they are (a marker or version byte before the
// fields).
func (w *Wire) Raw(b ...byte) { w.b = append(w.b, b...) }

// String writes a non-empty string.
func (w *Wire) String(n protowire.Number, v string) {
	if v != "" {
		w.b = protowire.AppendTag(w.b, n, protowire.BytesType)
		w.b = protowire.AppendString(w.b, v)
	}
}

// ByteString writes a non-empty byte slice (as String would its text, without
// a copy: a run's output can be a MiB).
func (w *Wire) ByteString(n protowire.Number, v []byte) {
	if len(v) > 0 {
		w.b = protowire.AppendTag(w.b, n, protowire.BytesType)
		w.b = protowire.AppendBytes(w.b, v)
	}
}

// Int writes a non-zero signed integer (zigzag varint).
func (w *Wire) Int(n protowire.Number, v int64) {
	if v != 0 {
		w.b = protowire.AppendTag(w.b, n, protowire.VarintType)
		w.b = protowire.AppendVarint(w.b, protowire.EncodeZigZag(v))
	}
}

// Uint writes a non-zero unsigned integer.
func (w *Wire) Uint(n protowire.Number, v uint64) {
	if v != 0 {
		w.b = protowire.AppendTag(w.b, n, protowire.VarintType)
		w.b = protowire.AppendVarint(w.b, v)
	}
}

// Bool writes true (false is the absent field).
func (w *Wire) Bool(n protowire.Number, v bool) {
	if v {
		w.b = protowire.AppendTag(w.b, n, protowire.VarintType)
		w.b = append(w.b, 1)
	}
}

// Message writes a nested message, even an empty one: its presence is
// information (a non-nil pointer). The body is encoded in place and moved
// right by the length prefix's size, which saves a buffer per message.
func (w *Wire) Message(n protowire.Number, body func(*Wire)) {
	w.b = protowire.AppendTag(w.b, n, protowire.BytesType)
	start := len(w.b)
	body(w)
	size := len(w.b) - start
	prefix := protowire.SizeVarint(uint64(size))
	w.b = append(w.b, make([]byte, prefix)...)
	copy(w.b[start+prefix:], w.b[start:start+size])
	protowire.AppendVarint(w.b[start:start], uint64(size))
}

// StringMap writes m as entries {1: key, 2: value} in key order.
func (w *Wire) StringMap(n protowire.Number, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w.Message(n, func(e *Wire) {
			e.String(1, k)
			e.String(2, m[k])
		})
	}
}

// Strings writes each element as a repetition of field n (empty ones too:
// the count is information).
func (w *Wire) Strings(n protowire.Number, vs []string) {
	for _, v := range vs {
		w.b = protowire.AppendTag(w.b, n, protowire.BytesType)
		w.b = protowire.AppendString(w.b, v)
	}
}

// Fields reads a message field by field:
//
//	f := event.NewFields(b)
//	for f.Next() {
//		switch f.Num() {
//		case 1:
//			x.Name = f.String()
//		}
//	}
//	return f.Err()
//
// A value of the wrong wire type, a truncated message or an integer out
// of range stops the loop with an error; unknown field numbers are skipped.
type Fields struct {
	b   []byte
	num protowire.Number
	typ protowire.Type
	v   uint64 // varint and fixed values
	raw []byte // bytes values
	err error
}

// NewFields starts reading the message b.
func NewFields(b []byte) Fields { return Fields{b: b} }

// Next moves to the next field; false at the end or on an error.
func (f *Fields) Next() bool {
	if f.err != nil || len(f.b) == 0 {
		return false
	}
	num, typ, n := protowire.ConsumeTag(f.b)
	if n < 0 {
		f.err = fmt.Errorf("field tag: %w", protowire.ParseError(n))
		return false
	}
	f.b = f.b[n:]
	f.num, f.typ, f.raw, f.v = num, typ, nil, 0
	switch typ {
	case protowire.VarintType:
		f.v, n = protowire.ConsumeVarint(f.b)
	case protowire.BytesType:
		f.raw, n = protowire.ConsumeBytes(f.b)
	case protowire.Fixed64Type:
		f.v, n = protowire.ConsumeFixed64(f.b)
	case protowire.Fixed32Type:
		var v uint32
		v, n = protowire.ConsumeFixed32(f.b)
		f.v = uint64(v)
	default:
		n = protowire.ConsumeFieldValue(num, typ, f.b)
	}
	if n < 0 {
		f.err = fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		return false
	}
	f.b = f.b[n:]
	return true
}

// Num is the current field's number.
func (f *Fields) Num() protowire.Number { return f.num }

// Err is the error that stopped Next, if any.
func (f *Fields) Err() error { return f.err }

func (f *Fields) want(t protowire.Type) bool {
	if f.typ != t && f.err == nil {
		f.err = fmt.Errorf("field %d: wire type %d, want %d", f.num, f.typ, t)
	}
	return f.err == nil
}

// String reads a string field.
func (f *Fields) String() string {
	if !f.want(protowire.BytesType) {
		return ""
	}
	return string(f.raw)
}

// Bytes reads a bytes field into a new slice.
func (f *Fields) Bytes() []byte {
	if !f.want(protowire.BytesType) {
		return nil
	}
	return append([]byte(nil), f.raw...)
}

// Int64 reads a signed integer field.
func (f *Fields) Int64() int64 {
	if !f.want(protowire.VarintType) {
		return 0
	}
	return protowire.DecodeZigZag(f.v)
}

// Int reads a signed integer field that must fit 32 bits (counts, ports,
// partitions: the JSON form's int).
func (f *Fields) Int() int {
	v := f.Int64()
	if int64(int32(v)) != v && f.err == nil {
		f.err = fmt.Errorf("field %d: %d out of range", f.num, v)
		return 0
	}
	return int(v)
}

// Uint64 reads an unsigned integer field.
func (f *Fields) Uint64() uint64 {
	if !f.want(protowire.VarintType) {
		return 0
	}
	return f.v
}

// Bool reads a boolean field.
func (f *Fields) Bool() bool {
	if !f.want(protowire.VarintType) {
		return false
	}
	return f.v != 0
}

// Message reads a nested message field with read.
func (f *Fields) Message(read func(*Fields)) {
	if !f.want(protowire.BytesType) {
		return
	}
	sub := NewFields(f.raw)
	read(&sub)
	if sub.err != nil {
		f.err = fmt.Errorf("field %d: %w", f.num, sub.err)
	}
}

// StringMapEntry reads one entry written by Wire.StringMap into m.
func (f *Fields) StringMapEntry(m *map[string]string) {
	var k, v string
	f.Message(func(e *Fields) {
		for e.Next() {
			switch e.Num() {
			case 1:
				k = e.String()
			case 2:
				v = e.String()
			}
		}
	})
	if f.err == nil {
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[k] = v
	}
}
