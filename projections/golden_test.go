package projections

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/cockroachdb/pebble/v2"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.expected.json from the current apply rules")

// goldenState is what a user would read after the golden log is applied:
// every app, every schedule the log ever created (or its absence), a
// cron's recorded runs, and each schedule's history by event type.
type goldenState struct {
	Apps      []App                   `json:"apps"`
	Schedules map[string]*Schedule    `json:"schedules"` // nil: removed by retention
	CronRuns  map[string][]Schedule   `json:"cronRuns"`
	History   map[string][]event.Type `json:"history"`
	Pending   map[string][]PendingRun `json:"pending"`
}

// TestGoldenLogReplays applies a log written by a real node with schema
// version 1 (every event type; see testdata/README.md). The file is never
// regenerated: a change that cannot decode, re-encode or apply it, or that
// changes what it means, fails here. Only the expected state may be
// rewritten (-update), and only for a deliberate change of a read model.
func TestGoldenLogReplays(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "golden-v1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newWorld(t)
	created := []string{}
	seen := map[event.Type]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		ev, err := event.Decode(line)
		if err != nil {
			t.Fatalf("decode %s: %v", line, err)
		}
		if again, err := event.Encode(ev); err != nil || !bytes.Equal(again, line) {
			t.Fatalf("event %d does not re-encode to its stored bytes:\n got %s\nwant %s", ev.Seq, again, line)
		}
		p, err := ev.Payload()
		if err != nil {
			t.Fatalf("payload of event %d: %v", ev.Seq, err)
		}
		if data, _ := json.Marshal(p); !bytes.Equal(data, ev.Data) {
			t.Fatalf("payload of event %d changed shape:\n got %s\nwant %s", ev.Seq, data, ev.Data)
		}
		if c, ok := p.(*event.ScheduleCreated); ok {
			created = append(created, c.ScheduleID)
		}
		seen[ev.Type] = true
		b := w.db.NewIndexedBatch()
		if _, err := Apply(b, ev, nil); err != nil {
			t.Fatalf("apply event %d (%s): %v", ev.Seq, ev.Type, err)
		}
		if err := eventlog.Append(b, ev); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for typ := event.TypeAppRegistered; typ <= event.TypeEventsCompacted; typ++ {
		if !seen[typ] {
			t.Errorf("the golden log has no %s event", typ)
		}
	}

	got := goldenState{Schedules: map[string]*Schedule{}, CronRuns: map[string][]Schedule{},
		History: map[string][]event.Type{}, Pending: map[string][]PendingRun{}}
	q := w.q()
	if got.Apps, err = q.Apps(); err != nil {
		t.Fatal(err)
	}
	for _, id := range created {
		s, ok, err := q.Schedule(id)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			got.Schedules[id] = nil
			continue
		}
		got.Schedules[id] = &s
		if s.IsCron() {
			page, err := q.PastRuns(s, 100, "")
			if err != nil {
				t.Fatal(err)
			}
			got.CronRuns[id] = page.Items
		}
		h, err := q.ScheduleEvents(id, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		got.History[id] = types(h.Events)
		pending, err := (&applier{b: w.db.NewIndexedBatch()}).pendingOf(id)
		if err != nil {
			t.Fatal(err)
		}
		got.Pending[id] = pending
	}
	gotJSON, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	expectedPath := filepath.Join("testdata", "golden-v1.expected.json")
	if *updateGolden {
		if err := os.WriteFile(expectedPath, append(gotJSON, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(expectedPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(want), gotJSON) {
		t.Fatalf("the golden log now means something else; state after replay:\n%s\n\nexpected (%s):\n%s",
			gotJSON, expectedPath, want)
	}
}
