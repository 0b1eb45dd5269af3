package projections

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/cockroachdb/pebble/v2"
)

// Runs' outputs (RunOutput): p/out/<runId> holds one (a flag byte, 1 if
// it was cut, then the bytes), p/outs/<schedule>\0<seq:8> lists a
// schedule's by the seq of their RunOutput event, oldest first, so the
// oldest beyond the schedule's KeepOutputs can go, event and all.
func outKey(runID string) []byte                 { return join([]byte(pOut), []byte(runID)) }
func outsPrefix(schedule string) []byte          { return join([]byte(pOuts), []byte(schedule), nul) }
func outsKey(schedule string, seq uint64) []byte { return join(outsPrefix(schedule), u64(seq)) }

// DefaultKeepOutputs is how many outputs a schedule whose KeepOutputs is
// 0 keeps (karajo's log_retention default).
const DefaultKeepOutputs = 5

// runOutput keeps a fired run's output, then drops its schedule's oldest
// beyond what it keeps: their records, and their RunOutput events from the
// log. It comes before the run's RunCompleted, while the run is in flight.
func (a *applier) runOutput(p *event.RunOutput) error {
	pr, err := a.pendingRun(p.RunID, p.ScheduleID)
	if err != nil {
		return err
	}
	if !pr.Fired || pr.Kind == KindExpiry {
		return fmt.Errorf("%w: %s", ErrRunNotFired, p.RunID)
	}
	s, err := a.schedule(pr.ScheduleID)
	if err != nil {
		return err
	}
	if _, found, err := a.output(p.RunID); err != nil {
		return err
	} else if found {
		return fmt.Errorf("%w: %s already has its output", ErrRunNotPending, p.RunID)
	}
	flag := byte(0)
	if p.Cut {
		flag = 1
	}
	if err := a.b.Set(outKey(p.RunID), append([]byte{flag}, p.Output...), nil); err != nil {
		return err
	}
	if err := a.b.Set(outsKey(s.ScheduleID, a.ev.Seq), []byte(p.RunID), nil); err != nil {
		return err
	}
	keep := s.Jobs().KeepOutputs
	if keep == 0 {
		keep = DefaultKeepOutputs
	}
	return a.dropOutputs(s.ScheduleID, keep)
}

// dropOutputs drops schedule's outputs but its keep newest.
func (a *applier) dropOutputs(schedule string, keep int) error {
	type kept struct {
		key   []byte
		seq   uint64
		runID string
	}
	var all []kept
	err := scanPrefix(a.b, outsPrefix(schedule), nil, func(k, v []byte) (bool, error) {
		all = append(all, kept{append([]byte(nil), k...), binary.BigEndian.Uint64(k[len(k)-8:]), string(v)})
		return true, nil
	})
	if err != nil || len(all) <= keep {
		return err
	}
	for _, o := range all[:len(all)-keep] {
		for _, k := range [][]byte{o.key, outKey(o.runID)} {
			if err := a.b.Delete(k, nil); err != nil {
				return err
			}
		}
		if err := eventlog.Remove(a.b, o.seq); err != nil {
			return fmt.Errorf("output of %s: %w", o.runID, err)
		}
	}
	return nil
}

func (a *applier) output(runID string) ([]byte, bool, error) { return readOutput(a.b, runID) }

func readOutput(r pebble.Reader, runID string) ([]byte, bool, error) {
	v, closer, err := r.Get(outKey(runID))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read output of %s: %w", runID, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// RunOutput returns what run runID's commands wrote, and whether that was
// cut; found is false for a run with no output kept (an HTTP call, one
// not finished, or one older than its schedule keeps).
func (q Reader) RunOutput(runID string) (output []byte, cut, found bool, err error) {
	v, found, err := readOutput(q.R, runID)
	if err != nil || !found || len(v) == 0 {
		return nil, false, found, err
	}
	return v[1:], v[0] == 1, true, nil
}
