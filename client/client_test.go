package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The client against what is not a Chronicle node: the proxies and load
// balancers in front of one. The client's behaviour with real nodes is
// tested in cmd/chronicle (TestClientLifecycle, TestCLI*), against real
// servers.

// An answer that is not the native envelope (a proxy's HTML error page)
// is still an *APIError, with the start of the body as its message and
// Retry-After kept, so a caller can back off.
func TestClientErrorFromAProxy(t *testing.T) {
	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.EscapedPath()
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>\n<body>502   Bad Gateway</body>\n</html>" + strings.Repeat("x", 300)))
	}))
	defer srv.Close()
	c, err := New(srv.URL + "/chronicle/")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Schedule(context.Background(), "a/b?c")
	var e *APIError
	if !errors.As(err, &e) {
		t.Fatalf("want an *APIError, got %v", err)
	}
	if e.StatusCode != 502 || e.Code != 502 || e.RetryAfter != 7*time.Second || !strings.HasPrefix(e.Message, "<html> <body>502 Bad Gateway</body>") ||
		len(e.Message) > 210 || e.Temporary() {
		t.Fatalf("got %+v", e)
	}
	// The prefix is kept and the id stays one segment.
	if gotPath != "/chronicle/goscheduler/schedules/a%2Fb%3Fc" {
		t.Fatalf("the request went to %s", gotPath)
	}
}

// A node's health check failure carries its reason; a 503 is temporary.
func TestClientHealthReason(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"statusMessage":"Fail","reason":"no leader"}`))
	}))
	defer srv.Close()
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Healthy(context.Background())
	var e *APIError
	if !errors.As(err, &e) || e.Message != "no leader" || !e.Temporary() || e.Error() != "503 service unavailable: no leader" {
		t.Fatalf("got %v", err)
	}
}

func TestClientNewRefusesWhatIsNotAServer(t *testing.T) {
	for _, u := range []string{"localhost:8080", "ftp://x", "http://", "http://h/?a=b", "http://u:p@h", "://"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) took it", u)
		}
	}
	c, err := New("https://10.0.0.1:8080/")
	if err != nil || c.BaseURL() != "https://10.0.0.1:8080" {
		t.Fatalf("%v %v", c, err)
	}
}

// TestNewNeverRepeatsCredentials: a server URL with a user and password
// is refused without writing the password into the error (it ends up on a
// terminal or in a CI log).
func TestNewNeverRepeatsCredentials(t *testing.T) {
	for _, raw := range []string{"http://user:SECRETPW@node1:8080", "http://user:SECRETPW@node1:8080/%zz", "ftp://user:SECRETPW@node1"} {
		_, err := New(raw)
		if err == nil || strings.Contains(err.Error(), "SECRETPW") {
			t.Errorf("New(%q): %v", raw, err)
		}
	}
}
