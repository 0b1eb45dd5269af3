package event

import "google.golang.org/protobuf/encoding/protowire"

// Codec is the wire form of a message type, described once: each field's
// number and where it lives in the struct serve both directions, so the
// encoder and the decoder cannot disagree about a field.
type Codec[T any] struct {
	fields []CodecField[T]
	byNum  []int // field number → index in fields, -1 if none
}

// CodecField is one field of a Codec; build it with StringField, IntField, ...
type CodecField[T any] struct {
	num   protowire.Number
	write func(w *Wire, m *T)
	read  func(f *Fields, m *T)
}

// NewCodec describes a message by its fields, in the order they are
// written. Field numbers must be unique and small (they index a table).
func NewCodec[T any](fields ...CodecField[T]) *Codec[T] {
	c := &Codec[T]{fields: fields}
	for i, fd := range fields {
		for int(fd.num) >= len(c.byNum) {
			c.byNum = append(c.byNum, -1)
		}
		if fd.num < 1 || c.byNum[fd.num] >= 0 {
			panic("event: codec field number used twice or below 1")
		}
		c.byNum[fd.num] = i
	}
	return c
}

// Append writes m's fields.
func (c *Codec[T]) Append(w *Wire, m *T) {
	for i := range c.fields {
		c.fields[i].write(w, m)
	}
}

// Read fills m from the fields f holds; unknown numbers are skipped.
func (c *Codec[T]) Read(f *Fields, m *T) {
	for f.Next() {
		if n := int(f.Num()); n < len(c.byNum) && c.byNum[n] >= 0 {
			c.fields[c.byNum[n]].read(f, m)
		}
	}
}

// scalarField is a field that one Wire method writes and one Fields
// method reads.
func scalarField[T, V any](n protowire.Number, at func(*T) *V, put func(*Wire, protowire.Number, V),
	get func(*Fields) V) CodecField[T] {
	return CodecField[T]{num: n,
		write: func(w *Wire, m *T) { put(w, n, *at(m)) },
		read:  func(f *Fields, m *T) { *at(m) = get(f) }}
}

// StringField is a string (absent when empty).
func StringField[T any](n protowire.Number, at func(*T) *string) CodecField[T] {
	return scalarField(n, at, (*Wire).String, (*Fields).String)
}

// BytesField is a byte slice (absent when empty).
func BytesField[T any](n protowire.Number, at func(*T) *[]byte) CodecField[T] {
	return scalarField(n, at, (*Wire).ByteString, (*Fields).Bytes)
}

// IntField is an int that must fit 32 bits (zigzag varint, absent when 0).
func IntField[T any](n protowire.Number, at func(*T) *int) CodecField[T] {
	return scalarField(n, at, func(w *Wire, n protowire.Number, v int) { w.Int(n, int64(v)) }, (*Fields).Int)
}

// Int64Field is an int64 (zigzag varint, absent when 0).
func Int64Field[T any](n protowire.Number, at func(*T) *int64) CodecField[T] {
	return scalarField(n, at, (*Wire).Int, (*Fields).Int64)
}

// Uint64Field is a uint64 (varint, absent when 0).
func Uint64Field[T any](n protowire.Number, at func(*T) *uint64) CodecField[T] {
	return scalarField(n, at, (*Wire).Uint, (*Fields).Uint64)
}

// BoolField is a bool (absent when false).
func BoolField[T any](n protowire.Number, at func(*T) *bool) CodecField[T] {
	return scalarField(n, at, (*Wire).Bool, (*Fields).Bool)
}

// StringMapField is a map of strings, one entry message per key, in key
// order (an entry read adds to the map).
func StringMapField[T any](n protowire.Number, at func(*T) *map[string]string) CodecField[T] {
	return CodecField[T]{num: n,
		write: func(w *Wire, m *T) { w.StringMap(n, *at(m)) },
		read:  func(f *Fields, m *T) { f.StringMapEntry(at(m)) }}
}

// StringsField is a list of strings, one repetition of the field each
// (a repetition read appends).
func StringsField[T any](n protowire.Number, at func(*T) *[]string) CodecField[T] {
	return CodecField[T]{num: n,
		write: func(w *Wire, m *T) { w.Strings(n, *at(m)) },
		read:  func(f *Fields, m *T) { *at(m) = append(*at(m), f.String()) }}
}

// OptionalBoolField is a *bool: nil is absent, and false is kept apart
// from nil by wrapping the value in a message {1: value}.
func OptionalBoolField[T any](n protowire.Number, at func(*T) **bool) CodecField[T] {
	return CodecField[T]{num: n,
		write: func(w *Wire, m *T) {
			if p := *at(m); p != nil {
				w.Message(n, func(b *Wire) { b.Bool(1, *p) })
			}
		},
		read: func(f *Fields, m *T) {
			var v bool
			f.Message(func(b *Fields) {
				for b.Next() {
					if b.Num() == 1 {
						v = b.Bool()
					}
				}
			})
			*at(m) = &v
		}}
}

// MessageField is a nested message, always written (even empty).
func MessageField[T, M any](n protowire.Number, at func(*T) *M, c *Codec[M]) CodecField[T] {
	return CodecField[T]{num: n,
		write: func(w *Wire, m *T) { w.Message(n, func(b *Wire) { c.Append(b, at(m)) }) },
		read:  func(f *Fields, m *T) { f.Message(func(b *Fields) { c.Read(b, at(m)) }) }}
}

// RepeatedMessageField is a list of nested messages, one repetition of
// the field each (a repetition read appends).
func RepeatedMessageField[T, M any](n protowire.Number, at func(*T) *[]M, c *Codec[M]) CodecField[T] {
	return CodecField[T]{num: n,
		write: func(w *Wire, m *T) {
			for i := range *at(m) {
				w.Message(n, func(b *Wire) { c.Append(b, &(*at(m))[i]) })
			}
		},
		read: func(f *Fields, m *T) {
			var v M
			f.Message(func(b *Fields) { c.Read(b, &v) })
			*at(m) = append(*at(m), v)
		}}
}

// OptionalMessageField is a pointer to a nested message: nil is absent.
func OptionalMessageField[T, M any](n protowire.Number, at func(*T) **M, c *Codec[M]) CodecField[T] {
	return CodecField[T]{num: n,
		write: func(w *Wire, m *T) {
			if p := *at(m); p != nil {
				w.Message(n, func(b *Wire) { c.Append(b, p) })
			}
		},
		read: func(f *Fields, m *T) {
			v := new(M)
			f.Message(func(b *Fields) { c.Read(b, v) })
			*at(m) = v
		}}
}
