package errkind

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindsReadAsTheirMessageAndMatch(t *testing.T) {
	sentinel := New(Unavailable, "this node is not the leader")
	wrapped := fmt.Errorf("%w: leader lost", sentinel)
	if !errors.Is(wrapped, Unavailable) || !errors.Is(wrapped, sentinel) || errors.Is(wrapped, Invalid) {
		t.Fatalf("kinds through wrapping: %v", wrapped)
	}
	cause := errors.New("parse error")
	err := Newf(Invalid, "raftAddress %q: %w", "x", cause)
	if err.Error() != `raftAddress "x": parse error` || !errors.Is(err, Invalid) || !errors.Is(err, cause) {
		t.Fatalf("Newf: %q", err)
	}
}
