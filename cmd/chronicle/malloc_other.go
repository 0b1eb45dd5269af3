//go:build !(linux && cgo)

package main

import "time"

// tameMalloc is glibc's (malloc_glibc.go); elsewhere the C allocator, if
// any, is left as it is.
func tameMalloc(time.Duration) {}
