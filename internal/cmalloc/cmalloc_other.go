//go:build !(linux && cgo)

// Package cmalloc tunes the C allocator that Pebble's block caches and
// memtables come from (Pebble allocates them with C malloc, outside the Go
// heap). Importing it is enough: the tuning runs when the binary loads.
package cmalloc

// ArenaCap is 0: without glibc (or cgo) there is nothing to tune.
func ArenaCap() int { return 0 }
