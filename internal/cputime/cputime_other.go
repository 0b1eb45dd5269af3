//go:build !unix

// Package cputime reads how much CPU time this process has used, for the
// figures that say how many cores a phase kept busy.
package cputime

import "time"

// Process is 0 here: this platform's CPU time is not read.
func Process() time.Duration { return 0 }
