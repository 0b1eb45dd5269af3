package projections

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/cockroachdb/pebble/v2"
)

// ErrSignatureSpent: a SignatureSpent names a signature that was spent
// and has not expired: the request it signs is a replay.
var ErrSignatureSpent = errkind.New(errkind.Conflict, "signature already used")

// Spent signatures (SignatureSpent): p/sig/<digest> holds the unix ms
// until which the signature is refused, p/sigx/<until:8><digest> orders
// them by it so that expired ones are dropped oldest first.
func sigKey(digest string) []byte { return join([]byte(pSig), []byte(digest)) }
func sigExpiryKey(until int64, digest string) []byte {
	return join([]byte(pSigx), u64(uint64(until)), []byte(digest))
}

// sigPruned is how many expired signatures one SignatureSpent drops: more
// than one, so the store shrinks as fast as it grows, and bounded, so no
// event's apply walks an unbounded range.
const sigPruned = 8

// signatureSpent records p's signature as spent until p.Until, unless it
// is spent already and not expired at the event's time (a replay:
// ErrSignatureSpent). It first drops up to sigPruned signatures expired at
// that time: a function of the log alone, as apply must be.
func (a *applier) signatureSpent(p *event.SignatureSpent) error {
	now := a.nowMs()
	until, ok, err := spentUntil(a.b, p.Digest)
	if err != nil {
		return err
	}
	if ok && until > now {
		return fmt.Errorf("%w: it may be used again after %d", ErrSignatureSpent, until)
	}
	if err := a.pruneSignatures(now); err != nil {
		return err
	}
	if ok { // expired: its expiry entry may still be there
		if err := a.b.Delete(sigExpiryKey(until, p.Digest), nil); err != nil {
			return err
		}
	}
	if err := a.b.Set(sigKey(p.Digest), u64(uint64(p.Until)), nil); err != nil {
		return err
	}
	return a.b.Set(sigExpiryKey(p.Until, p.Digest), nil, nil)
}

func spentUntil(r pebble.Reader, digest string) (int64, bool, error) {
	v, closer, err := r.Get(sigKey(digest))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read spent signature: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, false, fmt.Errorf("spent signature %s: record of %d bytes", digest, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

// pruneSignatures drops up to sigPruned signatures that expired by now.
func (a *applier) pruneSignatures(now int64) error {
	var expired [][]byte
	err := scanPrefix(a.b, []byte(pSigx), nil, func(k, _ []byte) (bool, error) {
		if len(k) < len(pSigx)+8 || int64(binary.BigEndian.Uint64(k[len(pSigx):])) > now {
			return false, nil
		}
		expired = append(expired, append([]byte(nil), k...))
		return len(expired) < sigPruned, nil
	})
	if err != nil {
		return err
	}
	for _, k := range expired {
		if err := a.b.Delete(k, nil); err != nil {
			return err
		}
		if err := a.b.Delete(sigKey(string(k[len(pSigx)+8:])), nil); err != nil {
			return err
		}
	}
	return nil
}

// SignatureSpentUntil reports whether the signature of digest is spent,
// and until when (unix ms): expired ones may still be listed until pruned.
func (q Reader) SignatureSpentUntil(digest string) (int64, bool, error) {
	return spentUntil(q.R, digest)
}
