package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/raftfsm"
)

// replica is what forwarding needs of the local Raft node (*raftfsm.Node
// has it).
type replica interface {
	IsLeader() bool
	Leader() string
	Term() uint64
	Propose(evs []event.Event, timeout time.Duration) ([]raftfsm.Result, uint64, error)
	WaitApplied(index uint64, timeout time.Duration) bool
	ReadIndex(timeout time.Duration) (uint64, error)
	// Proposable reports whether every member reads events of type t.
	Proposable(t event.Type) bool
}

// Forwarder proposes events on the leader, wherever it is.
type Forwarder struct {
	node   replica
	dir    *Directory
	client *http.Client
	peers  peerHTTP
	// legacy is the leader (id and term) whose build answered that it has
	// no ForwardPath (a build before forwarding existed): creates are
	// relayed to it whole (TakesEvents) until leadership moves.
	legacy atomic.Pointer[leaderTerm]
}

type leaderTerm struct {
	id   string
	term uint64
}

// maxForwardAnswer bounds a leader's answer: a few bytes per event, plus
// rejection messages.
const maxForwardAnswer = 4 << 20

func newForwarder(node replica, dir *Directory, peers peerHTTP) *Forwarder {
	// Each batch carries the creates queued meanwhile, so few requests are
	// in flight at once.
	return &Forwarder{node: node, dir: dir, client: &http.Client{Transport: peers.transport(128)}, peers: peers}
}

// Forward proposes evs on the leader: here if this node leads, else by
// sending them to it. A follower returns once it has applied the batch
// itself, so that its own reads see it. Each event is first checked by
// the log's admission rules, here, so that a bad one is refused alone.
// As with any write through a follower, an error after the leader took
// the request (the answer lost) leaves the outcome unknown to the caller.
func (f *Forwarder) Forward(evs []event.Event, timeout time.Duration) ([]raftfsm.Result, error) {
	if len(evs) == 0 {
		return nil, f.CatchUp(timeout)
	}
	if f.node.IsLeader() {
		res, _, err := f.node.Propose(evs, timeout)
		return res, err
	}
	admitted, refused := raftfsm.AdmitEvents(evs)
	if len(admitted) == 0 {
		return refused, nil
	}
	results, err := f.send(admitted, timeout)
	if err != nil {
		return nil, err
	}
	if refused != nil {
		results = raftfsm.MergeResults(refused, results)
	}
	return results, nil
}

// CatchUp makes this node's projections as fresh as the cluster's: it
// returns once this node has applied every write acknowledged (by any
// node) before it was called, which makes a read after it linearizable.
func (f *Forwarder) CatchUp(timeout time.Duration) error {
	if f.node.IsLeader() {
		index, err := f.node.ReadIndex(timeout)
		if err != nil {
			return err
		}
		if !f.node.WaitApplied(index, timeout) {
			return fmt.Errorf("%w: read index %d not applied within %s", raftfsm.ErrNoLeader, index, timeout)
		}
		return nil
	}
	_, err := f.send(nil, timeout)
	return err
}

// TakesEvents reports whether the current leader's build takes forwarded
// events (as far as this node has learnt from its answers).
func (f *Forwarder) TakesEvents() bool {
	l := f.legacy.Load()
	return l == nil || l.id != f.node.Leader() || l.term != f.node.Term()
}

func (f *Forwarder) send(evs []event.Event, timeout time.Duration) ([]raftfsm.Result, error) {
	id, addr := f.dir.Leader()
	switch {
	case id == "":
		return nil, fmt.Errorf("%w: no leader to forward to", raftfsm.ErrNoLeader)
	case addr == "":
		return nil, fmt.Errorf("%w: leader %s has not announced its HTTP address yet", raftfsm.ErrNoLeader, id)
	}
	term := f.node.Term()
	body, err := raftfsm.EncodeCommand(evs, f.node.Proposable(event.ActorsSince))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.peers.url(addr, ForwardPath), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("forward to leader %s: %w", id, err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(ProtocolHeader, strconv.Itoa(protocolVersion))
	f.peers.prove(req)
	res, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: forward to leader %s: %v", raftfsm.ErrNoLeader, id, err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxForwardAnswer))
	if err != nil {
		return nil, fmt.Errorf("%w: answer of leader %s: %v", raftfsm.ErrNoLeader, id, err)
	}
	brief := bytes.TrimSpace(answer[:min(len(answer), 300)])
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		f.legacy.Store(&leaderTerm{id: id, term: term})
		return nil, fmt.Errorf("%w: leader %s runs a build that takes no forwarded events; retry (it is relayed whole)",
			raftfsm.ErrNotLeader, id)
	case http.StatusInsufficientStorage:
		return nil, errkind.Newf(errkind.InsufficientStorage, "leader %s refused the write: %s", id, brief)
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		// This node admitted the batch by the same rules: only a leader of
		// another build can refuse it.
		return nil, errkind.Newf(errkind.Invalid, "leader %s refused the batch: %s", id, brief)
	default:
		// 503: it stopped leading or has no quorum; the caller retries.
		return nil, fmt.Errorf("%w: leader %s answered %d: %s", raftfsm.ErrNotLeader, id, res.StatusCode, brief)
	}
	applied, results, err := decodeResults(protocolOf(res.Header), answer)
	if err != nil {
		return nil, fmt.Errorf("answer of leader %s: %w", id, err)
	}
	if len(results) != len(evs) {
		return nil, fmt.Errorf("answer of leader %s: %d results for %d events", id, len(results), len(evs))
	}
	if !f.node.WaitApplied(applied, timeout) {
		return nil, fmt.Errorf("%w: this node did not apply index %d within %v", raftfsm.ErrNoLeader, applied, timeout)
	}
	return results, nil
}
