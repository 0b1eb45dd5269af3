//go:build linux && cgo

package main

// #include <malloc.h>
import "C"

import (
	"os"
	"time"
)

// tameMalloc keeps glibc's allocator from holding on to memory Pebble has
// freed. Pebble keeps its block caches and memtables in C memory; glibc
// gives threads that allocate arenas of their own (up to 8 per core), and
// the block cache's churn of ~32 KB blocks leaves free space inside them
// that glibc rarely gives back. In the one-hour soak at 1,000 runs/s the
// arenas held 524 MB of RSS for the 181 MB Pebble had allocated 24
// minutes in, and RSS still grew 6 MB a minute at the end while the Go
// heap and Pebble's own accounting were flat (bench/RESULTS.md, "Soak").
// Fewer arenas (unless the operator set MALLOC_ARENA_MAX) leave less free
// space stranded, and malloc_trim every interval returns the free pages
// of every arena to the system: at minute 7 of the same soak RSS was
// 360 MB against 489 MB without, with the same lateness.
func tameMalloc(interval time.Duration) {
	if _, set := os.LookupEnv("MALLOC_ARENA_MAX"); !set {
		C.mallopt(C.M_ARENA_MAX, 2)
	}
	go func() {
		for range time.Tick(interval) {
			C.malloc_trim(0)
		}
	}()
}
