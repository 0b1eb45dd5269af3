// Package binread reads varint-framed binary forms (a Raft command's
// events, a leader's answer to a forwarded batch): the first error sticks,
// so a decoder reads every field in turn and checks once at the end.
package binread

import (
	"encoding/binary"
	"errors"
)

// ErrTruncated: the input ended inside a field.
var ErrTruncated = errors.New("truncated")

// Reader consumes B; Err is the first error met.
type Reader struct {
	B   []byte
	Err error
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 { return read(r, binary.Uvarint) }

// Varint reads a signed (zig-zag) varint.
func (r *Reader) Varint() int64 { return read(r, binary.Varint) }

func read[T uint64 | int64](r *Reader, decode func([]byte) (T, int)) T {
	if r.Err != nil {
		return 0
	}
	v, n := decode(r.B)
	if n <= 0 {
		r.Err = ErrTruncated
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Bytes reads a uvarint length and that many bytes, which it returns as
// a part of B (copy them to keep them past B's owner).
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if r.Err != nil {
		return nil
	}
	if n > uint64(len(r.B)) { // compared as uint64: a huge length cannot wrap
		r.Err = ErrTruncated
		return nil
	}
	v := r.B[:n]
	r.B = r.B[n:]
	return v
}
