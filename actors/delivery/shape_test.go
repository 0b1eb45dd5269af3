package delivery

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A karajo-shaped call: the time parameter where Params says, the
// signature over exactly the parameters' bytes, the content type of a
// body of parameters; and the app's Standard Webhooks signature over the
// body actually sent.
func TestShapedCallsCarryTheirParametersSigned(t *testing.T) {
	const secret = "karajo-secret"
	for _, params := range []string{"query", "form", "json"} {
		t.Run(params, func(t *testing.T) {
			rc := codes(t, 200)
			req := request(rc.URL+"/job?x=1", "POST")
			req.Payload = ""
			if params == "query" {
				req.Method, req.Payload = "GET", ""
			}
			req.TimeParam, req.Params = "_karajo_epoch", params
			req.HMAC = &HMAC{Header: "X-Karajo-Sign", Secret: secret}
			req.SigningSecrets = []string{NewSigningSecret()}
			before := time.Now().Unix()
			if out := quietClient().Deliver(context.Background(), req, fast()); !out.Success {
				t.Fatalf("outcome %+v", out)
			}
			c := rc.Calls()[0]
			var signed, epoch string
			switch params {
			case "query":
				u, _ := url.Parse(c.RequestURI)
				if u.Query().Get("x") != "1" || c.Body != "" {
					t.Fatalf("query call %s with body %q", c.RequestURI, c.Body)
				}
				signed = strings.TrimPrefix(u.RawQuery, "x=1&")
				epoch = u.Query().Get("_karajo_epoch")
			case "form":
				v, err := url.ParseQuery(c.Body)
				if err != nil || c.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
					t.Fatalf("form body %q (%v), content type %q", c.Body, err, c.Header.Get("Content-Type"))
				}
				signed, epoch = c.Body, v.Get("_karajo_epoch")
			case "json":
				var v map[string]json.Number
				if err := json.Unmarshal([]byte(c.Body), &v); err != nil || len(v) != 1 || c.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("json body %q (%v), content type %q", c.Body, err, c.Header.Get("Content-Type"))
				}
				signed, epoch = c.Body, v["_karajo_epoch"].String()
			}
			if n, err := strconv.ParseInt(epoch, 10, 64); err != nil || n < before || n > time.Now().Unix() {
				t.Errorf("_karajo_epoch %q, want the attempt's unix second", epoch)
			}
			if !VerifyHMAC(secret, []byte(signed), c.Header.Get("X-Karajo-Sign")) {
				t.Errorf("X-Karajo-Sign %q does not sign %q", c.Header.Get("X-Karajo-Sign"), signed)
			}
			ts, _ := strconv.ParseInt(c.Header.Get(HeaderWebhookTimestamp), 10, 64)
			if !Verify(req.SigningSecrets[0], req.RunID, ts, []byte(c.Body), c.Header.Get(HeaderWebhookSignature)) {
				t.Error("the Standard Webhooks signature does not sign the body sent")
			}
		})
	}
}

// With a success status, another 2xx is a failure, and a final one.
func TestOnlyTheSuccessStatusCounts(t *testing.T) {
	rc := codes(t, 202)
	req := request(rc.URL, "POST")
	req.SuccessStatus = 200
	out := quietClient().Deliver(context.Background(), req, fast())
	if out.Success || out.Attempts != 1 || out.HTTPStatus != 202 || !strings.Contains(out.ErrorMessage, "only 200 counts") {
		t.Fatalf("outcome %+v: want one failed attempt naming the status that counts", out)
	}
	req.SuccessStatus = 202
	if out := quietClient().Deliver(context.Background(), req, fast()); !out.Success {
		t.Fatalf("202 with successStatus 202: %+v", out)
	}
}

// InsecureTLS reaches a server whose certificate no one signed; without
// it the call fails on the certificate.
func TestInsecureTLSSkipsOnlyTheCertificateCheck(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	t.Cleanup(srv.Close)
	req := request(srv.URL, "POST")
	if out := quietClient().Deliver(context.Background(), req, fast()); out.Success || !strings.Contains(out.ErrorMessage, "certificate") {
		t.Fatalf("verified call to a self-signed server: %+v", out)
	}
	req.InsecureTLS = true
	if out := quietClient().Deliver(context.Background(), req, fast()); !out.Success {
		t.Fatalf("insecure call: %+v", out)
	}
	// The guard still checks the address of an insecure call.
	loopback := append(append([]netip.Prefix(nil), DefaultDeny...), netip.MustParsePrefix("127.0.0.0/8"))
	out := guardedClient(NewGuard(loopback, nil, nil), nil).Deliver(context.Background(), req, fast())
	if out.Success || !strings.Contains(out.ErrorMessage, "refused") {
		t.Fatalf("insecure call to a denied address: %+v", out)
	}
}
