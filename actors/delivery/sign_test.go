package delivery

import (
	"testing"
	"time"
)

// The example of the Standard Webhooks specification: Sign must produce
// its signature, and Verify must accept it and nothing altered.
func TestSignAndVerifyAgainstTheSpecificationsExample(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts     = int64(1614265330)
		body   = `{"test": 2432232314}`
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	got, err := Sign([]string{secret}, id, ts, []byte(body))
	if err != nil || got != want {
		t.Fatalf("Sign = %q, %v; want %q", got, err, want)
	}
	if !Verify(secret, id, ts, []byte(body), want) {
		t.Fatal("Verify refused the specification's own signature")
	}
	other := NewSigningSecret()
	both, _ := Sign([]string{other, secret}, id, ts, []byte(body))
	if !Verify(secret, id, ts, []byte(body), both) || !Verify(other, id, ts, []byte(body), both) {
		t.Fatalf("either secret of a rotation must verify %q", both)
	}
	for name, ok := range map[string]bool{
		"body":      Verify(secret, id, ts, []byte(body+" "), want),
		"id":        Verify(secret, id+"x", ts, []byte(body), want),
		"timestamp": Verify(secret, id, ts+1, []byte(body), want),
		"secret":    Verify(other, id, ts, []byte(body), want),
		"version":   Verify(secret, id, ts, []byte(body), "v2"+want[2:]),
		"empty":     Verify(secret, id, ts, []byte(body), ""),
		"bad key":   Verify("whsec_not base64!", id, ts, []byte(body), want),
	} {
		if ok {
			t.Errorf("a changed %s still verified", name)
		}
	}
}

// Backoff follows Deliver's rule: within [0, InitialBackoff·2^(n-1)],
// capped at MaxBackoff.
func TestPolicyBackoffIsCappedExponentialJitter(t *testing.T) {
	p := Policy{InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	for attempt, ceiling := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond,
		3: 40 * time.Millisecond, 4: 50 * time.Millisecond, 30: 50 * time.Millisecond} {
		for range 200 {
			if d := p.Backoff(attempt); d < 0 || d > ceiling {
				t.Fatalf("Backoff(%d) = %s, want within [0, %s]", attempt, d, ceiling)
			}
		}
	}
}
