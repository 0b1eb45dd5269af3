package delivery

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Callbacks are signed as the Standard Webhooks convention says
// (standardwebhooks.com), so receivers can verify them with its libraries:
// webhook-id is the run id (the same on every retry and re-fire),
// webhook-timestamp the attempt's unix seconds, and webhook-signature
// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" per secret, space
// separated, where the key is the base64 after a secret's whsec_ prefix.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// secretPrefix starts every signing secret.
const secretPrefix = "whsec_"

// NewSigningSecret returns a new random secret: whsec_ and the base64 of
// 32 bytes.
func NewSigningSecret() string {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing sane to do
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(key[:])
}

// Sign returns the webhook-signature value of a call: one v1 signature
// per secret.
func Sign(secrets []string, id string, timestamp int64, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, secretPrefix))
		if err != nil {
			return "", fmt.Errorf("signing secret is not %s and base64: %w", secretPrefix, err)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}

// Verify reports whether header (a webhook-signature value) holds a v1
// signature of id, timestamp and body by secret: what a receiver checks,
// in constant time per signature. It does not judge the timestamp's age.
func Verify(secret, id string, timestamp int64, body []byte, header string) bool {
	want, err := Sign([]string{secret}, id, timestamp, body)
	if err != nil {
		return false
	}
	for _, sig := range strings.Fields(header) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// SignHMAC is karajo's signature of data: the lower-case hex HMAC-SHA256
// keyed by the secret as written. Its receivers (and karajo's API, for
// requests it receives) compare it with their own.
func SignHMAC(secret string, data []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(data)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyHMAC reports whether sig is SignHMAC(secret, data), in constant
// time; upper-case hex is accepted.
func VerifyHMAC(secret string, data []byte, sig string) bool {
	return hmac.Equal([]byte(strings.ToLower(sig)), []byte(SignHMAC(secret, data)))
}
