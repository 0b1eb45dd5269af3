package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/actors/delivery"
)

// Email sends a notification by SMTP.
//
// TLS rules: smtps:// is TLS from the first byte (implicit TLS, port 465
// by default); smtp:// (port 587 by default) must offer STARTTLS, and the
// session moves to TLS before anything else is said: neither credentials
// nor mail cross in clear. Certificates are verified against
// Options.RootCAs or the system's pool, for the URL's host name.
// AllowPlain lets an smtp:// server that offers no STARTTLS be used in
// clear, and only when the address dialled is a loopback one (a test's
// server, a relay on the same machine).
type Email struct {
	Server string // smtps://host[:port] or smtp://host[:port]
	// User and Password authenticate with AUTH PLAIN or LOGIN, whichever
	// the server offers (PLAIN preferred); both empty: no AUTH.
	User, Password string
	From           string   // an address, "Name <addr@host>" allowed
	To             []string // at least one
	AllowPlain     bool
}

// Kind is "email".
func (Email) Kind() string { return "email" }

// maxSubject bounds a subject, so that even a subject without spaces
// fits a header line (998 bytes).
const maxSubject = 500

func (e Email) validate(*delivery.Guard) error {
	if _, _, _, err := e.server(); err != nil {
		return err
	}
	if _, err := mail.ParseAddress(e.From); err != nil {
		return fmt.Errorf("from %q: %w", e.From, err)
	}
	if len(e.To) == 0 {
		return errors.New("no recipient")
	}
	for _, to := range e.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return fmt.Errorf("to %q: %w", to, err)
		}
	}
	if e.User == "" && e.Password != "" {
		return errors.New("a password without a user")
	}
	return nil
}

// server reads Server: the address to dial, the host name certificates
// must name, and whether TLS is implicit.
func (e Email) server() (addr, host string, implicit bool, err error) {
	u, err := url.Parse(e.Server)
	if err != nil {
		return "", "", false, fmt.Errorf("server: %w", err)
	}
	port := ""
	switch u.Scheme {
	case "smtps":
		implicit, port = true, "465"
	case "smtp":
		port = "587"
	default:
		return "", "", false, fmt.Errorf("server %q: the scheme must be smtps (implicit TLS) or smtp (STARTTLS)", e.Server)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", "", false, fmt.Errorf("server %q: only a scheme, host and port (credentials go in User and Password)", e.Server)
	}
	if host = u.Hostname(); host == "" {
		return "", "", false, fmt.Errorf("server %q: no host", e.Server)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	return net.JoinHostPort(host, port), host, implicit, nil
}

// sendMail is one attempt: connect, TLS, EHLO, AUTH, MAIL, RCPT, DATA,
// QUIT, each step with its own deadline (StepTimeout, within the
// attempt's). It returns the last SMTP reply code it got.
func (n *Notifier) sendMail(ctx context.Context, e Email, nt Notification) (code int, err error) {
	addr, host, implicit, err := e.server()
	if err != nil {
		return 0, final(err)
	}
	from, _ := mail.ParseAddress(e.From) // validated by Send
	to := make([]*mail.Address, len(e.To))
	for i, s := range e.To {
		to[i], _ = mail.ParseAddress(s)
	}
	raw, err := dialer(n.o).DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, dialError(addr, err)
	}
	defer raw.Close()
	stop := context.AfterFunc(ctx, func() { raw.Close() }) // ctx ending interrupts any step
	defer stop()
	step := func() {
		d := time.Now().Add(n.o.StepTimeout)
		if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
			d = dl
		}
		_ = raw.SetDeadline(d) // the TLS connection above raw inherits it
	}
	tlsConf := &tls.Config{ServerName: host, RootCAs: n.o.RootCAs, MinVersion: tls.VersionTLS12}
	var conn net.Conn = raw
	if implicit {
		step()
		tc := tls.Client(raw, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, tlsError(addr, err)
		}
		conn = tc
	}
	step()
	c, err := smtp.NewClient(conn, host) // reads the greeting
	if err != nil {
		return smtpError("greeting", err)
	}
	defer c.Close()
	step()
	if err := c.Hello(n.o.HelloName); err != nil {
		return smtpError("EHLO", err)
	}
	step()
	plain := false
	if !implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			step()
			if err := c.StartTLS(tlsConf); err != nil {
				var tpe *textproto.Error
				if errors.As(err, &tpe) {
					return smtpError("STARTTLS", err)
				}
				return 0, tlsError(addr, err)
			}
		} else if e.AllowPlain && isLoopback(raw.RemoteAddr()) {
			plain = true
		} else {
			return 0, final(fmt.Errorf("%s does not offer STARTTLS: refusing to send credentials or mail in clear", addr))
		}
	}
	if e.User != "" {
		step()
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return 0, final(fmt.Errorf("%s offers no AUTH, and a user is configured", addr))
		}
		a := chooseAuth(mechs, e.User, e.Password, plain)
		if a == nil {
			return 0, final(fmt.Errorf("%s offers AUTH %s; Chronicle speaks PLAIN and LOGIN", addr, mechs))
		}
		step()
		if err := c.Auth(a); err != nil {
			return smtpError("AUTH", err)
		}
	}
	step()
	if err := c.Mail(from.Address); err != nil {
		return smtpError("MAIL FROM", err)
	}
	for _, rcpt := range to {
		step()
		if err := c.Rcpt(rcpt.Address); err != nil {
			return smtpError("RCPT TO <"+rcpt.Address+">", err)
		}
	}
	step()
	w, err := c.Data()
	if err != nil {
		return smtpError("DATA", err)
	}
	step()
	if _, err := w.Write(message(nt, from, to, time.Now())); err != nil { // dot-stuffed by w
		return smtpError("message", err)
	}
	step()
	if err := w.Close(); err != nil {
		return smtpError("end of message", err)
	}
	step()
	_ = c.Quit() // the server has taken the message: a failed QUIT changes nothing
	return 250, nil
}

// message is the mail: headers, then the body as quoted-printable, so that
// any text (long lines, any language) arrives as written. Lines end in
// CRLF.
func message(nt Notification, from *mail.Address, to []*mail.Address, now time.Time) []byte {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("Date", now.Format(time.RFC1123Z))
	header("From", from.String()) // a name not in ASCII is RFC 2047-encoded
	tos := make([]string, len(to))
	for i, a := range to {
		tos[i] = a.String()
	}
	header("To", strings.Join(tos, ", "))
	// Encoded when not printable ASCII; CR and LF are never printable, so
	// a subject cannot add a header.
	header("Subject", fold("Subject", mime.QEncoding.Encode("utf-8", nt.Subject)))
	header("Message-ID", messageID(nt.ID, from.Address))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b) // text mode: line breaks become CRLF
	_, _ = qp.Write([]byte(nt.Body))
	_ = qp.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// fold breaks a header's value into lines of at most 78 characters where
// its spaces allow (RFC 5322 §2.2.3): a long subject, or the encoded words
// of one, would otherwise make a line some servers refuse. Unfolding
// removes only the CRLF, so the value reads back as it was; and as some
// readers (Go's among them) also squeeze the whitespace after it to one
// space, a line is broken only at a lone space.
func fold(name, value string) string {
	var chunks []string // value split at its lone spaces
	start := 0
	for i := 1; i < len(value)-1; i++ {
		if value[i] == ' ' && value[i-1] != ' ' && value[i+1] != ' ' {
			chunks = append(chunks, value[start:i])
			start = i + 1
		}
	}
	chunks = append(chunks, value[start:])
	var b strings.Builder
	line := len(name) + len(": ")
	for i, c := range chunks {
		if i > 0 {
			if line+1+len(c) > 78 {
				b.WriteString("\r\n")
				line = 0
			}
			b.WriteByte(' ')
			line++
		}
		b.WriteString(c)
		line += len(c)
	}
	return b.String()
}

// messageID is derived from the notification's id, so every attempt and
// re-send carries the same one and a mailbox can drop the duplicates.
func messageID(id, from string) string {
	sum := sha256.Sum256([]byte(id))
	domain := "chronicle.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	return "<" + hex.EncodeToString(sum[:16]) + "@" + domain + ">"
}

// chooseAuth picks PLAIN, else LOGIN, among the mechanisms offered.
func chooseAuth(offered, user, password string, plainOK bool) smtp.Auth {
	mechs := strings.Fields(strings.ToUpper(offered))
	has := func(m string) bool {
		for _, x := range mechs {
			if x == m {
				return true
			}
		}
		return false
	}
	switch {
	case has("PLAIN"):
		return &passwordAuth{mech: "PLAIN", user: user, password: password, plainOK: plainOK}
	case has("LOGIN"):
		return &passwordAuth{mech: "LOGIN", user: user, password: password, plainOK: plainOK}
	}
	return nil
}

// passwordAuth is AUTH PLAIN (RFC 4616) or LOGIN. It refuses to start on a
// connection that is not TLS unless plain text was allowed (AllowPlain, on
// loopback): the last check before a password leaves.
type passwordAuth struct {
	mech, user, password string
	plainOK              bool
	step                 int
}

func (a *passwordAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !a.plainOK {
		return "", nil, final(errors.New("refusing to send credentials over a connection without TLS"))
	}
	if a.mech == "PLAIN" {
		return "PLAIN", []byte("\x00" + a.user + "\x00" + a.password), nil
	}
	return "LOGIN", nil, nil
}

func (a *passwordAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	if a.mech == "PLAIN" {
		return nil, errors.New("unexpected challenge after AUTH PLAIN")
	}
	// LOGIN: the server asks for the user name, then the password.
	a.step++
	switch a.step {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.password), nil
	}
	return nil, errors.New("unexpected third challenge in AUTH LOGIN")
}

// smtpError names the step that failed and the server's reply. A 5xx reply
// is final (a wrong password, a refused sender or recipient); a 4xx reply
// and a broken connection are retried.
func smtpError(step string, err error) (int, error) {
	var fe *finalError
	if errors.As(err, &fe) {
		return 0, err
	}
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		e := fmt.Errorf("SMTP %s refused: %d %s", step, tpe.Code, tpe.Msg)
		if tpe.Code >= 500 {
			return tpe.Code, final(e)
		}
		return tpe.Code, e
	}
	return 0, fmt.Errorf("SMTP %s: %w", step, err)
}

// dialError is a failed connection: refused by the guard (final) or not
// made (retried).
func dialError(addr string, err error) error {
	var denied *delivery.DeniedError
	if errors.As(err, &denied) {
		return final(denied)
	}
	return fmt.Errorf("connect to %s: %w", addr, err)
}

// tlsError is a failed handshake: a certificate that does not verify is
// final, anything else (a reset, a timeout) retried.
func tlsError(addr string, err error) error {
	e := fmt.Errorf("TLS with %s: %w", addr, err)
	if untrusted(err) {
		return final(e)
	}
	return e
}

// untrusted reports a certificate that does not verify: no retry will
// make it verify.
func untrusted(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostnameErr) ||
		errors.As(err, &invalid)
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
