package actors

import (
	"strings"
	"testing"

	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
)

// A polled job is finished as its isFinished says, else when its status is
// final; Keboola's terminating is not final.
func TestPolledStatus(t *testing.T) {
	for body, want := range map[string]struct {
		status   string
		finished bool
	}{
		`{"status":"processing","isFinished":false}`:  {"error", false},
		`{"status":"success","isFinished":true}`:      {"success", true},
		`{"status":"warning"}`:                        {"warning", true},
		`{"status":"terminating","isFinished":false}`: {"error", false},
		`{"status":"terminated"}`:                     {"error", true},
		`{"status":"terminating"}`:                    {"error", false},
		`{"isFinished":true}`:                         {"error", true},
		`{}`:                                          {"error", false},
		`not json`:                                    {"", false},
	} {
		status, finished := polledStatus(body)
		if finished != want.finished || (finished && status != want.status) {
			t.Errorf("%s: %q finished=%v, want %q %v", body, status, finished, want.status, want.finished)
		}
	}
}

// A task's recorded answer always fits what the log admits, however much
// escaping the text needs.
func TestMessageFitsTheRecord(t *testing.T) {
	for _, s := range []string{strings.Repeat(`"<&>`, 40000), strings.Repeat("é", 50000), "short"} {
		if m := message(s); len(m) > admit.MaxTaskResponse {
			t.Fatalf("message of %d bytes: %d bytes, over %d", len(s), len(m), admit.MaxTaskResponse)
		}
	}
	// An answer longer than the record keeps is cut, and then not JSON:
	// it is kept as a message that fits.
	long := `{"data":"` + strings.Repeat(`\"`, admit.MaxTaskResponse) + `"}`
	if r := jsonResponse(long[:admit.MaxTaskResponse], ""); len(r) > admit.MaxTaskResponse {
		t.Fatalf("a cut answer became %d bytes", len(r))
	}
}

// A 202's Location (or JSON url) is resolved against the task's URL.
func TestPollURL(t *testing.T) {
	cases := map[string]delivery.Outcome{
		"http://c.internal/jobs/7":   {Location: "/jobs/7"},
		"https://q.example.com/j/1":  {Body: `{"url":"https://q.example.com/j/1"}`},
		"http://c.internal/run/next": {Location: "next"},
		"":                           {Body: `{"id":1}`},
	}
	for want, o := range cases {
		if got := pollURL("http://c.internal/run/x", o); got != want {
			t.Errorf("%+v: %q, want %q", o, got, want)
		}
	}
}
