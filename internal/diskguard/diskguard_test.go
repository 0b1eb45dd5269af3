package diskguard

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/chronicle-sched/chronicle/internal/errkind"
	"github.com/chronicle-sched/chronicle/internal/syncbuf"
)

// Below the floor the guard refuses with a 507-kind error naming the free
// space and the floor, and logs the change once, not once per sample;
// when space returns it accepts again and says so once.
func TestGuardRefusesBelowTheFloorAndLogsEachChangeOnce(t *testing.T) {
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	dir := t.TempDir()
	g, err := New(dir, 1<<62, logger) // more than any disk has free
	if err != nil {
		t.Fatal(err)
	}
	if g.FreeBytes() == 0 {
		t.Fatal("no free space read from statfs")
	}
	refusal := g.Refuse()
	if !errors.Is(refusal, errkind.InsufficientStorage) || !strings.Contains(refusal.Error(), "MB free") ||
		!strings.Contains(refusal.Error(), "--min-free-disk-mb") {
		t.Fatalf("refusal below the floor: %v", refusal)
	}
	for i := 0; i < 3; i++ {
		if err := g.Sample(); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "disk almost full"); n != 1 {
		t.Fatalf("%d refusal lines over four samples, want 1:\n%s", n, logs.String())
	}

	g.floor = 1 // space "returns": the disk has more than a byte free
	for i := 0; i < 3; i++ {
		if err := g.Sample(); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Refuse(); err != nil {
		t.Fatalf("refusal above the floor: %v", err)
	}
	if n := strings.Count(logs.String(), "disk space back"); n != 1 {
		t.Fatalf("%d recovery lines over three samples, want 1:\n%s", n, logs.String())
	}
}

func TestGuardOffAndMissingDir(t *testing.T) {
	g, err := New(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Refuse(); err != nil {
		t.Fatalf("a floor of 0 refused: %v", err)
	}
	if _, err := New("/does/not/exist", 1, nil); err == nil || !strings.Contains(err.Error(), "/does/not/exist") {
		t.Fatalf("guard of a missing dir: %v", err)
	}
}
