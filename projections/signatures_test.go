package projections

import (
	"errors"
	"strings"
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

// A spent signature is refused until it expires, then taken again; the
// expired ones are dropped as later ones are spent, so the store holds
// about what is live.
func TestSpentSignaturesAreRefusedUntilTheyExpire(t *testing.T) {
	w := newWorld(t)
	digest := func(c byte) string { return strings.Repeat(string(c), 64) }
	nowMs := func() int64 { return w.now / 1e6 }

	w.must(event.SignatureSpent{Digest: digest('a'), Until: nowMs() + 60_000})
	w.now += 59e9
	_, err := w.apply(event.SignatureSpent{Digest: digest('a'), Until: nowMs() + 60_000})
	if !errors.Is(err, ErrSignatureSpent) {
		t.Fatalf("replay within its life: %v, want ErrSignatureSpent", err)
	}
	if RejectionIndex(err) < 0 {
		t.Fatal("ErrSignatureSpent is not in Rejections: a follower could not be told of it")
	}
	w.now += 2e9 // past its Until
	w.must(event.SignatureSpent{Digest: digest('a'), Until: nowMs() + 60_000})
	if until, ok, err := w.q().SignatureSpentUntil(digest('a')); err != nil || !ok || until != nowMs()+60_000 {
		t.Fatalf("spent again: until %d, %v, %v", until, ok, err)
	}

	// 20 signatures that expire, then 3 more spent later: each drops up to
	// sigPruned expired ones, so all 20 are gone.
	for i := 0; i < 20; i++ {
		w.must(event.SignatureSpent{Digest: digest(byte('c' + i)), Until: nowMs() + 1000})
	}
	w.now += 5e9
	for i := 0; i < 3; i++ {
		w.must(event.SignatureSpent{Digest: strings.Repeat("0", 63) + string(rune('0'+i)), Until: nowMs() + 1000})
	}
	for i := 0; i < 20; i++ {
		if _, ok, _ := w.q().SignatureSpentUntil(digest(byte('c' + i))); ok {
			t.Fatalf("expired signature %d is still stored", i)
		}
	}
	if _, ok, _ := w.q().SignatureSpentUntil(digest('a')); !ok {
		t.Fatal("a live signature was pruned")
	}
}
