// Package cluster makes a Raft cluster look like one server to the layers
// above it: a write reaching a follower is done by the leader and answered
// by the follower once it can read it back (read-your-writes), whichever
// node the client chose. Above this package, callers treat the cluster as
// opaque; below it, raftfsm knows nothing of HTTP or of other members'
// addresses.
//
// What it holds:
//
//   - Forwarder (forward.go): the follower's side of forwarded events. An
//     app actor's batch of creates goes to the leader as events in one
//     request; the follower applies the answered index before it answers
//     its clients. On the leader it proposes directly.
//   - Service (service.go): the leader's side. It decodes every forwarded
//     event, checks it by the log's admission rules, stamps its time and
//     node itself (a caller cannot forge the audit history) and proposes
//     its own encoding of it; anything it would not have proposed itself
//     is refused with 400 and nothing of the request is committed.
//   - Relay (relay.go): other writes reaching a follower are relayed whole
//     to the leader over HTTP (a reverse proxy), never twice.
//   - Members (members.go): the view of the cluster for GET /cluster, and
//     membership changes that refuse to leave the reachable voters without
//     a quorum; nodes announce their HTTP address through the log.
//   - the protocol (protocol.go): forwarded events travel in the Raft
//     command form; the version of the exchange is in each message's
//     X-Chronicle-Protocol header, so nodes of two builds understand each
//     other during a rolling upgrade without probing.
//
// After answering a follower, the leader makes sure the follower hears
// soon that the entry committed (nudge.go).
package cluster
