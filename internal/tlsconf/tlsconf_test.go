package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/internal/testcerts"
)

func TestLoadChecksTheFiles(t *testing.T) {
	dir := t.TempDir()
	ca, err := testcerts.NewCA(dir, "cluster")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcerts.NewCA(dir, "other")
	if err != nil {
		t.Fatal(err)
	}
	good, err := ca.Issue(dir, "n1", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue(dir, "n2", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Files{Cert: good.Cert, Key: good.Key, CA: ca.File}); err != nil {
		t.Fatalf("a certificate of the CA: %v", err)
	}
	for _, c := range []struct {
		name string
		f    Files
		want string
	}{
		{"no CA", Files{Cert: good.Cert, Key: good.Key}, "all of --tls-cert, --tls-key and --tls-ca"},
		{"another CA's certificate", Files{Cert: foreign.Cert, Key: foreign.Key, CA: ca.File}, "not signed by --tls-ca"},
		{"a key of another certificate", Files{Cert: good.Cert, Key: foreign.Key, CA: ca.File}, "--tls-key"},
		{"a CA file without a certificate", Files{Cert: good.Cert, Key: good.Key, CA: good.Key}, "no PEM certificate"},
		{"a missing file", Files{Cert: good.Cert, Key: good.Key, CA: dir + "/nope.pem"}, "--tls-ca"},
	} {
		if _, err := Load(c.f); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.want)
		}
	}
}

// A renewed certificate is served without a restart; a broken renewal
// keeps the previous one.
func TestRenewedCertificateIsServed(t *testing.T) {
	dir := t.TempDir()
	ca, err := testcerts.NewCA(dir, "cluster")
	if err != nil {
		t.Fatal(err)
	}
	first, err := ca.Issue(dir, "n1", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Load(Files{Cert: first.Cert, Key: first.Key, CA: ca.File})
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		c, err := set.API().GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.String()
	}
	before := serial()
	renewed, err := ca.Issue(t.TempDir(), "n1", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{renewed.Cert: first.Cert, renewed.Key: first.Key} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Minute)
		if err := os.Chtimes(to, later, later); err != nil {
			t.Fatal(err)
		}
	}
	set.cert.lastCheck = time.Time{} // as if reloadEvery had passed
	after := serial()
	if after == before {
		t.Fatal("the renewed certificate is not served")
	}
	if err := os.WriteFile(first.Cert, []byte("half a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	set.cert.lastCheck = time.Time{}
	if got := serial(); got != after {
		t.Fatalf("a broken renewal replaced the certificate: %s, want %s", got, after)
	}
}
