//go:build linux && cgo

// Package cmalloc tunes the C allocator that Pebble's block caches and
// memtables come from (Pebble allocates them with C malloc, outside the Go
// heap). Importing it is enough: the tuning runs when the binary loads.
package cmalloc

/*
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int arena_cap = 0;

// limit_arenas runs when the binary is loaded, before the Go runtime
// starts a thread: glibc applies M_ARENA_MAX only to arenas made after it.
// It caps the arenas at one per online CPU (at least 2) unless the
// operator chose a cap with MALLOC_ARENA_MAX.
__attribute__((constructor)) static void limit_arenas(void) {
#ifdef M_ARENA_MAX
	if (getenv("MALLOC_ARENA_MAX") != NULL) {
		return;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 2) {
		n = 2;
	}
	if (mallopt(M_ARENA_MAX, (int)n) == 1) {
		arena_cap = (int)n;
	}
#endif
}

static int get_arena_cap(void) { return arena_cap; }

// arena_count is the number of arenas malloc_info reports ("<heap nr="),
// or -1 without glibc (M_ARENA_MAX and malloc_info are glibc's).
static int arena_count(void) {
#ifndef M_ARENA_MAX
	return -1;
#else
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) {
		return -1;
	}
	if (malloc_info(0, f) != 0) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	int n = 0;
	for (char *p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++) {
		n++;
	}
	free(buf);
	return n;
#endif
}
*/
import "C"

import "runtime"

// ArenaCap is the cap on glibc malloc arenas this process set when it
// loaded, or 0 if it set none (MALLOC_ARENA_MAX in the environment, or a
// C library without the setting).
//
// glibc gives each thread that calls malloc an arena of its own, up to
// eight per core, and an arena keeps memory that was freed in it. Pebble
// allocates and frees its cache blocks and memtables from whichever thread
// runs at the moment, so over a long load many arenas can each hold freed
// memory. Loaded with 1M pending schedules (bench/suite recovery, 2 cores),
// a node's RSS was 375–549 MB over six runs with glibc's default and
// 375–396 MB over five with two arenas; its growth per pending schedule
// beyond what the caches hold, 115–318 B against 112–258 B (a noisy
// figure either way); creates/s did not move beyond the noise. Go code
// calls malloc only through cgo, from about GOMAXPROCS threads at once,
// so one arena per CPU sees little contention.
func ArenaCap() int { return int(C.get_arena_cap()) }

// arenas is how many malloc arenas exist now (-1 if glibc cannot say).
func arenas() int { return int(C.arena_count()) }

// mallocFromThreads makes `threads` OS threads call malloc at the same
// time, so that glibc makes every arena it is allowed to.
func mallocFromThreads(threads int) {
	start, done := make(chan struct{}), make(chan struct{})
	for i := 0; i < threads; i++ {
		go func() {
			// A thread of its own (never handed back: it exits with the
			// goroutine), so each of them asks glibc for an arena.
			runtime.LockOSThread()
			<-start
			for j := 0; j < 2000; j++ {
				C.free(C.malloc(64 << 10))
			}
			done <- struct{}{}
		}()
	}
	close(start)
	for i := 0; i < threads; i++ {
		<-done
	}
}
