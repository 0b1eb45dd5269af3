// Package buildinfo says which build of Chronicle is running: the version
// stamped at link time, else what the Go toolchain recorded of the module
// and its source control (commit, time, local changes).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Stamped is set at link time for releases:
//
//	go build -ldflags "-X github.com/chronicle-sched/chronicle/internal/buildinfo.Stamped=v1.2.3"
var Stamped string

// Info is what a build knows of itself.
type Info struct {
	Version  string `json:"version"`            // Stamped, the module version, or "devel"
	Commit   string `json:"commit,omitempty"`   // VCS revision, 12 hex digits
	Time     string `json:"time,omitempty"`     // commit time (RFC 3339)
	Modified bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	Go       string `json:"go"`                 // Go release that built it
}

// Read reports this build.
func Read() Info {
	info := Info{Version: "devel", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	if ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value[:min(12, len(s.Value))]
			case "vcs.time":
				info.Time = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if Stamped != "" {
		info.Version = Stamped
	}
	return info
}

// String is the one line `chronicle --version` prints.
func (i Info) String() string {
	s := "chronicle " + i.Version
	if i.Commit != "" {
		s += " (commit " + i.Commit
		if i.Modified {
			s += ", modified"
		}
		if i.Time != "" {
			s += ", " + i.Time
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s %s/%s", s, i.Go, runtime.GOOS, runtime.GOARCH)
}
