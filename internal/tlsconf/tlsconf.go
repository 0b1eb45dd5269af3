// Package tlsconf loads a node's certificate, key and cluster CA
// (--tls-cert, --tls-key, --tls-ca) and gives the TLS configuration of
// each role the node plays: the HTTPS API (client certificates optional,
// checked against the CA when given), the client of the other members'
// APIs, and both ends of the Raft transport, which is mutual TLS: a
// process without a certificate the CA signed can neither dial a member
// nor be dialled by one.
//
// The certificate and key are read again when their files change (checked
// at most every reloadEvery), so short-lived certificates can be renewed
// without a restart; the CA is read once.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Files names the PEM files.
type Files struct {
	Cert, Key, CA string
}

// Enabled reports whether any file is named.
func (f Files) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// Set is a node's TLS material.
type Set struct {
	pool *x509.CertPool
	cert *reloader
}

// Load reads and checks the files: all three are needed, the key must
// match the certificate, and the CA must have signed the certificate for
// use by both servers and clients (a member is both).
func Load(f Files) (*Set, error) {
	if f.Cert == "" || f.Key == "" || f.CA == "" {
		return nil, errors.New("TLS needs all of --tls-cert, --tls-key and --tls-ca")
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", f.CA)
	}
	r := &reloader{certFile: f.Cert, keyFile: f.Key}
	if err := r.load(); err != nil {
		return nil, err
	}
	leaf := r.cert.Leaf
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			return nil, fmt.Errorf("--tls-cert %s is not signed by --tls-ca %s for %s use: %w", f.Cert, f.CA, usageName(usage), err)
		}
	}
	return &Set{pool: pool, cert: r}, nil
}

func usageName(u x509.ExtKeyUsage) string {
	if u == x509.ExtKeyUsageServerAuth {
		return "server"
	}
	return "client"
}

// API is the HTTPS API's configuration: any client may connect; one that
// shows a certificate must show one the CA signed, and is then known to
// be a member (see Peer).
func (s *Set) API() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.cert.server,
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: s.pool}
}

// Client is the configuration of a member calling another member (its API
// or its Raft port): the peer's certificate must come from the CA and name
// the address dialled, and this member shows its own.
func (s *Set) Client() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.pool, GetClientCertificate: s.cert.client}
}

// Raft is the Raft listener's configuration: the dialler must show a
// certificate the CA signed.
func (s *Set) Raft() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.cert.server,
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: s.pool}
}

// Peer reports whether a connection's client showed a certificate the CA
// signed: only members have one.
func Peer(cs *tls.ConnectionState) bool {
	return cs != nil && len(cs.VerifiedChains) > 0
}

// reloadEvery bounds how often the certificate files are looked at.
const reloadEvery = 10 * time.Second

// reloader serves the certificate, reading it again when its files
// change. A renewal that does not load (a half-written file) keeps the
// previous certificate until the next look.
type reloader struct {
	certFile, keyFile string

	mu        sync.Mutex
	cert      *tls.Certificate
	modCert   time.Time
	modKey    time.Time
	lastCheck time.Time
}

func (r *reloader) load() error {
	mc, mk := modTime(r.certFile), modTime(r.keyFile)
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("--tls-cert %s / --tls-key %s: %w", r.certFile, r.keyFile, err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return fmt.Errorf("--tls-cert %s: %w", r.certFile, err)
		}
	}
	r.cert, r.modCert, r.modKey = &c, mc, mk
	return nil
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

func (r *reloader) current() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.lastCheck) >= reloadEvery {
		r.lastCheck = now
		if !modTime(r.certFile).Equal(r.modCert) || !modTime(r.keyFile).Equal(r.modKey) {
			_ = r.load() // on failure the previous certificate stays
		}
	}
	return r.cert
}

func (r *reloader) server(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.current(), nil }

func (r *reloader) client(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.current(), nil
}
