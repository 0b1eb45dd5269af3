package cluster

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"

	"github.com/chronicle-sched/chronicle/internal/binread"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// ForwardPath is where a leader takes the events a follower forwards
// (POST). Like the Raft port, it belongs on the cluster's network.
const ForwardPath = "/internal/propose"

// Headers of the exchanges between members.
const (
	// ProtocolHeader carries the version of a forwarding exchange, on the
	// request (the newest the follower speaks) and on the answer (the one
	// the leader answered in: the lower of the two). Absent: version 1.
	ProtocolHeader = "X-Chronicle-Protocol"
	// HeaderForwardedBy marks a request a follower relayed; a node that is
	// not the leader either refuses it (503) rather than relaying it
	// again, so a leadership change cannot make requests loop.
	HeaderForwardedBy = "X-Chronicle-Forwarded-By"
	// HeaderAppliedIndex is set by the leader on write answers: the Raft
	// index applied when it answered, which the relaying follower applies
	// before it answers in turn.
	HeaderAppliedIndex = "X-Chronicle-Applied-Index"
)

// Versions of the forwarding exchange. The request is the same in both:
// the events in the Raft command form (raftfsm.EncodeCommand), whose time
// and node the leader replaces with its own.
//
//	1: the answer is the applied index, then per event its seq, the count
//	   it affected and its rejection (0: none, else its position in
//	   projections.Rejections + 1, and the leader's message).
//	2: as 1, and each result also carries the time the leader stamped.
const protocolVersion = 2

// protocolOf reads the version of an exchange from its header.
func protocolOf(h http.Header) int {
	v, err := strconv.Atoi(h.Get(ProtocolHeader))
	if err != nil || v < 1 {
		return 1
	}
	return v
}

// maxEventsPerForward bounds a forwarded batch: an app actor sends at
// most one entry's worth of creates at a time.
const maxEventsPerForward = 4096

// encodeResults writes the answer to a forwarded batch in version v.
func encodeResults(v int, applied uint64, results []raftfsm.Result) []byte {
	b := binary.AppendUvarint(nil, applied)
	b = binary.AppendUvarint(b, uint64(len(results)))
	for _, r := range results {
		b = binary.AppendUvarint(b, r.Seq)
		b = binary.AppendUvarint(b, uint64(r.Affected))
		if r.Err == nil {
			b = binary.AppendUvarint(b, 0)
		} else {
			// Result errors are rejections (apply panics on anything else).
			b = binary.AppendUvarint(b, uint64(projections.RejectionIndex(r.Err)+1))
			b = appendBytes(b, []byte(r.Err.Error()))
		}
		if v >= 2 {
			b = binary.AppendVarint(b, r.Time)
		}
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decodeResults reads an answer of version v.
func decodeResults(v int, b []byte) (uint64, []raftfsm.Result, error) {
	r := binread.Reader{B: b}
	applied, n := r.Uvarint(), r.Uvarint()
	if r.Err == nil && n > uint64(len(b)) { // every result takes at least three bytes
		return 0, nil, fmt.Errorf("decode results: %d results in %d bytes", n, len(b))
	}
	results := make([]raftfsm.Result, 0, n)
	for i := uint64(0); i < n && r.Err == nil; i++ {
		res := raftfsm.Result{Seq: r.Uvarint(), Affected: int(r.Uvarint())}
		if code := r.Uvarint(); code > 0 && r.Err == nil {
			msg := string(r.Bytes())
			if code > uint64(len(projections.Rejections)) {
				return 0, nil, fmt.Errorf("decode results: unknown rejection %d (%q)", code, msg)
			}
			res.Err = &rejection{of: projections.Rejections[code-1], msg: msg}
		}
		if v >= 2 {
			res.Time = r.Varint()
		}
		results = append(results, res)
	}
	if r.Err != nil {
		return 0, nil, fmt.Errorf("decode results: %w", r.Err)
	}
	if len(r.B) != 0 {
		return 0, nil, fmt.Errorf("decode results: %d bytes after the last result", len(r.B))
	}
	return applied, results, nil
}

// rejection is a rejection decided on the leader: it reads as the
// leader's message and is (errors.Is) the same rejection.
type rejection struct {
	of  error
	msg string
}

func (r *rejection) Error() string { return r.msg }
func (r *rejection) Unwrap() error { return r.of }
