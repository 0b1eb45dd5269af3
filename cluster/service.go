package cluster

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// proposer is what the leader's side of forwarding needs of the local
// replica (*raftfsm.Node has it).
type proposer interface {
	leaderLog
	NodeID() string
	// ReadIndex is the commit index, confirmed as the cluster's.
	ReadIndex(timeout time.Duration) (uint64, error)
}

// Service is the leader's side of forwarded events (ForwardPath). A
// follower's app actor sends its batch of creates here instead of
// relaying each client request: the leader then spends one HTTP exchange
// per batch rather than per create (relayed requests were the largest
// part of a leader's CPU: bench/RESULTS.md, "Measurements behind the code").
type Service struct {
	node     proposer
	nudge    *nudger
	now      func() time.Time
	timeout  time.Duration
	writeErr func(http.ResponseWriter, error)
}

// maxForwardedBytes bounds a forwarded batch, so a bad request cannot
// exhaust memory: a batch carries up to 512 creates, typically well under
// 1 KB each, and a create's payload is at most admit.MaxPayloadBytes.
const maxForwardedBytes = 64 << 20

// ServeHTTP takes a batch (POST) or says the build takes batches (GET:
// 204, which builds before protocol 2 asked before forwarding).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(ProtocolHeader, strconv.Itoa(protocolVersion))
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	version := min(protocolOf(r.Header), protocolVersion)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForwardedBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = errkind.Newf(errkind.TooLarge, "forwarded batch is larger than %d bytes", maxForwardedBytes)
		} else {
			err = errkind.Newf(errkind.Invalid, "reading the forwarded batch: %v", err)
		}
		s.writeErr(w, err)
		return
	}
	answer, err := s.Take(body, version)
	if err != nil {
		s.writeErr(w, err)
		return
	}
	w.Header().Set(ProtocolHeader, strconv.Itoa(version))
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(answer)
}

// Take proposes a forwarded batch and returns the answer in protocol
// version. Every event is decoded and checked by the log's admission
// rules, then stamped with this node's time and id and encoded anew: the
// leader proposes only its own bytes, and a caller can forge neither the
// audit history (when, by which node) nor a field this build does not
// read. A batch with anything the leader would not have proposed itself
// is refused whole (errkind.Invalid: 400), and nothing of it is committed.
// With no events it is a catch-up: the answer is the read index, which a
// follower must apply to have seen every write acknowledged so far.
func (s *Service) Take(body []byte, version int) ([]byte, error) {
	evs, err := raftfsm.DecodeCommand(body)
	if err != nil {
		return nil, errkind.Newf(errkind.Invalid, "forwarded batch: %v", err)
	}
	if len(evs) > maxEventsPerForward {
		return nil, errkind.Newf(errkind.Invalid, "forwarded batch of %d events: at most %d", len(evs), maxEventsPerForward)
	}
	now, self := s.now().UnixNano(), s.node.NodeID()
	stamped := make([]event.Event, len(evs))
	for i, ev := range evs {
		if ev.Type != event.TypeScheduleCreated {
			return nil, errkind.Newf(errkind.Invalid, "forwarded event %d: a leader takes only %s events from other nodes, not %s",
				i, event.TypeScheduleCreated, ev.Type)
		}
		ev.Time, ev.Node = now, self
		p, err := admit.Event(ev)
		if err != nil {
			return nil, errkind.Newf(errkind.Invalid, "forwarded event %d: %w", i, err)
		}
		if stamped[i], err = event.New(p, now, self); err != nil {
			return nil, errkind.Newf(errkind.Invalid, "forwarded event %d: %w", i, err)
		}
		// Who asked for it is the follower's to say: it authenticated the
		// request (and the cluster secret authenticates the follower).
		stamped[i].Actor = ev.Actor
	}
	if !s.node.IsLeader() {
		return nil, fmt.Errorf("%w: forwarded batch reached a follower", raftfsm.ErrNotLeader)
	}
	if len(stamped) == 0 {
		// The read index, not this node's applied index: a write a
		// follower acknowledged is committed but may not be applied here
		// yet, and a follower reading after this must see it.
		index, err := s.node.ReadIndex(s.timeout)
		if err != nil {
			return nil, err
		}
		s.nudge.commit(index)
		return encodeResults(version, index, nil), nil
	}
	// The batch's own index, not the leader's applied index: under load
	// that is always a little ahead, and the follower would wait for
	// entries it does not need to read its own write.
	results, index, err := s.node.Propose(stamped, s.timeout)
	if err != nil {
		return nil, err
	}
	s.nudge.commit(index)
	return encodeResults(version, index, results), nil
}
