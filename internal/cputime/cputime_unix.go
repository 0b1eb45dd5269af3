//go:build unix

// Package cputime reads how much CPU time this process has used, for the
// figures that say how many cores a phase kept busy.
package cputime

import (
	"syscall"
	"time"
)

// Process is the user and system CPU time this process used so far (0
// where the platform does not say).
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
