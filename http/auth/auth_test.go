package auth

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/event"
)

func TestClusterProofIsBoundToSecretRequestAndTime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const secret = "a-cluster-secret-of-some-length"
	proof := Proof(secret, "POST", "/internal/propose", now)
	if strings.Contains(proof, secret) {
		t.Fatal("the proof carries the secret")
	}
	if !VerifyProof(secret, proof, "POST", "/internal/propose", now.Add(30*time.Second)) {
		t.Fatal("a fresh proof is refused")
	}
	for _, c := range []struct {
		name, secret, header, method, path string
		at                                 time.Time
	}{
		{"another secret", "another-secret-another-secret", proof, "POST", "/internal/propose", now},
		{"another path", secret, proof, "POST", "/cluster/announce", now},
		{"another method", secret, proof, "GET", "/internal/propose", now},
		{"two minutes later", secret, proof, "POST", "/internal/propose", now.Add(2 * time.Minute)},
		{"from the future", secret, proof, "POST", "/internal/propose", now.Add(-2 * time.Minute)},
		{"garbage", secret, "t=abc,v1=00", "POST", "/internal/propose", now},
		{"empty", secret, "", "POST", "/internal/propose", now},
	} {
		if VerifyProof(c.secret, c.header, c.method, c.path, c.at) {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

func TestPrincipalScopes(t *testing.T) {
	scoped := Principal{ID: "tok_1", Role: "writer", Apps: map[string]bool{"web": true}}
	reader := Principal{ID: "tok_2", Role: "reader"}
	if scoped.Check("web", true) != nil || scoped.Check("batch", false) == nil || scoped.Admin() {
		t.Fatal("an app-scoped writer")
	}
	if reader.Check("web", false) != nil || reader.Check("web", true) == nil {
		t.Fatal("a reader")
	}
	if !(Principal{Role: "admin"}).Admin() || (Principal{Role: "admin", Apps: map[string]bool{"web": true}}).Admin() {
		t.Fatal("an admin limited to apps is not an admin of everything")
	}
}

// The console's static files are open (they hold no data); nothing else
// becomes open with them: not another method, not a path that only starts
// like them, not the APIs the page calls.
func TestOnlyTheConsoleFilesAreOpen(t *testing.T) {
	c := Config{AdminToken: strings.Repeat("a", 20)}
	for _, tc := range []struct {
		method, path string
		open         bool
	}{
		{"GET", "/ui", true}, {"GET", "/ui/", true}, {"HEAD", "/ui/app.js", true}, {"GET", "/ui/style.css", true},
		{"POST", "/ui/", false}, {"DELETE", "/ui/app.js", false}, {"GET", "/uix", false}, {"GET", "/ui.js", false},
		{"GET", "/UI/", false}, {"GET", "/goscheduler/apps", false}, {"GET", "/events", false}, {"GET", "/cluster", false},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		_, err := c.authorize(r)
		if open := err == nil; open != tc.open {
			t.Errorf("%s %s without a token: open %v, want %v (%v)", tc.method, tc.path, open, tc.open, err)
		}
	}
}

func TestOnlyReadsOfTheOpenPathsAreOpen(t *testing.T) {
	for _, c := range []struct {
		method, path string
		open         bool
	}{
		{"GET", "/openapi.json", true}, {"HEAD", "/livez", true}, {"GET", "/goscheduler/healthcheck", true},
		{"POST", "/openapi.json", false}, {"GET", "/openapi.json/x", false}, {"GET", "/goscheduler/apps", false},
	} {
		if got := open(httptest.NewRequest(c.method, c.path, nil)); got != c.open {
			t.Errorf("%s %s: open %v, want %v", c.method, c.path, got, c.open)
		}
	}
}

// Writes under SignedWrites need no token (their handler checks their
// signature) and act as ActorSigned, a writer of SignedApps only; reads
// there, and writes elsewhere, still need a token.
func TestSignedWritesNeedNoToken(t *testing.T) {
	c := Config{AdminToken: "admin-token-for-the-test", Now: time.Now, SignedWrites: []string{"/karajo/api/"},
		SignedApps: []string{"karajo"}}
	p, err := c.authorize(httptest.NewRequest("POST", "/karajo/api/job_exec/pause", nil))
	if err != nil || p.ID != event.ActorSigned || p.Role != event.RoleWriter || !p.Apps["karajo"] || len(p.Apps) != 1 {
		t.Fatalf("a signed write: %+v, %v", p, err)
	}
	for _, c2 := range []struct{ method, path string }{
		{"GET", "/karajo/api/environment"}, {"POST", "/karajo/apix"}, {"POST", "/goscheduler/schedules"},
	} {
		if _, err := c.authorize(httptest.NewRequest(c2.method, c2.path, nil)); err == nil {
			t.Errorf("%s %s without a token was let through", c2.method, c2.path)
		}
	}
}
