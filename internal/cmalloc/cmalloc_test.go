//go:build linux && cgo

package cmalloc

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Each case runs in a fresh child process (this test binary again): the
// cap is set when a process loads, from its environment.
const childEnv = "CMALLOC_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		mallocFromThreads(32)
		os.Stdout.WriteString(strconv.Itoa(ArenaCap()) + " " + strconv.Itoa(arenas()) + "\n")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child returns the cap the child process set and the arenas it ended
// with after 32 threads called malloc at once.
func child(t *testing.T, env ...string) (cap, arenas int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		t.Fatalf("child printed %q", out)
	}
	cap, _ = strconv.Atoi(f[0])
	arenas, _ = strconv.Atoi(f[1])
	return cap, arenas
}

func TestArenasAreCappedAtOnePerCPU(t *testing.T) {
	if cap, n := child(t); n < 0 {
		// Not glibc (musl, say): there are no arenas to cap, and the
		// package must not claim it capped them.
		if cap != 0 {
			t.Fatalf("no glibc arenas, yet a cap of %d reported", cap)
		}
		return
	}
	want := runtime.NumCPU()
	if want < 2 {
		want = 2
	}
	// The operator's own cap, set high, shows that without ours the
	// threads do get more arenas than ours allows, so the test can fail.
	if cap, free := child(t, "MALLOC_ARENA_MAX=64"); cap != 0 || free <= want {
		t.Fatalf("with MALLOC_ARENA_MAX=64: cap %d set here (want 0), %d arenas (want more than %d)", cap, free, want)
	}
	if cap, capped := child(t); cap != want || capped > want {
		t.Fatalf("cap %d, %d arenas after 32 threads called malloc; want a cap of %d and at most that many", cap, capped, want)
	}
}

func TestArenaCapLeavesTheOperatorsChoice(t *testing.T) {
	if cap, n := child(t, "MALLOC_ARENA_MAX=3"); cap != 0 || n > 3 {
		t.Fatalf("with MALLOC_ARENA_MAX=3: cap %d set here, %d arenas", cap, n)
	}
}
