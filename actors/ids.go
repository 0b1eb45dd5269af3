package actors

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"sync"
	"time"
)

// idClock makes the ids this process stamps strictly increasing (RFC 9562
// section 6.2, method 1): the 12 bits after the version nibble count
// within a millisecond, from a random start below 2048; when they run out
// the timestamp moves on a millisecond, and a clock stepped back does not
// move ids back. Ordered ids let apply know a new schedule id is free
// without a lookup (projections.RecordCache) and keep Pebble's writes of
// new schedules at the end of their key range.
var idClock struct {
	sync.Mutex
	ms  uint64
	seq uint16
	// random holds crypto/rand bytes not yet used, read 4 KiB at a time:
	// a read per id was a syscall (or a vDSO call that grew the app
	// actor's fresh goroutine stack on every mailbox run: 4% of a node's
	// CPU in the create benchmark).
	random [4096]byte
	used   int
}

// newScheduleID returns a UUID version 7: 48 bits of Unix milliseconds,
// the 12-bit counter above, then 62 random bits. Ids are stamped here, by
// the proposer, never in apply.
func newScheduleID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	idClock.Lock()
	if idClock.used == 0 || idClock.used+10 > len(idClock.random) {
		if _, err := rand.Read(idClock.random[:]); err != nil {
			idClock.Unlock()
			panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing sane to do
		}
		idClock.used = 0
	}
	idClock.used += copy(b[6:], idClock.random[idClock.used:idClock.used+10])
	if ms > idClock.ms {
		idClock.ms, idClock.seq = ms, uint16(b[6]&0x07)<<8|uint16(b[7])
	} else if idClock.seq++; idClock.seq > 0x0fff {
		idClock.ms, idClock.seq = idClock.ms+1, 0
	}
	ms, seq := idClock.ms, idClock.seq
	idClock.Unlock()
	binary.BigEndian.PutUint64(b[0:8], ms<<16)
	b[6], b[7] = 0x70|byte(seq>>8), byte(seq)
	b[8] = (b[8] & 0x3f) | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	hex.Encode(s[9:13], b[4:6])
	hex.Encode(s[14:18], b[6:8])
	hex.Encode(s[19:23], b[8:10])
	hex.Encode(s[24:36], b[10:16])
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	return string(s[:])
}

// partitionOf spreads schedules over an app's partitions by id.
func partitionOf(id string, partitions int) int {
	if partitions <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(partitions))
}
