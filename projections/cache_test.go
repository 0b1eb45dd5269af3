package projections

import (
	"errors"
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/cockroachdb/pebble/v2"
)

// applyCached applies p through a CachingBatch over c, as the FSM does.
func (w *world) applyCached(c *RecordCache, p event.Payload) error {
	w.t.Helper()
	ev, err := event.New(p, w.now, "n1")
	if err != nil {
		w.t.Fatal(err)
	}
	w.seq++
	ev.Seq = w.seq
	b := w.db.NewIndexedBatch()
	defer b.Close()
	if _, err := Apply(NewCachingBatch(b, c), ev, nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		w.t.Fatal(err)
	}
	return nil
}

// The cache answers "absent" for schedule ids above every stored one
// without a lookup; duplicates are refused whether they are above, at or
// below that mark, with a cache that saw them written or one that only
// learnt the mark from the store.
func TestScheduleIDsAboveTheHighestAreNewAndDuplicatesAreStillRefused(t *testing.T) {
	w := newWorld(t)
	w.must(event.AppRegistered{AppID: "a", Partitions: 1, Active: true})
	create := func(id string) event.ScheduleCreated {
		return event.ScheduleCreated{ScheduleID: id, AppID: "a", ScheduleTime: 1_800_000_000, Callback: cb}
	}
	w.must(create("s5")) // written before any cache: only in the store
	c := NewRecordCache(100)
	if err := c.LearnScheduleKeys(w.db); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		id   string
		dupe bool
	}{{"s5", true}, {"s9", false}, {"s9", true}, {"s3", false}, {"s3", true}, {"s7", false}, {"sA", false}} {
		err := w.applyCached(c, create(step.id))
		if step.dupe != errors.Is(err, ErrScheduleExists) || (!step.dupe && err != nil) {
			t.Fatalf("create %s: %v (duplicate: %v)", step.id, err, step.dupe)
		}
	}
	fresh := NewRecordCache(100)
	if err := fresh.LearnScheduleKeys(w.db); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"sA", "s9", "s3", "s5"} {
		if err := w.applyCached(fresh, create(id)); !errors.Is(err, ErrScheduleExists) {
			t.Fatalf("create %s again with a cache that learnt the store: %v", id, err)
		}
	}
	if err := w.applyCached(fresh, create("sB")); err != nil {
		t.Fatalf("create sB: %v", err)
	}
	for _, id := range []string{"s3", "s5", "s7", "s9", "sA", "sB"} {
		w.schedule(id)
	}
}
