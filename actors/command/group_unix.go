//go:build unix

package command

import (
	"os/exec"
	"syscall"
)

// groupOf makes cmd the leader of a process group of its own, and its
// cancellation kill the whole group: a job's children (a build's compiler,
// a sleep in a script) die with it rather than outliving the run.
func groupOf(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
