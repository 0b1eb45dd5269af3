package peerroute

import (
	"strings"
	"testing"
)

func TestParseAndRoute(t *testing.T) {
	r, err := Parse(" 10.0.0.2:7000=127.0.0.1:17002, 10.0.0.2:8080=127.0.0.1:18002 ,")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Addr("10.0.0.2:7000"); got != "127.0.0.1:17002" {
		t.Fatalf("routed to %s", got)
	}
	if got := r.Addr("10.0.0.3:7000"); got != "10.0.0.3:7000" {
		t.Fatalf("an address without a route went to %s", got)
	}
	if got := Routes(nil).Addr("a:1"); got != "a:1" {
		t.Fatalf("no routes: %s", got)
	}
	for in, want := range map[string]string{
		"a:1":             "want advertised=actual",
		"a=b:2":           `"a" is not host:port`,
		"a:1=b":           `"b" is not host:port`,
		"a:1=b:2,a:1=c:3": "routed twice",
	} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want %q", in, err, want)
		}
	}
}
