package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/internal/freeport"
	"github.com/chronicle-sched/chronicle/internal/testcerts"
)

// ---- a real SMTP server (emersion/go-smtp) ----------------------------------

type tlsMode int

const (
	implicitTLS tlsMode = iota // smtps://: TLS from the first byte
	startTLS                   // smtp:// offering STARTTLS
	noTLS                      // smtp:// without TLS, AUTH allowed in clear
)

// pki is a test CA and a server certificate it signed for 127.0.0.1.
type pki struct {
	pool *x509.CertPool
	cert tls.Certificate
}

func newPKI(t testing.TB) pki {
	t.Helper()
	cert, pool, err := testcerts.Server(t.TempDir(), "mail", "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	return pki{pool: pool, cert: cert}
}

// received is a message the server accepted, or a DATA it was sent.
type received struct {
	From string
	To   []string
	Data []byte
	User string // who authenticated
	TLS  bool   // whether the session was TLS when the message came
}

// mailServer records what clients do: sessions opened, AUTH exchanges
// begun, messages sent and accepted.
type mailServer struct {
	URL            string
	user, password string
	mechs          []string

	mu       sync.Mutex
	conns    int
	auths    int
	data     []received // every DATA, accepted or not
	accepted []received
	failData int // the next failData DATAs are answered 451
}

func startMail(t testing.TB, p pki, mode tlsMode) *mailServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveMail(t, p, mode, ln)
}

func serveMail(t testing.TB, p pki, mode tlsMode, ln net.Listener) *mailServer {
	t.Helper()
	s := &mailServer{user: "robot", password: "s3cret", mechs: []string{sasl.Plain}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
		return &session{s: s, c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes, srv.MaxRecipients = 1<<20, 10
	srv.ErrorLog = log.New(io.Discard, "", 0)
	conf := &tls.Config{Certificates: []tls.Certificate{p.cert}}
	scheme := "smtp"
	switch mode {
	case implicitTLS:
		ln, scheme = tls.NewListener(ln, conf), "smtps"
	case startTLS:
		srv.TLSConfig = conf
	case noTLS:
		srv.AllowInsecureAuth = true // the server would take a password in clear: the client must not give it
	}
	s.URL = scheme + "://" + ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *mailServer) Accepted() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.accepted...)
}

func (s *mailServer) counts() (conns, auths, data int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns, s.auths, len(s.data)
}

type session struct {
	s    *mailServer
	c    *smtp.Conn
	user string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	return ss.s.mechs
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	ss.s.mu.Lock()
	ss.s.auths++
	ss.s.mu.Unlock()
	check := func(user, pass string) error {
		if user != ss.s.user || pass != ss.s.password {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.c.TLSConnectionState()
	m := received{From: ss.from, To: append([]string(nil), ss.to...), Data: b, User: ss.user, TLS: isTLS}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.data = append(ss.s.data, m)
	if ss.s.failData > 0 {
		ss.s.failData--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	ss.s.accepted = append(ss.s.accepted, m)
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// loginServer is the server's side of AUTH LOGIN: user name, then password.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
	pass  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if resp != nil {
			return nil, false, errors.New("AUTH LOGIN takes no initial response here")
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	case 3:
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected AUTH LOGIN step")
}

// ---- helpers ----------------------------------------------------------------

func fast() delivery.Policy {
	return delivery.Policy{Timeout: 5 * time.Second, MaxAttempts: 3, InitialBackoff: 5 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond}
}

// newNotifier starts a notifier whose outcomes arrive on the channel it
// returns; it is closed when the test ends.
func newNotifier(t testing.TB, o Options) (*Notifier, chan Outcome) {
	t.Helper()
	ch := make(chan Outcome, 100)
	o.Done = func(out Outcome) { ch <- out }
	if o.Policy == (delivery.Policy{}) {
		o.Policy = fast()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	n := New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n, ch
}

func next(t testing.TB, ch chan Outcome) Outcome {
	t.Helper()
	select {
	case out := <-ch:
		return out
	case <-time.After(20 * time.Second):
		t.Fatal("no outcome within 20s")
	}
	return Outcome{}
}

func waitUntil(t testing.TB, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (s *mailServer) email() Email {
	return Email{Server: s.URL, User: "robot", Password: "s3cret", From: "Chronicle <chronicle@example.test>",
		To: []string{"ops@example.test", "Zoë Ops <zoe@example.test>"}}
}

func mustSend(t testing.TB, n *Notifier, nt Notification) {
	t.Helper()
	if err := n.Send(context.Background(), nt); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

// ---- email ------------------------------------------------------------------

// Over implicit TLS and over STARTTLS, the message arrives as written: the
// envelope, From, To, a subject not in ASCII, and a body with lines that
// start with dots and letters not in ASCII; every line ends in CRLF.
func TestMailArrivesExactlyOverTLS(t *testing.T) {
	p := newPKI(t)
	const subject = "Run failed: «nightly-export» ☕ café — 3 of 4"
	const body = "The run failed.\n.a line that starts with a dot\n..and one with two\n.\nÜnïcödé: 日本語\n"
	for name, mode := range map[string]tlsMode{"smtps": implicitTLS, "starttls": startTLS} {
		t.Run(name, func(t *testing.T) {
			srv := startMail(t, p, mode)
			n, ch := newNotifier(t, Options{RootCAs: p.pool})
			mustSend(t, n, Notification{ID: "run-1/failed/email", Subject: subject, Body: body, Channel: srv.email()})
			out := next(t, ch)
			if !out.Success || out.Attempts != 1 || out.Channel != "email" || out.ID != "run-1/failed/email" ||
				out.Error != "" || out.Status != 250 {
				t.Fatalf("outcome %+v", out)
			}
			got := srv.Accepted()
			if len(got) != 1 {
				t.Fatalf("%d messages accepted, want 1", len(got))
			}
			m := got[0]
			if m.From != "chronicle@example.test" || strings.Join(m.To, ",") != "ops@example.test,zoe@example.test" ||
				m.User != "robot" || !m.TLS {
				t.Fatalf("envelope %q → %q, user %q, TLS %v", m.From, m.To, m.User, m.TLS)
			}
			if i := bytes.IndexByte(bytes.ReplaceAll(m.Data, []byte("\r\n"), nil), '\n'); i >= 0 {
				t.Fatalf("a bare LF in the message at %d:\n%q", i, m.Data)
			}
			msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
			if err != nil {
				t.Fatal(err)
			}
			h := msg.Header
			dec := new(mime.WordDecoder)
			if s, err := dec.DecodeHeader(h.Get("Subject")); err != nil || s != subject {
				t.Errorf("Subject %q decodes to %q (%v), want %q", h.Get("Subject"), s, err, subject)
			}
			if !strings.HasPrefix(h.Get("Subject"), "=?utf-8?q?") {
				t.Errorf("Subject %q is not RFC 2047-encoded", h.Get("Subject"))
			}
			if from, err := h.AddressList("From"); err != nil || len(from) != 1 ||
				from[0].Name != "Chronicle" || from[0].Address != "chronicle@example.test" {
				t.Errorf("From %q: %v %v", h.Get("From"), from, err)
			}
			if to, err := h.AddressList("To"); err != nil || len(to) != 2 || to[0].Address != "ops@example.test" ||
				to[1].Name != "Zoë Ops" || to[1].Address != "zoe@example.test" {
				t.Errorf("To %q: %v %v", h.Get("To"), to, err)
			}
			if d, err := h.Date(); err != nil || time.Since(d) > time.Minute || time.Since(d) < -time.Minute {
				t.Errorf("Date %q: %v", h.Get("Date"), err)
			}
			if id := h.Get("Message-ID"); id != messageID("run-1/failed/email", "chronicle@example.test") ||
				!strings.HasSuffix(id, "@example.test>") {
				t.Errorf("Message-ID %q", id)
			}
			if ct := h.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			text, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.ReplaceAll(body, "\n", "\r\n"); string(text) != want {
				t.Errorf("body\n%q\nwant\n%q", text, want)
			}
		})
	}
}

// Long subjects are folded into lines of at most 78 characters and read
// back exactly.
func TestLongSubjectsAreFoldedAndReadBackExactly(t *testing.T) {
	p := newPKI(t)
	srv := startMail(t, p, startTLS)
	n, ch := newNotifier(t, Options{RootCAs: p.pool})
	subjects := []string{
		strings.TrimSpace(strings.Repeat("run nightly-export failed  ", 18)), // ASCII, two spaces in a row
		strings.TrimSpace(strings.Repeat("échec de l’export ☕ ", 12)),
		strings.Repeat("x", maxSubject),
	}
	for i, s := range subjects {
		mustSend(t, n, Notification{ID: "long-" + strconv.Itoa(i), Subject: s, Body: "b\n", Channel: srv.email()})
		if out := next(t, ch); !out.Success {
			t.Fatalf("subject %d: %+v", i, out)
		}
	}
	got := srv.Accepted()
	if len(got) != len(subjects) {
		t.Fatalf("%d messages", len(got))
	}
	for i, m := range got {
		head, _, _ := bytes.Cut(m.Data, []byte("\r\n\r\n"))
		for _, line := range strings.Split(string(head), "\r\n") {
			if limit := 78; len(line) > limit && i < 2 {
				t.Errorf("subject %d: a header line of %d characters: %q", i, len(line), line)
			}
		}
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		if s, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil || s != subjects[i] {
			t.Errorf("subject %d reads back as %q (%v)", i, s, err)
		}
	}
	err := n.Send(context.Background(), Notification{ID: "x", Subject: strings.Repeat("x", maxSubject+1),
		Channel: srv.email()})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "subject is longer") {
		t.Fatalf("a subject too long: %v", err)
	}
}

// A server that offers only AUTH LOGIN is spoken to in LOGIN.
func TestAuthLoginWhenThatIsWhatTheServerOffers(t *testing.T) {
	p := newPKI(t)
	srv := startMail(t, p, startTLS)
	srv.mu.Lock()
	srv.mechs = []string{sasl.Login}
	srv.mu.Unlock()
	n, ch := newNotifier(t, Options{RootCAs: p.pool})
	mustSend(t, n, Notification{ID: "login", Subject: "s", Body: "b\n", Channel: srv.email()})
	if out := next(t, ch); !out.Success {
		t.Fatalf("outcome %+v", out)
	}
	if got := srv.Accepted(); len(got) != 1 || got[0].User != "robot" {
		t.Fatalf("accepted %+v", got)
	}
}

// Over smtp:// without STARTTLS the client refuses at once: the server,
// which would take a password in clear, never sees AUTH nor the mail.
// AllowPlain lets it through on loopback (the tests' escape hatch).
func TestCredentialsAreNeverSentInClear(t *testing.T) {
	p := newPKI(t)
	srv := startMail(t, p, noTLS)
	n, ch := newNotifier(t, Options{RootCAs: p.pool})
	mustSend(t, n, Notification{ID: "clear", Subject: "s", Body: "b\n", Channel: srv.email()})
	out := next(t, ch)
	if out.Success || out.Attempts != 1 || !strings.Contains(out.Error, "does not offer STARTTLS") {
		t.Fatalf("outcome %+v, want refused at once for want of STARTTLS", out)
	}
	if conns, auths, data := srv.counts(); conns != 1 || auths != 0 || data != 0 {
		t.Fatalf("server saw %d sessions, %d AUTH, %d DATA; want 1, 0, 0", conns, auths, data)
	}
	e := srv.email()
	e.AllowPlain = true
	mustSend(t, n, Notification{ID: "clear-allowed", Subject: "s", Body: "b\n", Channel: e})
	if out := next(t, ch); !out.Success {
		t.Fatalf("with AllowPlain on loopback: %+v", out)
	}
	if got := srv.Accepted(); len(got) != 1 || got[0].TLS {
		t.Fatalf("accepted %+v", got)
	}
}

// A wrong password is a failed outcome naming the server's refusal, with
// no retry: another attempt would only be refused again.
func TestWrongPasswordIsAFinalFailureNamingTheReason(t *testing.T) {
	p := newPKI(t)
	srv := startMail(t, p, implicitTLS)
	n, ch := newNotifier(t, Options{RootCAs: p.pool})
	e := srv.email()
	e.Password = "wrong"
	mustSend(t, n, Notification{ID: "pw", Subject: "s", Body: "b\n", Channel: e})
	out := next(t, ch)
	if out.Success || out.Attempts != 1 || out.Status != 535 || !strings.Contains(out.Error, "SMTP AUTH refused: 535") ||
		!strings.Contains(out.Error, "Authentication failed") {
		t.Fatalf("outcome %+v", out)
	}
	if strings.Contains(out.Error, "wrong") {
		t.Fatalf("the error shows the password: %q", out.Error)
	}
	if got := srv.Accepted(); len(got) != 0 {
		t.Fatalf("accepted %d messages", len(got))
	}
}

// A certificate the client does not trust (the system pool does not hold
// the test CA) is refused, finally, before anything is said.
func TestAnUntrustedCertificateIsRefused(t *testing.T) {
	p := newPKI(t)
	for name, mode := range map[string]tlsMode{"smtps": implicitTLS, "starttls": startTLS} {
		srv := startMail(t, p, mode)
		n, ch := newNotifier(t, Options{})
		mustSend(t, n, Notification{ID: "cert", Subject: "s", Body: "b\n", Channel: srv.email()})
		out := next(t, ch)
		if out.Success || out.Attempts != 1 || !strings.Contains(out.Error, "certificate") {
			t.Fatalf("%s: outcome %+v, want a final certificate error", name, out)
		}
		if _, auths, data := srv.counts(); auths != 0 || data != 0 {
			t.Fatalf("%s: %d AUTH, %d DATA over an untrusted connection", name, auths, data)
		}
	}
}

// A mail server that is down is retried; once it is up the mail arrives,
// once, and the outcome counts every attempt.
func TestMailReachesAServerThatComesUpLater(t *testing.T) {
	p := newPKI(t)
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	var failed atomic.Int64
	n, ch := newNotifier(t, Options{RootCAs: p.pool, Policy: delivery.Policy{Timeout: 5 * time.Second, MaxAttempts: 50,
		InitialBackoff: 10 * time.Millisecond, MaxBackoff: 30 * time.Millisecond},
		OnAttempt: func(_ string, _ int, err error) {
			if err != nil {
				failed.Add(1)
			}
		}})
	e := Email{Server: "smtps://" + addr, User: "robot", Password: "s3cret", From: "chronicle@example.test",
		To: []string{"ops@example.test"}}
	mustSend(t, n, Notification{ID: "later", Subject: "s", Body: "b\n", Channel: e})
	waitUntil(t, "two failed attempts", func() bool { return failed.Load() >= 2 })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := serveMail(t, p, implicitTLS, ln)
	out := next(t, ch)
	if !out.Success || out.Attempts < 3 || int64(out.Attempts) != failed.Load()+1 {
		t.Fatalf("outcome %+v after %d failed attempts", out, failed.Load())
	}
	if got := srv.Accepted(); len(got) != 1 {
		t.Fatalf("%d messages accepted, want 1", len(got))
	}
}

// A 4xx reply is retried, and the retry carries the same Message-ID, so
// a mailbox can tell the copies apart from new mail.
func TestATemporaryRefusalIsRetriedWithTheSameMessageID(t *testing.T) {
	p := newPKI(t)
	srv := startMail(t, p, startTLS)
	srv.mu.Lock()
	srv.failData = 1
	srv.mu.Unlock()
	n, ch := newNotifier(t, Options{RootCAs: p.pool})
	mustSend(t, n, Notification{ID: "tmp", Subject: "s", Body: "b\n", Channel: srv.email()})
	if out := next(t, ch); !out.Success || out.Attempts != 2 {
		t.Fatalf("outcome %+v, want success at the second attempt", out)
	}
	srv.mu.Lock()
	data := append([]received(nil), srv.data...)
	srv.mu.Unlock()
	if len(data) != 2 {
		t.Fatalf("%d DATA, want 2", len(data))
	}
	var ids []string
	for _, d := range data {
		m, err := mail.ReadMessage(bytes.NewReader(d.Data))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.Header.Get("Message-ID"))
	}
	if ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("Message-IDs %q", ids)
	}
}

// A server that accepts the connection and says nothing is given up on
// after the step's timeout, at every attempt.
func TestEverySMTPStepHasATimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	n, ch := newNotifier(t, Options{StepTimeout: 100 * time.Millisecond, Policy: delivery.Policy{Timeout: 10 * time.Second,
		MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}})
	start := time.Now()
	mustSend(t, n, Notification{ID: "mute", Subject: "s", Body: "b\n", Channel: Email{
		Server: "smtp://" + ln.Addr().String(), From: "a@example.test", To: []string{"b@example.test"}}})
	out := next(t, ch)
	if out.Success || out.Attempts != 2 || !strings.Contains(out.Error, "greeting") ||
		!strings.Contains(out.Error, "timeout") {
		t.Fatalf("outcome %+v", out)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %s for two attempts with a 100ms step timeout", took)
	}
}

// The guard applies to SMTP and webhooks alike: an address in a denied
// range is refused at dial time, naming the rule, with no retry.
func TestDialsAreGuarded(t *testing.T) {
	p := newPKI(t)
	srv := startMail(t, p, implicitTLS)
	var hits atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer hook.Close()
	g := delivery.NewGuard(append([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, delivery.DefaultDeny...), nil, nil)
	n, ch := newNotifier(t, Options{RootCAs: p.pool, Guard: g})
	// A name, so that Send's check of literal addresses lets it pass and
	// the dial-time check is what refuses.
	e := srv.email()
	e.Server = strings.Replace(e.Server, "127.0.0.1", "localhost", 1)
	mustSend(t, n, Notification{ID: "g1", Subject: "s", Body: "b\n", Channel: e})
	mustSend(t, n, Notification{ID: "g2", Document: []byte(`{}`), Channel: Webhook{
		URL: strings.Replace(hook.URL, "127.0.0.1", "localhost", 1), Secret: delivery.NewSigningSecret()}})
	for range 2 {
		out := next(t, ch)
		if out.Success || out.Attempts != 1 || !strings.Contains(out.Error, "refused") ||
			!strings.Contains(out.Error, "127.0.0.0/8") {
			t.Fatalf("outcome %+v, want refused by the guard", out)
		}
	}
	if conns, _, _ := srv.counts(); conns != 0 || hits.Load() != 0 {
		t.Fatalf("the mail server saw %d sessions, the webhook %d calls", conns, hits.Load())
	}
	// A literal denied address is refused by Send itself.
	err := n.Send(context.Background(), Notification{ID: "g3", Document: []byte(`{}`), Channel: Webhook{
		URL: "http://169.254.169.254/latest", Secret: delivery.NewSigningSecret()}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "169.254.0.0/16") {
		t.Fatalf("Send to a metadata address: %v", err)
	}
}

// ---- webhook ----------------------------------------------------------------

type hookCall struct {
	Header http.Header
	Body   []byte
}

// hookReceiver answers the n-th call (0-based) with codes[n] (the last one
// repeats) and records every call.
type hookReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	calls []hookCall
}

func newHookReceiver(t testing.TB, codes ...int) *hookReceiver {
	rc := &hookReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.calls)
		rc.calls = append(rc.calls, hookCall{r.Header.Clone(), b})
		rc.mu.Unlock()
		w.WriteHeader(codes[min(n, len(codes)-1)])
		io.WriteString(w, "answer "+strconv.Itoa(n))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *hookReceiver) Calls() []hookCall {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hookCall(nil), rc.calls...)
}

// The receiver gets the document as JSON with the Standard Webhooks
// headers, and the signature verifies with the secret (and only with it).
func TestWebhookIsSignedJSON(t *testing.T) {
	rc := newHookReceiver(t, 204)
	secret := delivery.NewSigningSecret()
	doc := []byte(`{"runId":"r-1","status":"FAILED","note":"café"}`)
	n, ch := newNotifier(t, Options{})
	mustSend(t, n, Notification{ID: "r-1/failed/hook", Subject: "ignored", Document: doc,
		Channel: Webhook{URL: rc.URL + "/notify", Secret: secret}})
	out := next(t, ch)
	if !out.Success || out.Attempts != 1 || out.Status != 204 || out.Channel != "webhook" {
		t.Fatalf("outcome %+v", out)
	}
	calls := rc.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	c := calls[0]
	if !bytes.Equal(c.Body, doc) || c.Header.Get("Content-Type") != "application/json" ||
		c.Header.Get("webhook-id") != "r-1/failed/hook" {
		t.Fatalf("call %q %v", c.Body, c.Header)
	}
	ts, err := strconv.ParseInt(c.Header.Get("webhook-timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)) > time.Minute {
		t.Fatalf("webhook-timestamp %q", c.Header.Get("webhook-timestamp"))
	}
	sig := c.Header.Get("webhook-signature")
	if !delivery.Verify(secret, "r-1/failed/hook", ts, c.Body, sig) {
		t.Fatalf("signature %q does not verify", sig)
	}
	if delivery.Verify(delivery.NewSigningSecret(), "r-1/failed/hook", ts, c.Body, sig) {
		t.Fatal("the signature verifies with another secret")
	}
}

// 5xx, 429 and 408 are retried; another 4xx is final; attempts stop at
// the policy's maximum.
func TestWebhookRetries(t *testing.T) {
	for _, tc := range []struct {
		codes    []int
		success  bool
		attempts int
	}{
		{[]int{500, 200}, true, 2},
		{[]int{429, 408, 200}, true, 3},
		{[]int{400}, false, 1},
		{[]int{404}, false, 1},
		{[]int{302}, false, 1},
		{[]int{503}, false, 3},
	} {
		rc := newHookReceiver(t, tc.codes...)
		n, ch := newNotifier(t, Options{})
		mustSend(t, n, Notification{ID: "h", Document: []byte(`{"a":1}`), Channel: Webhook{URL: rc.URL,
			Secret: delivery.NewSigningSecret()}})
		out := next(t, ch)
		last := tc.codes[min(tc.attempts, len(tc.codes))-1]
		if out.Success != tc.success || out.Attempts != tc.attempts || out.Status != last ||
			len(rc.Calls()) != tc.attempts {
			t.Errorf("codes %v: outcome %+v, %d calls; want success %v after %d", tc.codes, out, len(rc.Calls()),
				tc.success, tc.attempts)
		}
		if !tc.success && !strings.Contains(out.Error, "webhook answered "+strconv.Itoa(last)) {
			t.Errorf("codes %v: error %q", tc.codes, out.Error)
		}
	}
}

// ---- the queue --------------------------------------------------------------

// stuckHook is a receiver that holds every call until released.
func stuckHook(t testing.TB) (url string, inFlight *atomic.Int64, release func()) {
	gate := make(chan struct{})
	inFlight = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		select {
		case <-gate:
		case <-r.Context().Done():
		}
	}))
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(srv.Close)
	t.Cleanup(release) // runs before srv.Close
	return srv.URL, inFlight, release
}

func hook(id, url string) Notification {
	return Notification{ID: id, Document: []byte(`{}`), Channel: Webhook{URL: url, Secret: delivery.NewSigningSecret()}}
}

// With the only worker stuck on a receiver and the queue full, Send
// returns ErrQueueFull at once; the accepted notifications are delivered
// once the receiver moves, and the refused one never has an outcome.
func TestSendNeverBlocks(t *testing.T) {
	url, inFlight, release := stuckHook(t)
	n, ch := newNotifier(t, Options{Workers: 1, Queue: 2, Policy: delivery.Policy{Timeout: time.Minute, MaxAttempts: 1}})
	mustSend(t, n, hook("a", url))
	waitUntil(t, "the worker to be stuck", func() bool { return inFlight.Load() == 1 })
	mustSend(t, n, hook("b", url))
	mustSend(t, n, hook("c", url))
	res := make(chan error, 1)
	go func() { res <- n.Send(context.Background(), hook("d", url)) }()
	select {
	case err := <-res:
		if !errors.Is(err, ErrQueueFull) {
			t.Fatalf("Send on a full queue: %v, want ErrQueueFull", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send blocked on a full queue")
	}
	release()
	got := map[string]bool{}
	for range 3 {
		out := next(t, ch)
		got[out.ID] = out.Success
	}
	if !got["a"] || !got["b"] || !got["c"] {
		t.Fatalf("outcomes %v", got)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(ch) != 0 {
		t.Fatalf("an outcome for the refused notification: %+v", <-ch)
	}
}

// Close waits for the notification in flight; after Close has begun,
// Send refuses; when Close returns, the outcome has been reported.
func TestCloseWaitsForInFlightSends(t *testing.T) {
	url, inFlight, release := stuckHook(t)
	n, ch := newNotifier(t, Options{Workers: 1})
	mustSend(t, n, hook("a", url))
	waitUntil(t, "the call to be in flight", func() bool { return inFlight.Load() == 1 })
	closed := make(chan error, 1)
	go func() { closed <- n.Close(context.Background()) }()
	waitUntil(t, "Send to refuse after Close", func() bool {
		return errors.Is(n.Send(context.Background(), hook("late", url)), ErrClosed)
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a notification was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	select {
	case out := <-ch:
		if !out.Success || out.ID != "a" {
			t.Fatalf("outcome %+v", out)
		}
	default:
		t.Fatal("Close returned before the outcome was reported")
	}
}

// Close waits only as long as its ctx: then the notification in flight and
// the one still queued end Canceled, reported before Close returns.
func TestCloseGivesUpWithItsContext(t *testing.T) {
	url, inFlight, _ := stuckHook(t)
	n, ch := newNotifier(t, Options{Workers: 1})
	mustSend(t, n, hook("a", url))
	waitUntil(t, "the call to be in flight", func() bool { return inFlight.Load() == 1 })
	mustSend(t, n, hook("b", url))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := n.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want the deadline", err)
	}
	if len(ch) != 2 {
		t.Fatalf("%d outcomes reported when Close returned, want 2", len(ch))
	}
	for range 2 {
		out := <-ch
		if !out.Canceled || out.Success {
			t.Fatalf("outcome %+v, want Canceled", out)
		}
		if out.ID == "b" && out.Attempts != 0 {
			t.Fatalf("the queued notification was attempted: %+v", out)
		}
	}
	if inFlight.Load() != 1 {
		t.Fatalf("%d calls, want 1", inFlight.Load())
	}
}

// Send's ctx bounds the delivery: ending it cancels the notification.
func TestSendContextCancelsTheDelivery(t *testing.T) {
	url, inFlight, _ := stuckHook(t)
	n, ch := newNotifier(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.Send(ctx, hook("a", url)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the call to be in flight", func() bool { return inFlight.Load() == 1 })
	cancel()
	if out := next(t, ch); !out.Canceled || out.Attempts != 1 {
		t.Fatalf("outcome %+v, want Canceled", out)
	}
	if err := n.Send(ctx, hook("b", url)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with an ended ctx: %v", err)
	}
}

// Send refuses what could never be delivered, naming the problem.
func TestSendRefusesInvalidNotifications(t *testing.T) {
	n, ch := newNotifier(t, Options{})
	good := Email{Server: "smtps://mail.example.test", From: "a@example.test", To: []string{"b@example.test"}}
	with := func(f func(*Email)) Email { e := good; f(&e); return e }
	secret := delivery.NewSigningSecret()
	for want, nt := range map[string]Notification{
		"no id":                 {Channel: good},
		"no channel":            {ID: "x"},
		"smtps (implicit TLS)":  {ID: "x", Channel: with(func(e *Email) { e.Server = "http://mail.example.test" })},
		"credentials go in":     {ID: "x", Channel: with(func(e *Email) { e.Server = "smtp://u:p@mail.example.test" })},
		"no host":               {ID: "x", Channel: with(func(e *Email) { e.Server = "smtp://" })},
		"from":                  {ID: "x", Channel: with(func(e *Email) { e.From = "not an address" })},
		"no recipient":          {ID: "x", Channel: with(func(e *Email) { e.To = nil })},
		`to "b@x\r\nBcc: c@x"`:  {ID: "x", Channel: with(func(e *Email) { e.To = []string{"b@x\r\nBcc: c@x"} })},
		"password without":      {ID: "x", Channel: with(func(e *Email) { e.Password = "p" })},
		"document must be JSON": {ID: "x", Document: []byte(`{`), Channel: Webhook{URL: "http://h.test", Secret: secret}},
		"http or https":         {ID: "x", Document: []byte(`{}`), Channel: Webhook{URL: "ftp://h.test", Secret: secret}},
		"no signing secret":     {ID: "x", Document: []byte(`{}`), Channel: Webhook{URL: "http://h.test"}},
		"whsec_":                {ID: "x", Document: []byte(`{}`), Channel: Webhook{URL: "http://h.test", Secret: "plain"}},
	} {
		err := n.Send(context.Background(), nt)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: Send = %v", want, err)
		}
	}
	if err := n.Close(context.Background()); err != nil || len(ch) != 0 {
		t.Fatalf("Close %v, %d outcomes for refused notifications", err, len(ch))
	}
}

// An https webhook is verified with RootCAs; without the receiver's CA
// the certificate error is final.
func TestWebhookOverHTTPSVerifiesTheCertificate(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	trusting, ch := newNotifier(t, Options{RootCAs: pool})
	mustSend(t, trusting, hook("tls", srv.URL))
	if out := next(t, ch); !out.Success {
		t.Fatalf("with the CA: %+v", out)
	}
	system, ch2 := newNotifier(t, Options{})
	mustSend(t, system, hook("tls", srv.URL))
	if out := next(t, ch2); out.Success || out.Attempts != 1 || !strings.Contains(out.Error, "certificate") {
		t.Fatalf("without the CA: %+v, want a final certificate error", out)
	}
}

// AllowPlain holds only for a loopback peer: what sendMail asks of the
// address it dialled.
func TestPlainIsAllowedOnlyOnLoopback(t *testing.T) {
	for addr, want := range map[net.Addr]bool{
		&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 25}: true,
		&net.TCPAddr{IP: net.ParseIP("127.9.9.9"), Port: 25}: true,
		&net.TCPAddr{IP: net.ParseIP("::1"), Port: 25}:       true,
		&net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 25}:  false,
		&net.TCPAddr{IP: net.ParseIP("192.0.2.2"), Port: 25}: false,
		&net.UnixAddr{Name: "/tmp/smtp", Net: "unix"}:        false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%s) = %v", addr, got)
		}
	}
}
