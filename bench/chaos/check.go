package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/bench/internal/harness"
)

// Report is what a run did and what its checks found.
type Report struct {
	Seed          int64   `json:"seed"`
	Seconds       float64 `json:"seconds"`
	Ops           int     `json:"ops"`
	Acked         int     `json:"acked"`
	Refused       int     `json:"refused"`
	Indeterminate int     `json:"indeterminate"`
	Creates       int     `json:"createsAcked"`
	Pauses        int     `json:"pausesAcked"` // of one-time schedules, each resumed later
	Deliveries    int     `json:"deliveries"`
	Faults        []fault `json:"faults"`
	// Lateness of first deliveries of runs due outside fault windows.
	LatenessN   int           `json:"latenessN"`
	LatenessP50 time.Duration `json:"latenessP50"`
	LatenessP99 time.Duration `json:"latenessP99"`
	LatenessMax time.Duration `json:"latenessMax"`
	Events      int           `json:"events"`
	CronRuns    int           `json:"cronRuns"`   // occurrences of the crons called
	ListedRuns  int           `json:"listedRuns"` // runs of the crons the workload's listings showed
	// LinearizableOps were checked by porcupine; Linearizable is its
	// verdict (Ok, Illegal, or Unknown if it ran out of time).
	LinearizableOps int      `json:"linearizableOps"`
	Linearizable    string   `json:"linearizable"`
	Violations      []string `json:"violations"`
	// Notes are what a run saw that is no violation (a node that stopped
	// slowly and was killed).
	Notes []string `json:"notes,omitempty"`
	// Excerpt is the history of the schedules the violations name: what
	// the clients sent and were told, and the calls the receiver took.
	Excerpt []string `json:"excerpt,omitempty"`
}

var violationKey = regexp.MustCompile(`\b(k\d+|/c/cron\d+)\b`)

// excerpt fills r.Excerpt with the history of up to five keys the
// violations name.
func (r *Report) excerpt(ops []op, got map[string][]delivery) {
	seen := map[string]bool{}
	for _, v := range r.Violations {
		for _, key := range violationKey.FindAllString(v, -1) {
			if seen[key] || len(seen) == 5 {
				continue
			}
			seen[key] = true
			for _, o := range ops {
				if o.Key == key {
					r.Excerpt = append(r.Excerpt, fmt.Sprintf("%s %s..%s %s via %s → %d %s %s", key, o.Start.Format("15:04:05.000"),
						o.End.Format("15:04:05.000"), o.Kind, o.Node, o.Code, o.Status, o.Observed))
				}
			}
			for _, d := range got[key] {
				r.Excerpt = append(r.Excerpt, fmt.Sprintf("%s %s called: run %s by %s, payload %q", key, d.At.Format("15:04:05.000"),
					d.RunID, d.FiredBy, d.Payload))
			}
		}
	}
}

func (r *Report) violate(format string, args ...any) {
	if len(r.Violations) < 50 {
		r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
	}
}

// Lateness bounds: a first delivery of a run due outside any fault window
// (and this long after one) must come within latenessP99Target at p99.
const (
	faultShadow       = 2 * time.Second
	latenessP99Target = 500 * time.Millisecond
)

// checkRuns holds the history of the clients and the receiver's
// deliveries against the schedules' final state read from the leader:
// every acknowledged create is kept and fired under its own run id with
// the payload its acknowledged update gave it; an acknowledged delete
// leaves no later call and the schedule DELETED; a refused create never
// fires; nothing fires that no client created.
func checkRuns(r *Report, ops []op, got map[string][]delivery, final func(id string) (string, error), faults []fault) {
	creates := map[string]op{}
	changes := map[string]op{}
	pauses, resumes := map[string]op{}, map[string]op{}
	for _, o := range ops {
		switch o.Kind {
		case "create":
			creates[o.Key] = o
		case "update", "delete":
			changes[o.Key] = o
		case "pause":
			pauses[o.Key] = o
		case "resume":
			resumes[o.Key] = o
		}
	}
	for key := range got {
		if _, ok := creates[key]; !ok && !strings.HasPrefix(key, "/c/") {
			r.violate("deliveries for %q, which no client created", key)
		}
	}
	var late []time.Duration
	for key, c := range creates {
		ds := got[key]
		for _, d := range ds {
			if c.ScheduleID != "" && d.RunID != c.ScheduleID || len(ds) > 0 && d.RunID != ds[0].RunID {
				r.violate("%s delivered under run id %s (schedule %s, first delivery %s)", key, d.RunID, c.ScheduleID, ds[0].RunID)
			}
		}
		checkFencing(r, key, ds)
		if c.Refused() && len(ds) > 0 {
			r.violate("create %s was refused (%d) but fired %d times", key, c.Code, len(ds))
		}
		if !c.Acked() {
			continue
		}
		ch, changed := changes[key]
		status, err := final(c.ScheduleID)
		if err != nil {
			r.violate("acknowledged create %s (%s): %v", key, c.ScheduleID, err)
			continue
		}
		deleted := changed && ch.Kind == "delete"
		pause, paused := pauses[key]
		paused = paused && !pause.Refused()
		resume, resumed := resumes[key]
		if paused {
			checkPaused(r, key, pause, resume, resumed, ds)
		}
		switch {
		case paused && !(resumed && resume.Acked()):
			// The resume was not acknowledged: it is paused, or the resume
			// took and it ran.
			if status != "PAUSED" && status != "SUCCESS" || status == "SUCCESS" && pause.Acked() && !resumed {
				r.violate("%s: paused (%d) and not resumed (%d), ends %s", key, pause.Code, resume.Code, status)
			}
			continue
		case deleted && ch.Acked():
			if status != "DELETED" {
				r.violate("%s: delete acknowledged at %s, status %s", key, ch.End.Format("15:04:05.000"), status)
			}
			for _, d := range ds {
				if d.At.After(ch.End) {
					r.violate("%s: called at %s, after its delete was acknowledged at %s", key,
						d.At.Format("15:04:05.000"), ch.End.Format("15:04:05.000"))
				}
			}
			continue
		case deleted && !ch.Refused() && status == "DELETED":
			continue // an indeterminate delete that took
		case status != "SUCCESS":
			r.violate("acknowledged create %s (%s) ends %s, not SUCCESS", key, c.ScheduleID, status)
		case len(ds) == 0:
			r.violate("acknowledged create %s (%s) due %s never fired", key, c.ScheduleID, time.Unix(c.Due, 0).Format("15:04:05"))
		}
		// The payloads a call may carry: the create's, unless an update was
		// acknowledged (then only its), or may have taken (then either).
		payloads := map[string]bool{c.Payload: true}
		if changed && ch.Kind == "update" {
			switch {
			case ch.Acked():
				payloads = map[string]bool{ch.Payload: true}
			case !ch.Refused():
				payloads[ch.Payload] = true
			}
		}
		for _, d := range ds {
			if !payloads[d.Payload] {
				r.violate("%s delivered payload %q (create %q, update %q code %d)", key, d.Payload, c.Payload, ch.Payload, ch.Code)
			}
		}
		if len(ds) > 0 && !paused && !inShadow(time.Unix(c.Due, 0), faults) {
			late = append(late, ds[0].At.Sub(time.Unix(c.Due, 0)))
		}
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	r.LatenessN = len(late)
	if len(late) > 0 {
		r.LatenessP50, r.LatenessP99 = harness.Percentile(late, 50), harness.Percentile(late, 99)
		r.LatenessMax = late[len(late)-1]
		if r.LatenessP99 > latenessP99Target {
			r.violate("lateness outside faults: p99 %s (target %s), max %s over %d runs", r.LatenessP99, latenessP99Target,
				r.LatenessMax, len(late))
		}
	}
}

// checkPaused holds a paused one-time schedule to its pause: no call from
// the moment the pause was acknowledged until the resume was sent (an
// indeterminate pause may have taken late, so it fences nothing).
func checkPaused(r *Report, key string, pause, resume op, resumed bool, ds []delivery) {
	if !pause.Acked() {
		return
	}
	for _, d := range ds {
		if d.At.After(pause.End) && (!resumed || d.At.Before(resume.Start)) {
			r.violate("%s: called at %s while paused (pause acknowledged at %s, resume sent %s)", key, d.At.Format("15:04:05.000"),
				pause.End.Format("15:04:05.000"), resume.Start.Format("15:04:05.000"))
		}
	}
}

// checkListedRuns holds what the API lists of a cron's past runs to what
// the receiver took: one run id per occurrence, the one its calls carried,
// and a run listed SUCCESS was called with its id.
func checkListedRuns(r *Report, ops []op, crons []cronJob, got map[string][]delivery) {
	for _, j := range crons {
		delivered := map[string]bool{}
		byTime := map[int64]string{} // occurrence → run id, as called or listed first
		for _, d := range got[j.Key] {
			delivered[d.RunID] = true
			if _, ok := byTime[d.Scheduled]; !ok {
				byTime[d.Scheduled] = d.RunID
			}
		}
		for _, o := range ops {
			if o.Kind != "runs" || o.Key != j.Key || !o.Acked() {
				continue
			}
			r.ListedRuns += len(o.Listed)
			for _, run := range o.Listed {
				if id, ok := byTime[run.ScheduledTime]; ok && id != run.RunID {
					r.violate("cron %s: occurrence %s listed as run %s via %s, but called (or listed) as run %s", j.Key,
						time.Unix(run.ScheduledTime, 0).Format("15:04:05"), run.RunID, o.Node, id)
				} else if !ok {
					byTime[run.ScheduledTime] = run.RunID
				}
				if run.Status == "SUCCESS" && !delivered[run.RunID] {
					r.violate("cron %s: run %s (%s) listed SUCCESS via %s, but never called", j.Key, run.RunID,
						time.Unix(run.ScheduledTime, 0).Format("15:04:05"), o.Node)
				}
			}
		}
	}
}

// checkCrons holds each cron to firing every second of its life: every
// occurrence from its creation to its delete is called (late ones after a
// fault included: the misfire threshold is ten minutes), every call of one
// occurrence carries one run id, fencing holds for each, and nothing is
// called for an occurrence after the delete was acknowledged.
func checkCrons(r *Report, crons []cronJob, got map[string][]delivery) {
	for _, j := range crons {
		bySecond := map[int64][]delivery{}
		for _, d := range got[j.Key] {
			bySecond[d.Scheduled] = append(bySecond[d.Scheduled], d)
		}
		r.CronRuns += len(bySecond)
		first, last := j.Created.Unix()+1, j.DeleteSent.Unix()-1
		for t := first; t <= last; t++ {
			if len(bySecond[t]) == 0 {
				r.violate("cron %s: its occurrence %s was never called", j.Key, time.Unix(t, 0).Format("15:04:05"))
			}
		}
		for t, ds := range bySecond {
			for _, d := range ds[1:] {
				if d.RunID != ds[0].RunID {
					r.violate("cron %s: occurrence %s called under run ids %s and %s", j.Key,
						time.Unix(t, 0).Format("15:04:05"), ds[0].RunID, d.RunID)
				}
			}
			checkFencing(r, fmt.Sprintf("cron %s at %s", j.Key, time.Unix(t, 0).Format("15:04:05")), ds)
			if !j.Deleted.IsZero() && t > j.Deleted.Unix()+1 {
				r.violate("cron %s: occurrence %s called after the delete was acknowledged at %s", j.Key,
					time.Unix(t, 0).Format("15:04:05"), j.Deleted.Format("15:04:05.000"))
			}
		}
	}
}

// checkFencing holds the calls of one run to fencing: once a leader of
// term T has called it, no leader of an earlier term may (a deposed
// leader must stop before its successor starts).
func checkFencing(r *Report, key string, ds []delivery) {
	var newest uint64
	var by string
	for _, d := range ds { // in the order they arrived
		_, t, ok := strings.Cut(d.FiredBy, "/")
		term, err := strconv.ParseUint(t, 10, 64)
		if !ok || err != nil {
			r.violate("%s: a call without a valid X-Chronicle-Fired-By (%q)", key, d.FiredBy)
			continue
		}
		if term < newest {
			r.violate("%s: called by %s at %s, after %s had called it (a deposed leader kept calling)", key, d.FiredBy,
				d.At.Format("15:04:05.000"), by)
		}
		if term > newest {
			newest, by = term, d.FiredBy
		}
	}
}

// inShadow reports whether t falls in a fault or within faultShadow after
// it (or a second before it).
func inShadow(t time.Time, faults []fault) bool {
	for _, f := range faults {
		if !t.Before(f.Start.Add(-time.Second)) && !t.After(f.End.Add(faultShadow)) {
			return true
		}
	}
	return false
}

// sameLogs fetches every node's event log through /events once they have
// all applied the same last seq, and reports the count of events, or why
// they differ.
func sameLogs(c *cluster, within time.Duration) (int, error) {
	deadline := time.Now().Add(within)
	for {
		logs := make([][]byte, len(c.nodes))
		var n int
		var err error
		for i, node := range c.nodes {
			if logs[i], n, err = allEvents(c.client, node.URL()); err != nil {
				break
			}
		}
		if err == nil && bytes.Equal(logs[0], logs[1]) && bytes.Equal(logs[1], logs[2]) {
			return n, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return 0, err
			}
			return 0, fmt.Errorf("the nodes' event logs differ after %s", within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func allEvents(client *http.Client, base string) ([]byte, int, error) {
	var all []json.RawMessage
	for after := uint64(0); ; {
		res, err := client.Get(fmt.Sprintf("%s/events?limit=1000&after=%d", base, after))
		if err != nil {
			return nil, 0, err
		}
		var page struct {
			Events []json.RawMessage `json:"events"`
			Next   uint64            `json:"next"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("GET %s/events: %w", base, err)
		}
		if len(page.Events) == 0 {
			b, err := json.Marshal(all)
			return b, len(all), err
		}
		all, after = append(all, page.Events...), page.Next
	}
}

// sameProjections runs `chronicle replay` on every stopped node's data
// dir: each must hold the events the cluster's log had (events), rebuild
// its projections identically from them, and every node's projections
// must equal the others'.
func sameProjections(bin string, nodes []*harness.Node, events int) error {
	var first map[string]string
	for _, n := range nodes {
		out, err := exec.Command(bin, "replay", "--data-dir", n.Dir, "--json").Output()
		var rep struct {
			Identical   bool `json:"identical"`
			Events      int  `json:"events"`
			Projections map[string]struct {
				Live string `json:"live"`
			} `json:"projections"`
		}
		if jerr := json.Unmarshal(out, &rep); jerr != nil {
			return fmt.Errorf("replay of %s: %v (%v)", n.ID, jerr, err)
		}
		if !rep.Identical {
			return fmt.Errorf("replay of %s: its projections differ from a rebuild of its log", n.ID)
		}
		if rep.Events != events {
			return fmt.Errorf("replay of %s: %d events in its stopped store, the cluster's log had %d", n.ID, rep.Events, events)
		}
		sums := map[string]string{}
		for name, p := range rep.Projections {
			sums[name] = p.Live
		}
		if first == nil {
			first = sums
			continue
		}
		for name, sum := range first {
			if sums[name] != sum {
				return fmt.Errorf("projection %s of %s differs from %s's", name, n.ID, nodes[0].ID)
			}
		}
	}
	return nil
}
