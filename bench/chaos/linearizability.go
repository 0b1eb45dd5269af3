package chaos

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/anishathalye/porcupine"
)

// The schedule registry as a linearizability model, one one-time schedule
// per partition (the workload acts on each by its key). A schedule is
// created, may be updated, deleted, paused and resumed, and, on its own
// while not paused, fires (RunFired: an update or a pause is then refused)
// and completes (GET shows SUCCESS): those two steps are not operations,
// so the model lets them happen before any operation (porcupine's
// nondeterministic model).

type regInput struct {
	Key     string
	Kind    string // create, update, delete, pause, resume, get
	Payload string // a create's or an update's
}

type regOutput struct {
	Unknown bool // no answer, or a 5xx: it may or may not have taken effect
	Code    int
	Status  string // a get's
	Payload string // a get's
}

type regState struct {
	Exists, Deleted, Paused, Fired, Done bool
	Payload                              string
}

var registryModel = porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, o := range history {
			k := o.Input.(regInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], o)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{regState{}} },
	Step: func(state, input, output interface{}) []interface{} {
		var next []interface{}
		for _, s := range firings(state.(regState)) {
			next = append(next, stepRegistry(s, input.(regInput), output.(regOutput))...)
		}
		return next
	},
	Equal: func(a, b interface{}) bool { return a.(regState) == b.(regState) },
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(regInput), output.(regOutput)
		res := fmt.Sprintf("%d", out.Code)
		if out.Unknown {
			res = "unknown"
		}
		if in.Kind == "get" {
			res += " " + out.Status + " " + out.Payload
		}
		return fmt.Sprintf("%s(%s %s) → %s", in.Kind, in.Key, in.Payload, res)
	},
	DescribeState: func(state interface{}) string { return fmt.Sprintf("%+v", state.(regState)) },
}

// firings are the states s may be in by the next operation: as it is, or
// fired (and completed) since, unless it is paused.
func firings(s regState) []regState {
	out := []regState{s}
	if s.Exists && !s.Deleted && !s.Paused && !s.Fired {
		s.Fired = true
		out = append(out, s)
	}
	if s.Exists && !s.Deleted && s.Fired && !s.Done {
		s.Done = true
		out = append(out, s)
	}
	return out
}

// stepRegistry returns the states an operation with this answer may leave
// s in; none if the answer is impossible from s.
func stepRegistry(s regState, in regInput, out regOutput) []interface{} {
	unchanged := []interface{}{s}
	var took regState // the state if the operation took effect
	valid := true     // whether it can take effect from s
	switch in.Kind {
	case "create":
		valid = !s.Exists
		took = regState{Exists: true, Payload: in.Payload}
	case "update":
		valid = s.Exists && !s.Deleted && !s.Fired
		took = s
		took.Payload = in.Payload
	case "delete":
		valid = s.Exists && !s.Deleted
		took = s
		took.Deleted = true
	case "pause":
		valid = s.Exists && !s.Deleted && !s.Paused && !s.Fired
		took = s
		took.Paused = true
	case "resume":
		valid = s.Exists && !s.Deleted && s.Paused
		took = s
		took.Paused = false
	case "get":
		if out.Unknown {
			return unchanged
		}
		switch {
		case out.Code == 404 && !s.Exists,
			out.Code == 200 && out.Status == "DELETED" && s.Deleted && out.Payload == s.Payload,
			out.Code == 200 && out.Status == "PAUSED" && s.Exists && !s.Deleted && s.Paused && out.Payload == s.Payload,
			out.Code == 200 && out.Status == "SCHEDULED" && s.Exists && !s.Deleted && !s.Paused && !s.Done && out.Payload == s.Payload,
			out.Code == 200 && out.Status == "SUCCESS" && s.Exists && !s.Deleted && s.Done && out.Payload == s.Payload:
			return unchanged
		}
		return nil
	}
	switch {
	case out.Unknown && valid:
		return []interface{}{s, took}
	case out.Unknown:
		return unchanged
	case out.Code/100 == 2:
		if valid {
			return []interface{}{took}
		}
		return nil
	case in.Kind == "update" && out.Code == 409: // its run was called
		if s.Exists && !s.Deleted && s.Fired {
			return unchanged
		}
		return nil
	case in.Kind == "pause" && out.Code == 409: // paused already, or its run was called
		if s.Exists && !s.Deleted && (s.Paused || s.Fired) {
			return unchanged
		}
		return nil
	case in.Kind == "resume" && out.Code == 409: // not paused
		if s.Exists && !s.Deleted && !s.Paused {
			return unchanged
		}
		return nil
	case out.Code == 404: // there is no such schedule (any more)
		if !s.Exists || s.Deleted {
			return unchanged
		}
		return nil
	}
	return unchanged // another refusal changes nothing
}

// checkLinearizable checks the clients' history of each schedule against
// the model; on a violation it writes porcupine's visualization to dir.
func checkLinearizable(r *Report, ops []op, dir string) {
	var history []porcupine.Operation
	for _, o := range ops {
		if o.Kind == "runs" {
			continue // a listing of a cron's runs: checkListedRuns
		}
		if o.Kind == "create" && !o.Acked() {
			continue // nothing acts on it afterwards (its id is unknown)
		}
		unknown := o.Code == 0 || o.Code >= 500
		if o.Kind == "get" && unknown {
			continue
		}
		ret := o.End.UnixNano()
		if unknown {
			ret = math.MaxInt64 // it may take effect at any time after it was sent
		}
		history = append(history, porcupine.Operation{
			ClientId: o.Client,
			Input:    regInput{Key: o.Key, Kind: o.Kind, Payload: o.Payload},
			Call:     o.Start.UnixNano(),
			Output:   regOutput{Unknown: unknown, Code: o.Code, Status: o.Status, Payload: o.Observed},
			Return:   ret,
		})
	}
	r.LinearizableOps = len(history)
	model := registryModel.ToModel()
	result, info := porcupine.CheckOperationsVerbose(model, history, 60*time.Second)
	r.Linearizable = string(result)
	if result == porcupine.Illegal {
		path := filepath.Join(dir, fmt.Sprintf("chaos-%d-linearizability.html", r.Seed))
		if err := os.MkdirAll(dir, 0o755); err == nil && porcupine.VisualizePath(model, info, path) == nil {
			r.violate("the history of operations on schedules is not linearizable: see %s", path)
		} else {
			r.violate("the history of operations on schedules is not linearizable")
		}
	}
}
