package command

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCommandsRunInOrderInTheirDirectoryWithTheirEnvironment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "karajo", "job", "deploy")
	t.Setenv("SECRET_OF_THE_SERVER", "leak")
	res := Run(context.Background(), Spec{Dir: dir, Env: []string{"KARAJO_JOB_COUNTER=7"}, Lines: []string{
		"echo counter=$KARAJO_JOB_COUNTER path=$PATH", "pwd", "echo server=${SECRET_OF_THE_SERVER:-none}; echo oops >&2",
		"touch made"}})
	if !res.Success || res.Err != "" || res.Cut {
		t.Fatalf("result %+v", res)
	}
	want := "$ echo counter=$KARAJO_JOB_COUNTER path=$PATH\ncounter=7 path=" + Path + "\n$ pwd\n" + dir +
		"\n$ echo server=${SECRET_OF_THE_SERVER:-none}; echo oops >&2\nserver=none\noops\n$ touch made\n"
	if string(res.Output) != want {
		t.Fatalf("output\n%s\nwant\n%s", res.Output, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "made")); err != nil {
		t.Fatalf("the commands did not run in the job's directory: %v", err)
	}
}

func TestTheFirstFailureStopsTheRun(t *testing.T) {
	res := Run(context.Background(), Spec{Dir: t.TempDir(), Lines: []string{"echo one", "exit 3", "echo never"}})
	if res.Success || !strings.Contains(res.Err, "command 2 of 3 failed (exit status 3): exit 3") ||
		strings.Contains(string(res.Output), "never") {
		t.Fatalf("result %+v, output %q", res, res.Output)
	}
}

// Cancel kills the whole group: a command's children too, at once.
func TestCancelKillsTheProcessGroup(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Result, 1)
	go func() {
		done <- Run(ctx, Spec{Dir: dir, Lines: []string{"(sleep 30; touch survived) & echo $! > child; sleep 30"}})
	}()
	var pid []byte
	for deadline := time.Now().Add(10 * time.Second); len(pid) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the command did not start")
		}
		pid, _ = os.ReadFile(filepath.Join(dir, "child"))
	}
	cancel()
	select {
	case res := <-done:
		if res.Success || !res.Canceled || !strings.Contains(res.Err, "canceled while command 1 of 1 ran") {
			t.Fatalf("result %+v", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a canceled run did not end")
	}
	// Killed, it is gone or a zombie waiting for init to reap it.
	stat := "/proc/" + strings.TrimSpace(string(pid)) + "/stat"
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(stat)
		if f := strings.Fields(string(b)); err != nil || len(f) > 2 && f[2] == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %s outlived the canceled run: %s", strings.TrimSpace(string(pid)), b)
		}
	}
}

func TestOutputIsCappedWithAMarker(t *testing.T) {
	res := Run(context.Background(), Spec{Dir: t.TempDir(), MaxOutput: 1000, Lines: []string{"head -c 5000 /dev/zero | tr '\\\\0' x"}})
	if !res.Success || !res.Cut || len(res.Output) != 1000 || !strings.HasSuffix(string(res.Output), CutMarker) {
		t.Fatalf("cut %v, %d bytes ending %q", res.Cut, len(res.Output), res.Output[max(0, len(res.Output)-60):])
	}
}

// A command that leaves a child running (and holding its output) still
// succeeds once it exits.
func TestABackgroundChildDoesNotHoldTheRun(t *testing.T) {
	start := time.Now()
	res := Run(context.Background(), Spec{Dir: t.TempDir(), Lines: []string{"sleep 20 & echo started"}})
	if !res.Success || time.Since(start) > 10*time.Second {
		t.Fatalf("result %+v after %s", res, time.Since(start))
	}
}
