// Package command runs a run's commands (karajo's command jobs): each line
// in turn with /bin/sh -c, in the job's directory, with a fixed PATH and
// the run's counter as the whole environment, its output (stdout and
// stderr as they come) kept up to a cap. The commands and their children
// are one process group: a canceled run kills all of it. It knows nothing
// of actors, Raft or storage.
package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Path is the PATH commands run with: a fixed one, so a job does not
// depend on the environment the server was started in.
const Path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Spec is what one run runs.
type Spec struct {
	Lines []string
	Dir   string   // absolute; made if missing
	Env   []string // beside PATH, "NAME=value"
	// MaxOutput bounds the output kept (its start, then CutMarker).
	MaxOutput int
}

// CutMarker ends an output that was cut at Spec.MaxOutput.
const CutMarker = "\n[output cut: the rest was not kept]\n"

// Result is what happened to a run.
type Result struct {
	Success    bool
	Canceled   bool // ctx ended first: the commands were killed
	Err        string
	Output     []byte
	Cut        bool
	StartedAt  time.Time
	FinishedAt time.Time
}

// waitDelay bounds how long a killed command's output is still read.
const waitDelay = 2 * time.Second

// Run runs s's lines in order, stopping at the first that fails, until
// they end or ctx does (then every process of the group is killed). Each
// line's output is preceded by "$ <line>", as a terminal shows it.
func Run(ctx context.Context, s Spec) (res Result) {
	res.StartedAt = time.Now()
	out := &capped{max: s.MaxOutput}
	defer func() {
		res.Output, res.Cut, res.FinishedAt = out.bytes(), out.cut, time.Now()
	}()
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		res.Err = fmt.Sprintf("the job's directory: %v", err)
		return res
	}
	env := append([]string{"PATH=" + Path}, s.Env...)
	for i, line := range s.Lines {
		if ctx.Err() != nil {
			res.Canceled, res.Err = true, "canceled before command "+position(i, len(s.Lines))
			return res
		}
		fmt.Fprintf(out, "$ %s\n", line)
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", line)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = s.Dir, env, out, out
		cmd.Stdin = nil
		groupOf(cmd)
		cmd.WaitDelay = waitDelay
		err := cmd.Run()
		if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
			err = nil // it succeeded; a child it left running kept its output open
		}
		switch {
		case ctx.Err() != nil:
			res.Canceled, res.Err = true, fmt.Sprintf("canceled while command %s ran: %s", position(i, len(s.Lines)), clip(line))
			return res
		case err != nil:
			res.Err = fmt.Sprintf("command %s failed (%v): %s", position(i, len(s.Lines)), exitOf(err), clip(line))
			return res
		}
	}
	res.Success = true
	return res
}

func position(i, n int) string { return fmt.Sprintf("%d of %d", i+1, n) }

// exitOf says how a command ended: its exit status, or why it did not run.
func exitOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ProcessState.String() // "exit status 3", "signal: killed"
	}
	return err.Error()
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return strings.TrimSpace(s)
}

// capped keeps the first max bytes written to it (max ≤ 0: all), then
// CutMarker; it is written by the command's two streams at once.
type capped struct {
	mu  sync.Mutex
	max int
	b   []byte
	cut bool
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return len(p), nil
	}
	room := len(p)
	if c.max > 0 {
		room = min(room, c.max-len(CutMarker)-len(c.b))
	}
	if room < len(p) {
		c.b = append(append(c.b, p[:max(room, 0)]...), CutMarker...)
		c.cut = true
		return len(p), nil
	}
	c.b = append(c.b, p...)
	return len(p), nil
}

func (c *capped) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.b...)
}
