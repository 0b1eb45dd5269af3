package actors

import (
	"crypto/rand"
	"encoding/binary"
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
}

// newScheduleID returns a UUID version 7: 48 bits of Unix milliseconds,
// the 12-bit counter above, then 62 random bits. Ids are stamped here, by
// the proposer, never in apply.
func newScheduleID(now time.Time) string {
	var b [16]byte
	if _, err := rand.Read(b[6:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing sane to do
	}
	ms := uint64(now.UnixMilli())
	idClock.Lock()
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
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
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
