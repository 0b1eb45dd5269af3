package workflow

import (
	"reflect"
	"testing"
)

func phase(s string) *string { return &s }

func steps(phases ...*string) []Step {
	out := make([]Step, len(phases))
	for i, p := range phases {
		out[i] = Step{Phase: p, Active: true}
	}
	return out
}

// Keboola's examples: its client tests and its UI's notes.
func TestTasksFallIntoPhases(t *testing.T) {
	for name, c := range map[string]struct {
		steps []Step
		want  [][]int
	}{
		"the issue's [1,1,null,x]": {steps(phase("1"), phase("1"), nil, phase("x")), [][]int{{0, 1}, {2}, {3}}},
		"[10,10,null,null,test]":   {steps(phase("10"), phase("10"), nil, nil, phase("test")), [][]int{{0, 1}, {2}, {3}, {4}}},
		"a name again after another starts anew (11 2 2 11)": {steps(phase("11"), phase("2"), phase("2"), phase("11")),
			[][]int{{0}, {1, 2}, {3}}},
		"all without a phase: one by one": {steps(nil, nil, nil), [][]int{{0}, {1}, {2}}},
		"\"0\" is a name":                 {steps(phase("0"), phase("0"), nil), [][]int{{0, 1}, {2}}},
		"none":                            {nil, nil},
	} {
		if got := Phases(c.steps); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}

// Phases are formed over every task, then inactive ones leave them.
func TestInactiveTasksLeaveTheirPhases(t *testing.T) {
	s := steps(phase("a"), phase("a"), nil, phase("b"), phase("a"))
	s[1].Active, s[2].Active, s[3].Active = false, false, false
	if got, want := Phases(s), [][]int{{0}, {4}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("%v, want %v (the inactive b still separates the two a)", got, want)
	}
}

func TestAJobsStatusComesFromItsTasks(t *testing.T) {
	s := []Step{{Active: true}, {Active: true, ContinueOnFailure: true}, {Active: true}}
	for name, c := range map[string]struct {
		outcomes map[int]string
		want     string
	}{
		"all succeed":                                {map[int]string{0: Success, 1: Success, 2: Success}, Success},
		"a failure allowed to continue":              {map[int]string{0: Success, 1: Error, 2: Success}, Warning},
		"a warning counts as a failure":              {map[int]string{0: Warning}, Error},
		"a plain failure, later phases not run":      {map[int]string{0: Error}, Error},
		"a warning allowed to continue is a warning": {map[int]string{1: Warning, 2: Success, 0: Success}, Warning},
		"nothing ran":                                {nil, Success},
	} {
		if got := JobStatus(s, c.outcomes); got != c.want {
			t.Errorf("%s: %s, want %s", name, got, c.want)
		}
	}
	if !Stops(s[0], Warning) || Stops(s[1], Error) || Stops(s[0], Success) {
		t.Fatal("Stops")
	}
}
