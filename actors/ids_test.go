package actors

import (
	"regexp"
	"testing"
	"time"
)

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// Ids are UUIDv7 and strictly increasing in the order they are stamped:
// many in one millisecond (more than the 12-bit counter holds), and after
// the clock steps back.
func TestScheduleIDsAreIncreasingUUIDv7(t *testing.T) {
	now := time.Now()
	prev := ""
	random := map[string]bool{} // the 48 random bits at the end: never reused
	for i := 0; i < 10_000; i++ {
		at := now
		if i == 6_000 {
			now = now.Add(-time.Second) // the clock is stepped back
		}
		id := newScheduleID(at)
		if !uuidV7.MatchString(id) {
			t.Fatalf("id %d %q is not a UUIDv7", i, id)
		}
		if id <= prev {
			t.Fatalf("id %d %q is not above the one before, %q", i, id, prev)
		}
		if random[id[24:]] {
			t.Fatalf("id %d %q repeats the random bits of an earlier id", i, id)
		}
		random[id[24:]] = true
		prev = id
	}
	later := newScheduleID(time.Now().Add(time.Hour))
	if later[:13] <= prev[:13] {
		t.Fatalf("an id an hour later %q does not carry a later timestamp than %q", later, prev)
	}
}
