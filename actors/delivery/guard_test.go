package delivery

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/chronicle-sched/chronicle/internal/fakedns"
)

func guardedClient(g *Guard, r *net.Resolver) *Client {
	return NewClient(ClientOptions{Logger: slog.New(slog.DiscardHandler), Guard: g, Resolver: r})
}

// Callbacks to a cloud metadata address are refused whether the URL names
// it, a host name resolves to it, or a redirect leads to it; each time the
// outcome names the rule, and no retry is made.
func TestMetadataAddressesAreRefusedAtDialTime(t *testing.T) {
	dns, err := fakedns.Start(netip.MustParseAddr("169.254.169.254"))
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()
	redirector := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	c := guardedClient(NewGuard(DefaultDeny, nil, nil), dns.Resolver())
	for name, req := range map[string]Request{
		"literal":  request("http://169.254.169.254/latest/meta-data/", "GET"),
		"resolved": request("http://metadata.example.test/latest/meta-data/", "GET"),
		"redirect": func() Request { r := request(redirector.URL+"/", "GET"); r.FollowRedirects = true; return r }(),
	} {
		out := c.Deliver(context.Background(), req, fast())
		if out.Success || out.Attempts != 1 || !strings.Contains(out.ErrorMessage, "callback to 169.254.169.254:80 refused") ||
			!strings.Contains(out.ErrorMessage, "169.254.0.0/16") {
			t.Errorf("%s: %+v, want refused at once naming the rule", name, out)
		}
	}
	if n := len(redirector.Calls()); n != 1 {
		t.Fatalf("the redirector was called %d times, want once (no retry of a refused hop)", n)
	}
}

// Loopback receivers work by default; a range can be denied, and then a
// name resolving into it is refused too; allow wins over deny but never
// over the cluster's own addresses.
func TestGuardRules(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	if out := guardedClient(NewGuard(DefaultDeny, nil, nil), nil).Deliver(context.Background(),
		request(rc.URL+"/ok", "POST"), fast()); !out.Success {
		t.Fatalf("a loopback receiver under the default guard: %+v", out)
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(rc.URL, "http://"))
	out := guardedClient(NewGuard(loopback, nil, nil), nil).Deliver(context.Background(),
		request("http://localhost:"+port+"/x", "POST"), fast())
	if out.Success || !strings.Contains(out.ErrorMessage, "refused") {
		t.Fatalf("localhost with loopback denied: %+v", out)
	}
	own := func() []string { return []string{strings.TrimPrefix(rc.URL, "http://")} }
	g := NewGuard(DefaultDeny, loopback, own)
	if err := g.Check("169.254.169.254:80"); err == nil {
		t.Fatal("allowing loopback allowed a metadata address")
	}
	g = NewGuard(DefaultDeny, []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32"), loopback[0]}, own)
	if err := g.Check("169.254.169.254:80"); err != nil {
		t.Fatalf("an allowed address: %v", err)
	}
	if err := g.Check(strings.TrimPrefix(rc.URL, "http://")); err == nil || !strings.Contains(err.Error(), "this Chronicle cluster") {
		t.Fatalf("an own address, although in an allowed range: %v", err)
	}
	if err := g.CheckURL("http://[fe80::1]:8080/x"); err == nil {
		t.Fatal("a literal link-local URL passed CheckURL")
	}
	if err := g.CheckURL("https://example.com/x"); err != nil {
		t.Fatalf("a name is checked when resolved, not at create: %v", err)
	}
	if _, err := ParseCIDRs("10.0.0.0/8, 192.0.2.1,bogus"); err == nil {
		t.Fatal("a bad CIDR list parsed")
	}
}
