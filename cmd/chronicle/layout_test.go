package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportDirection keeps the one-way flow of data true:
// http → actors → (cluster →) raftfsm → eventlog + projections, with
// eventlog/event a leaf everyone may use. The cluster layer hides Raft:
// http may use it, never raftfsm. A new import that breaks it fails here.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/chronicle-sched/chronicle/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// forbidden[pkg prefix] = import prefixes that package may not import.
	forbidden := map[string][]string{
		mod + "eventlog/event": {mod, "github.com/cockroachdb/pebble", "github.com/hashicorp/raft"},
		mod + "eventlog":       {mod + "projections", mod + "raftfsm", mod + "actors", mod + "http", mod + "cmd"},
		mod + "projections":    {mod + "raftfsm", mod + "actors", mod + "http", mod + "cmd"},
		mod + "raftfsm":        {mod + "actors", mod + "http", mod + "cmd", mod + "cluster"},
		mod + "cluster":        {mod + "actors", mod + "http", mod + "cmd"},
		mod + "actors":         {mod + "http", mod + "cmd", "github.com/cockroachdb/pebble", "github.com/hashicorp/raft"},
		mod + "http":           {mod + "raftfsm", mod + "eventlog", mod + "cmd", "github.com/cockroachdb/pebble", "github.com/hashicorp/raft"},
		// The Go client is for other programs: it links nothing of the
		// server's (no Raft, no Pebble), and its types are its own.
		mod + "client": {mod},
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		rules := rulesFor(pkg, forbidden)
		for _, imp := range imports {
			checked++
			for _, bad := range rules {
				// eventlog/event is the shared vocabulary, eventlog/admit the
				// rules of what the log takes (no store behind either):
				// allowed everywhere.
				if (imp == mod+"eventlog/event" || imp == mod+"eventlog/admit") && bad != mod {
					continue
				}
				if imp == bad || strings.HasPrefix(imp, bad+"/") || (strings.HasSuffix(bad, "/") && strings.HasPrefix(imp, bad)) {
					t.Errorf("%s imports %s: breaks the http → actors → raftfsm → eventlog/projections flow", pkg, imp)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list found no imports: the check ran on nothing")
	}
}

// rulesFor returns the rules of the most specific prefix that matches pkg.
func rulesFor(pkg string, forbidden map[string][]string) []string {
	best := ""
	for prefix := range forbidden {
		if (pkg == prefix || strings.HasPrefix(pkg, prefix+"/")) && len(prefix) > len(best) {
			best = prefix
		}
	}
	return forbidden[best]
}

// TestNoLargeTrackedFiles keeps build outputs and data dumps out of git: a
// 30 MB binary was once committed at the root.
func TestNoLargeTrackedFiles(t *testing.T) {
	const limit = 2 << 20
	out, err := exec.Command("git", "-C", "../..", "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files (the tests run in a git checkout): %v", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	for _, f := range files {
		info, err := os.Stat(filepath.Join("../..", f))
		if err != nil {
			continue // deleted in the work tree, not yet committed
		}
		if info.Size() > limit {
			t.Errorf("%s is tracked and %d bytes (over %d): keep build outputs and data out of git", f, info.Size(), limit)
		}
	}
	if len(files) < 10 {
		t.Fatalf("git ls-files listed %d files: the check ran on nothing", len(files))
	}
}
