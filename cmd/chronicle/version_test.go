package main

import (
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// chronicle --version names the build, and a running node shows the same
// build in GET /cluster: the commit a checkout was built from, and Go.
func TestVersionNamesTheBuild(t *testing.T) {
	bin := chronicleBinary(t)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("chronicle --version: %v\n%s", err, out)
	}
	line := strings.TrimSpace(string(out))
	if !regexp.MustCompile(`^chronicle \S+ (\(commit [0-9a-f]{12}[^)]*\) )?go\S+ \w+/\w+$`).MatchString(line) {
		t.Fatalf("chronicle --version printed %q", line)
	}
	if !strings.Contains(line, runtime.Version()) {
		t.Fatalf("%q does not name %s", line, runtime.Version())
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	commit := ""
	if err == nil { // built in a checkout: the toolchain stamps its commit
		commit = strings.TrimSpace(string(head))[:12]
		if !strings.Contains(line, "(commit "+commit) {
			t.Fatalf("%q does not name the checkout's commit %s", line, commit)
		}
	}
	if again, _ := exec.Command(bin, "version").Output(); strings.TrimSpace(string(again)) != line {
		t.Fatalf("chronicle version printed %q, --version %q", again, line)
	}

	tn := startChild(t, testConfig(t, t.TempDir()), nil)
	b := tn.cluster().Build
	if b.Go != runtime.Version() || b.Commit != commit || !strings.HasPrefix(line, "chronicle "+b.Version+" ") {
		t.Fatalf("GET /cluster build %+v, --version %q", b, line)
	}
}
