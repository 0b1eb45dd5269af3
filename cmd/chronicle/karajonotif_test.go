package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/internal/testcerts"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailbox is a real SMTP server (go-smtp) offering STARTTLS and AUTH
// PLAIN with one user, keeping the messages it accepts.
type mailbox struct {
	addr  string
	roots *x509.CertPool
	mu    sync.Mutex
	mails []mail
}

type mail struct {
	from, user string
	to         []string
	tls        bool
	data       string
}

func startMailbox(t *testing.T, user, password string) *mailbox {
	t.Helper()
	cert, roots, err := testcerts.Server(t.TempDir(), "mail", "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	m := &mailbox{roots: roots}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mailSession{m: m, c: c, user: user, password: password}, nil
	}))
	srv.Domain, srv.TLSConfig = "localhost", &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return m
}

func (m *mailbox) received() []mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mail(nil), m.mails...)
}

type mailSession struct {
	m              *mailbox
	c              *smtp.Conn
	user, password string
	authed         string
	from           string
	to             []string
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.user || pass != s.password {
			return smtp.ErrAuthFailed
		}
		s.authed = user
		return nil
	}), nil
}
func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.authed == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = append(s.to, to); return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.c.TLSConnectionState()
	s.m.mu.Lock()
	s.m.mails = append(s.m.mails, mail{from: s.from, user: s.authed, to: s.to, tls: isTLS, data: string(b)})
	s.m.mu.Unlock()
	return nil
}
func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }

// karajo's notifications arrive: by SMTP (STARTTLS, AUTH with the user and
// password read from the environment) for a command job's success and
// another's failure, with the run's output; by a signed webhook for an
// HTTP job's failure (karajo notifies only command jobs) and a success;
// each recorded as a NotificationSent event in the job's history.
func TestKarajoNotificationsArrive(t *testing.T) {
	dir := t.TempDir()
	mb := startMailbox(t, "robot", "mail-pass")
	t.Setenv("KJ_SMTP_USER", "robot")
	t.Setenv("KJ_SMTP_PASS", "mail-pass")
	rc := newReceiver(t)
	rc.answer("/ping", 500)
	cfg := testConfig(t, filepath.Join(dir, "data"))
	cfg.notify.RootCAs = mb.roots
	cfg.notify.Policy.MaxAttempts, cfg.notify.Policy.InitialBackoff = 2, 10*time.Millisecond
	cfg.karajoConfig = writeKarajo(t, dir, fmt.Sprintf(`
[notif "mail"]
kind = email
smtp_server = smtp+starttls://%s
smtp_user = $KJ_SMTP_USER
smtp_password = $KJ_SMTP_PASS
from = karajo@example.com
to = ops@example.com
to = dev@example.com

[notif "hook"]
kind = webhook
url = %s
secret = hook-secret

[job "fine"]
interval = 1s
command = echo all fine
notif_on_success = mail
notif_on_success = hook

[job "broken"]
interval = 1s
command = echo about to fail
command = exit 3
notif_on_failed = mail

[job.http "ping"]
interval = 2s
http_url = %s
notif_on_failed = hook
`, mb.addr, rc.url("/notify"), rc.url("/ping")))
	tn := startTestNode(t, cfg)

	waitFor(t, 20*time.Second, "mails of a success and a failure", func() bool {
		var ok, bad bool
		for _, m := range mb.received() {
			ok = ok || strings.Contains(m.data, "job/fine") && strings.Contains(m.data, "SUCCESS")
			bad = bad || strings.Contains(m.data, "job/broken") && strings.Contains(m.data, "FAILURE")
		}
		return ok && bad
	})
	for _, m := range mb.received() {
		if !m.tls || m.user != "robot" || m.from != "karajo@example.com" || len(m.to) != 2 {
			t.Fatalf("mail from %q to %v (tls %v, user %q)", m.from, m.to, m.tls, m.user)
		}
		if strings.Contains(m.data, "job/broken") && (!strings.Contains(m.data, "about to fail") ||
			!strings.Contains(m.data, "exit status 3")) {
			t.Fatalf("failure mail without the output and the error:\n%s", m.data)
		}
	}

	waitFor(t, 20*time.Second, "webhooks of a success and a failure", func() bool {
		var ok, bad bool
		for _, h := range rc.hitsFor("/notify") {
			ok = ok || strings.Contains(h.Body, `"name":"job/fine"`) && strings.Contains(h.Body, `"status":"SUCCESS"`)
			bad = bad || strings.Contains(h.Body, `"name":"job_http/ping"`) && strings.Contains(h.Body, `"status":"FAILURE"`)
		}
		return ok && bad
	})
	key := "whsec_" + base64.StdEncoding.EncodeToString([]byte("hook-secret"))
	for _, h := range rc.hitsFor("/notify") {
		if !verifyWebhook(key, h.Header.Get("webhook-id"), h.Header.Get("webhook-timestamp"), h.Body, h.Header.Get("webhook-signature")) {
			t.Fatalf("notification webhook not signed with the notif's secret: %v", h.Header)
		}
		var doc struct{ RunID, Status string }
		if err := json.Unmarshal([]byte(h.Body), &doc); err != nil || doc.RunID == "" {
			t.Fatalf("notification body %q", h.Body)
		}
	}

	// Each is in its job's history.
	ids := tn.karajoSchedules()
	waitFor(t, 10*time.Second, "NotificationSent in the histories", func() bool {
		for _, job := range []string{"job/fine", "job/broken", "job_http/ping"} {
			found := false
			for _, ev := range tn.scheduleHistory(ids[job]) {
				found = found || ev.Type == "NotificationSent" && strings.Contains(string(ev.Data), `"status":"sent"`)
			}
			if !found {
				return false
			}
		}
		return true
	})
}
