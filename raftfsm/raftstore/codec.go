package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/raft"
)

// ErrCorruptEntry is wrapped by every error caused by a stored log entry that
// cannot be decoded. It is distinct from raft.ErrLogNotFound on purpose: raft
// treats "not found" as a recoverable condition (it fetches a snapshot
// instead), whereas corruption must surface to the operator.
var ErrCorruptEntry = errors.New("raftstore: corrupt log entry")

// Log entry encoding, version 1. All integers are unsigned varints unless
// noted; the layout is
//
//	version   1 byte  (= logFormatV1)
//	flags     1 byte  (bit 0: AppendedAt present; other bits must be 0)
//	index     uvarint
//	term      uvarint
//	type      1 byte  (raft.LogType)
//	appended  8 bytes big-endian int64 unix nanoseconds, only if flag bit 0
//	dataLen   uvarint, then dataLen bytes of Data
//	extLen    uvarint, then extLen bytes of Extensions
//
// We own this format rather than using gob/msgpack so that the bytes on disk
// only change when we bump the version byte, never because a dependency
// changed its reflection rules.
//
// The decoder is deliberately strict (minimal varints, no unknown flags, no
// trailing bytes) so every accepted input has exactly one encoding: this
// makes "decode then encode returns the input" a checkable property and
// means a flipped bit is more likely to be reported than silently accepted.
const (
	logFormatV1 byte = 1

	flagAppendedAt byte = 1 << 0
	knownFlags          = flagAppendedAt
)

// Bounds of what int64 unix nanoseconds can represent. Outside this range
// UnixNano is undefined, so we refuse to encode rather than store a wrong
// time.
var (
	minAppendedAt = time.Unix(0, math.MinInt64)
	maxAppendedAt = time.Unix(0, math.MaxInt64)
)

// maxEncodedHeader is the most bytes the fixed part of an entry can take:
// version, flags, two uvarints, type, timestamp, two length uvarints.
const maxEncodedHeader = 1 + 1 + 2*binary.MaxVarintLen64 + 1 + 8 + 2*binary.MaxVarintLen64

// appendLog appends the encoding of l to dst. It fails only for an
// AppendedAt outside the range int64 nanoseconds can represent.
func appendLog(dst []byte, l *raft.Log) ([]byte, error) {
	var flags byte
	// The zero time is not representable as unix nanos (year 1 is before
	// 1678), and raft uses it to mean "unknown", so it gets a flag rather
	// than a sentinel value.
	if !l.AppendedAt.IsZero() {
		if l.AppendedAt.Before(minAppendedAt) || l.AppendedAt.After(maxAppendedAt) {
			return dst, fmt.Errorf("raftstore: encode log %d: AppendedAt %s out of range", l.Index, l.AppendedAt)
		}
		flags |= flagAppendedAt
	}
	dst = append(dst, logFormatV1, flags)
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = append(dst, byte(l.Type))
	if flags&flagAppendedAt != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(l.AppendedAt.UnixNano()))
	}
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	return dst, nil
}

// decodeLog decodes b into l. b is not retained: Data and Extensions are
// copied, because Pebble only lends us its value buffer until the closer is
// released. On error l is left untouched, so a caller never sees a
// half-decoded entry.
func decodeLog(b []byte, l *raft.Log) error {
	d := decoder{buf: b}
	if v := d.byte(); d.err == nil && v != logFormatV1 {
		return fmt.Errorf("%w: unknown format version %d", ErrCorruptEntry, v)
	}
	flags := d.byte()
	if d.err == nil && flags&^knownFlags != 0 {
		return fmt.Errorf("%w: unknown flags %#x", ErrCorruptEntry, flags)
	}
	var out raft.Log
	out.Index = d.uvarint()
	out.Term = d.uvarint()
	out.Type = raft.LogType(d.byte())
	if flags&flagAppendedAt != 0 {
		out.AppendedAt = time.Unix(0, int64(d.uint64()))
	}
	data := d.bytes()
	ext := d.bytes()
	if d.err != nil {
		return d.err
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorruptEntry, len(d.buf))
	}
	// One allocation for both payloads; the capacity limit on Data stops an
	// append by the caller from scribbling over Extensions.
	if n := len(data) + len(ext); n > 0 {
		buf := make([]byte, n)
		copy(buf, data)
		copy(buf[len(data):], ext)
		if len(data) > 0 {
			out.Data = buf[:len(data):len(data)]
		}
		if len(ext) > 0 {
			out.Extensions = buf[len(data):]
		}
	}
	*l = out
	return nil
}

// decoder consumes a byte slice, remembering the first error so the happy
// path reads straight through without an error check per field.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorruptEntry}, args...)...)
	}
	d.buf = nil
}

func (d *decoder) byte() byte {
	if len(d.buf) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.buf[0]
	d.buf = d.buf[1:]
	return v
}

func (d *decoder) uint64() uint64 {
	if len(d.buf) < 8 {
		d.fail("truncated timestamp")
		return 0
	}
	v := binary.BigEndian.Uint64(d.buf)
	d.buf = d.buf[8:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.buf)
	switch {
	case n == 0:
		d.fail("truncated varint")
		return 0
	case n < 0:
		d.fail("varint overflows uint64")
		return 0
	case n > 1 && d.buf[n-1] == 0:
		// binary.Uvarint accepts padded encodings such as 0x80 0x00; a
		// trailing zero group is the signature of one.
		d.fail("non-minimal varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	// Compare in uint64 so a huge length cannot wrap to a small int and is
	// rejected before anything is allocated.
	if n > uint64(len(d.buf)) {
		d.fail("length %d exceeds remaining %d bytes", n, len(d.buf))
		return nil
	}
	v := d.buf[:n]
	d.buf = d.buf[n:]
	return v
}
