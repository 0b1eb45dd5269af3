package raftfsm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/peerhttp"
	"github.com/chronicle-sched/chronicle/projections"
	"github.com/hashicorp/raft"
)

// Forwarded proposals. A follower that takes a create stamps its event and
// sends it to the leader together with the other creates queued meanwhile,
// in one request, instead of relaying each client request to the leader
// as a whole HTTP exchange. The leader then spends one HTTP exchange per
// batch rather than per create (the relayed request, its JSON and its
// answer were 40% of the leader's CPU in the three-node create benchmark),
// and the follower does the per-request work itself.
//
// The request body is the events in the Raft command form (command.go);
// the answer is the Raft index the follower must apply to see the batch,
// then each event's result. A rejection travels as its position in
// projections.Rejections and its message, so the follower answers exactly
// what the leader would have.

// forwardedTypes are the only events a leader takes from a follower: the
// endpoint is not an API, and everything else is proposed by the leader's
// own actors.
var forwardedTypes = map[event.Type]bool{event.TypeScheduleCreated: true}

// ErrBadForward: a forwarded proposal that is not one (HTTP 400).
var ErrBadForward = errors.New("bad forwarded proposal")

// LeaderAPI returns the leader's id and the URL where it takes forwarded
// proposals ("" while unknown); the HTTP layer owns the path.
type LeaderAPI func() (id, url string)

// forwarding is a node's client side of forwarded proposals.
type forwarding struct {
	leader atomic.Pointer[LeaderAPI]
	client *http.Client
}

// newForwarding: each batch carries the creates queued meanwhile, so few
// requests are in flight at once.
func newForwarding() *forwarding {
	return &forwarding{client: &http.Client{Transport: peerhttp.Transport(128)}}
}

// SetLeaderAPI tells the node where the leader takes forwarded proposals.
func (n *Node) SetLeaderAPI(f LeaderAPI) { n.fwd.leader.Store(&f) }

// Forward proposes evs on the leader, wherever it is: here if this node
// leads, else by sending them to it. A follower returns once it has
// applied the batch itself, so its own reads see it. With no events it
// only catches up: it waits until it has applied everything the leader
// had when asked, which makes a follower's view as fresh as the leader's.
// As with any write through a follower, an error after the leader took
// the request (the answer lost) leaves the outcome unknown to the caller.
func (n *Node) Forward(evs []event.Event, timeout time.Duration) ([]Result, error) {
	if n.IsLeader() {
		if len(evs) == 0 {
			return nil, nil
		}
		return n.Propose(evs, timeout)
	}
	leader := n.fwd.leader.Load()
	if leader == nil {
		return nil, fmt.Errorf("%w: no leader API configured", ErrNotLeader)
	}
	id, url := (*leader)()
	switch {
	case id == "":
		return nil, fmt.Errorf("%w: no leader to forward to", ErrNoLeader)
	case url == "":
		return nil, fmt.Errorf("%w: leader %s has not announced its HTTP address yet", ErrNoLeader, id)
	}
	body, err := encodeCommand(evs)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("forward to leader %s: %w", id, err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := n.fwd.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: forward to leader %s: %v", ErrNoLeader, id, err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxForwardAnswer))
	if err != nil {
		return nil, fmt.Errorf("%w: answer of leader %s: %v", ErrNoLeader, id, err)
	}
	if res.StatusCode != http.StatusOK {
		// 503: it stopped leading or has no quorum; the caller retries.
		return nil, fmt.Errorf("%w: leader %s answered %d: %s", ErrNotLeader, id, res.StatusCode,
			bytes.TrimSpace(answer[:min(len(answer), 300)]))
	}
	applied, results, err := decodeResults(answer)
	if err != nil {
		return nil, fmt.Errorf("answer of leader %s: %w", id, err)
	}
	if len(results) != len(evs) {
		return nil, fmt.Errorf("answer of leader %s: %d results for %d events", id, len(results), len(evs))
	}
	if !n.WaitApplied(applied, timeout) {
		return nil, fmt.Errorf("%w: this node did not apply index %d within %v", ErrNoLeader, applied, timeout)
	}
	return results, nil
}

// maxForwardAnswer bounds a leader's answer: a few bytes per event, plus
// rejection messages.
const maxForwardAnswer = 4 << 20

// ServeForwarded is the leader's side of Forward: body holds the events,
// the answer their results. A node that is not the leader refuses with
// ErrNotLeader or ErrNoLeader, bad input with ErrBadForward.
func (n *Node) ServeForwarded(body []byte, timeout time.Duration) ([]byte, error) {
	cmd, err := decodeCommand(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadForward, err)
	}
	for _, ev := range cmd.Events {
		if !forwardedTypes[ev.Type] {
			return nil, fmt.Errorf("%w: a leader does not take %s events from other nodes", ErrBadForward, ev.Type)
		}
	}
	if !n.IsLeader() {
		return nil, n.mapErr(raft.ErrNotLeader)
	}
	if len(cmd.Events) == 0 {
		// A catch-up: the index answered must cover every write
		// acknowledged so far, which only a node still leading has.
		if err := n.raft.VerifyLeader().Error(); err != nil {
			return nil, n.mapErr(err)
		}
		return encodeResults(n.FollowerIndex(), nil), nil
	}
	// The batch's own index, not the leader's applied index: under load
	// that is always a little ahead, and the follower would wait for
	// entries it does not need to read its own write.
	results, index, err := n.propose(cmd.Events, timeout)
	if err != nil {
		return nil, err
	}
	n.nudgeCommit(index)
	return encodeResults(index, results), nil
}

// encodeResults: uvarint applied index, uvarint count, then per result
// uvarint seq, uvarint affected, uvarint rejection (0: none, else its
// position in projections.Rejections + 1) and, for a rejection, its
// message as uvarint-length-prefixed bytes.
func encodeResults(applied uint64, results []Result) []byte {
	b := binary.AppendUvarint(nil, applied)
	b = binary.AppendUvarint(b, uint64(len(results)))
	for _, r := range results {
		b = binary.AppendUvarint(b, r.Seq)
		b = binary.AppendUvarint(b, uint64(r.Affected))
		if r.Err == nil {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		// Result errors are rejections (ApplyBatch panics on anything else).
		b = binary.AppendUvarint(b, uint64(projections.RejectionIndex(r.Err)+1))
		b = appendBytes(b, []byte(r.Err.Error()))
	}
	return b
}

func decodeResults(b []byte) (uint64, []Result, error) {
	r := reader{b: b}
	applied, n := r.uvarint(), r.uvarint()
	if r.err == nil && n > uint64(len(b)) { // every result takes at least three bytes
		return 0, nil, fmt.Errorf("decode results: %d results in %d bytes", n, len(b))
	}
	results := make([]Result, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		res := Result{Seq: r.uvarint(), Affected: int(r.uvarint())}
		if code := r.uvarint(); code > 0 && r.err == nil {
			msg := string(r.bytes())
			if code > uint64(len(projections.Rejections)) {
				return 0, nil, fmt.Errorf("decode results: unknown rejection %d (%q)", code, msg)
			}
			res.Err = &rejection{of: projections.Rejections[code-1], msg: msg}
		}
		results = append(results, res)
	}
	if r.err != nil {
		return 0, nil, fmt.Errorf("decode results: %w", r.err)
	}
	if len(r.b) != 0 {
		return 0, nil, fmt.Errorf("decode results: %d bytes after the last result", len(r.b))
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
