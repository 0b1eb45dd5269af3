package keboola

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

// A manual run's tasks are compared with the orchestration's by content:
// parameters' key order and the PHP client's nulls do not matter, active
// does; any other difference is JOB_VALIDATION.
func TestOverridesCompareTasksByContent(t *testing.T) {
	tasks := []event.Task{
		{ID: 7, URL: "https://c.example.com/run", Parameters: `{"mode":"full","config":"123"}`, Phase: "1", Active: true},
		{ID: 8, Component: "wr-db", Action: "run", Active: false},
	}
	given := `[{"componentUrl":"https://c.example.com/run","component":null,"action":null,
	  "actionParameters":{"config":"123","mode":"full"},"continueOnFailure":false,"timeoutMinutes":null,"active":false,"phase":1},
	 {"component":"wr-db","action":"run","actionParameters":[],"active":true,"phase":null}]`
	active := map[int]bool{}
	if err := overrides(tasks, json.RawMessage(given), active); err != nil {
		t.Fatalf("the same tasks refused: %v", err)
	}
	if active[7] || !active[8] {
		t.Fatalf("active by task id: %v", active)
	}
	var jv *jobValidation
	changed := `[{"componentUrl":"https://c.example.com/run","actionParameters":{"config":"124","mode":"full"},"phase":1},
	  {"component":"wr-db","action":"run"}]`
	if err := overrides(tasks, json.RawMessage(changed), map[int]bool{}); !errors.As(err, &jv) || jv.Message != "Task 1 is different from orchestration task." {
		t.Fatalf("a changed parameter: %v", err)
	}
	if err := overrides(tasks, json.RawMessage(`[{"component":"wr-db","action":"run"}]`), map[int]bool{}); !errors.As(err, &jv) {
		t.Fatalf("one task of two: %v", err)
	}
}
