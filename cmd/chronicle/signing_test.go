package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"
)

// verifyWebhook is a receiver's check of a Standard Webhooks signature,
// written from the convention (standardwebhooks.com), not from our code:
// the key is the base64 after whsec_, the signed content id.timestamp.body,
// and any of the space-separated v1 signatures may match.
func verifyWebhook(secret, id, timestamp, body, header string) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "." + body))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(header) {
		version, b64, ok := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if ok && version == "v1" && err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// Callbacks carry webhook-id, webhook-timestamp and webhook-signature; a
// receiver verifies them with the app's secret. After a rotation both
// secrets verify during the grace period, and only the new one after it.
// The secret is shown by its own endpoint only.
func TestCallbacksAreSignedAndSecretsRotate(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.secretGrace = 2 * time.Second
	tn := startTestNode(t, cfg)
	tn.registerApp("signed", 1)
	rc := newReceiver(t)
	secretOf := func() (string, string) {
		r := tn.must(200, "GET", "/goscheduler/apps/signed/signing-secret", nil)
		s := decodeData[struct{ Secret, PreviousValidUntil string }](t, r)
		return s.Secret, s.PreviousValidUntil
	}
	old, _ := secretOf()
	if !strings.HasPrefix(old, "whsec_") {
		t.Fatalf("signing secret %q", old)
	}
	fire := func(path string) hit {
		t.Helper()
		s := tn.createOnce("signed", time.Now().Unix()+1, rc.url(path), "POST", `{"n":`+strconv.Itoa(len(path))+`}`)
		tn.waitStatus(s.ScheduleID, "SUCCESS", 10*time.Second)
		h := rc.hitsFor(path)[0]
		if h.Header.Get("webhook-id") != s.ScheduleID || h.Header.Get("webhook-timestamp") == "" {
			t.Fatalf("webhook headers: %v", h.Header)
		}
		return h
	}
	verifies := func(h hit, secret string) bool {
		return verifyWebhook(secret, h.Header.Get("webhook-id"), h.Header.Get("webhook-timestamp"), h.Body,
			h.Header.Get("webhook-signature"))
	}
	h := fire("/before")
	if !verifies(h, old) || verifies(h, "whsec_"+base64.StdEncoding.EncodeToString(make([]byte, 32))) {
		t.Fatalf("signature %q does not verify with the app's secret only", h.Header.Get("webhook-signature"))
	}

	r := tn.must(200, "POST", "/goscheduler/apps/signed/signing-secret/rotate", nil)
	rotated := decodeData[struct{ Secret, PreviousValidUntil string }](t, r)
	if rotated.Secret == old || rotated.PreviousValidUntil == "" {
		t.Fatalf("rotation answer: %s", r.raw)
	}
	if s, _ := secretOf(); s != rotated.Secret {
		t.Fatalf("after the rotation the endpoint shows %q, want %q", s, rotated.Secret)
	}
	h = fire("/during")
	if !verifies(h, rotated.Secret) || !verifies(h, old) || len(strings.Fields(h.Header.Get("webhook-signature"))) != 2 {
		t.Fatalf("during the grace period: %q", h.Header.Get("webhook-signature"))
	}
	until, err := time.Parse(time.RFC3339, rotated.PreviousValidUntil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the grace period to end", func() bool { return time.Now().After(until.Add(time.Second)) })
	h = fire("/after")
	if !verifies(h, rotated.Secret) || verifies(h, old) {
		t.Fatalf("after the grace period: %q", h.Header.Get("webhook-signature"))
	}

	for _, path := range []string{"/goscheduler/apps?app_id=signed", "/goscheduler/apps/signed/events", "/events"} {
		_, got := tn.call("GET", path, nil)
		if strings.Contains(string(got.raw), old[8:20]) || strings.Contains(string(got.raw), rotated.Secret[8:20]) {
			t.Errorf("GET %s shows a signing secret: %s", path, got.raw)
		}
	}
}
