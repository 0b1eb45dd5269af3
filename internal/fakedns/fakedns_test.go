package fakedns

import (
	"context"
	"net/netip"
	"testing"
)

func TestAnyNameResolvesToTheAnswer(t *testing.T) {
	s, err := Start(netip.MustParseAddr("169.254.169.254"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ips, err := s.Resolver().LookupHost(context.Background(), "metadata.example.test")
	if err != nil || len(ips) != 1 || ips[0] != "169.254.169.254" {
		t.Fatalf("lookup: %v %v", ips, err)
	}
}
