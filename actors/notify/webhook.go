package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/actors/delivery"
)

// Webhook sends a notification as a signed POST of its Document: the
// Standard Webhooks headers of callbacks (webhook-id is the notification's
// ID, webhook-timestamp the attempt's time, webhook-signature by Secret),
// Content-Type application/json. A 2xx answer is success; 408, 429, 5xx
// and a connection that fails are retried; other answers (4xx, a 3xx: no
// redirect is followed) are final.
type Webhook struct {
	URL    string // http or https
	Secret string // whsec_ and base64, as an app's signing secret
}

// Kind is "webhook".
func (Webhook) Kind() string { return "webhook" }

func (w Webhook) validate(g *delivery.Guard) error {
	u, err := url.Parse(w.URL)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: must be http or https with a host", w.URL)
	}
	if err := g.CheckURL(w.URL); err != nil {
		return err
	}
	if w.Secret == "" {
		return errors.New("no signing secret")
	}
	if _, err := delivery.Sign([]string{w.Secret}, "", 0, nil); err != nil {
		return err
	}
	return nil
}

const (
	maxDrain   = 64 << 10 // answer bytes read, then discarded
	maxSnippet = 200      // answer bytes quoted in an error
)

func newHTTPClient(o Options) *http.Client {
	tr := &http.Transport{
		// As callbacks: through a configured proxy, whose address alone the
		// guard then sees.
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer(o).DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: o.StepTimeout,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // a 3xx is the answer
	}}
}

// post is one attempt; it returns the answer's status (0: none).
func (n *Notifier) post(ctx context.Context, w Webhook, nt Notification) (int, error) {
	at := time.Now().Unix()
	sig, err := delivery.Sign([]string{w.Secret}, nt.ID, at, nt.Document)
	if err != nil {
		return 0, final(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(nt.Document))
	if err != nil {
		return 0, final(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", delivery.DefaultUserAgent)
	req.Header.Set(delivery.HeaderWebhookID, nt.ID)
	req.Header.Set(delivery.HeaderWebhookTimestamp, strconv.FormatInt(at, 10))
	req.Header.Set(delivery.HeaderWebhookSignature, sig)
	res, err := n.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is the user's own; do not repeat it
		}
		var denied *delivery.DeniedError
		if errors.As(err, &denied) {
			return 0, final(denied)
		}
		if untrusted(err) {
			return 0, final(fmt.Errorf("webhook: %w", err))
		}
		return 0, fmt.Errorf("webhook: %w", err)
	}
	defer res.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(res.Body, maxSnippet+1))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxDrain))
	code := res.StatusCode
	if code >= 200 && code < 300 {
		return code, nil
	}
	msg := fmt.Sprintf("webhook answered %d %s", code, http.StatusText(code))
	if loc := res.Header.Get("Location"); loc != "" && code >= 300 && code < 400 {
		msg += " (redirects are not followed; Location: " + snippet(loc) + ")"
	} else if s := snippet(string(head)); s != "" {
		msg += ": " + s
	}
	err = errors.New(msg)
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return code, err
	case code >= 400 && code < 500 && n.policy.RetryOn4xx:
		return code, err
	}
	return code, final(err)
}

// snippet is at most maxSnippet bytes of s, valid UTF-8, on one line.
func snippet(s string) string {
	cut := len(s) > maxSnippet
	if cut {
		s = s[:maxSnippet]
	}
	s = strings.ToValidUTF8(s, "")
	s = strings.Join(strings.Fields(s), " ")
	if cut && s != "" {
		s += "…"
	}
	return s
}
