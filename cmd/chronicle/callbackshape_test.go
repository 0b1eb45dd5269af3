package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// verifyKarajoSign is a receiver's check of karajo's signature, written
// from karajo's definition (hex HMAC-SHA256 of the request's parameters,
// keyed by the secret as written), not from our code.
func verifyKarajoSign(secret, signed, header string) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signed))
	return hmac.Equal([]byte(header), []byte(hex.EncodeToString(mac.Sum(nil))))
}

// A native schedule calls its receiver as a karajo HTTP job does: over a
// union of crons, a JSON body {"_karajo_epoch": <now>} signed in
// X-Karajo-Sign, success only on 200. Reads mask the secret; an update
// moves the parameters to the query; a 201 is a failure; what cannot work
// is refused with the reason.
func TestCallbacksShapedForAnotherSchedulersReceivers(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	tn.registerApp("shaped", 1)
	rc := newReceiver(t)
	const secret = "karajo s3cret"
	details := func(path, method, params string, status int) map[string]any {
		return map[string]any{"url": rc.url(path), "method": method, "timeParam": "_karajo_epoch", "params": params,
			"signature": map[string]any{"header": "X-Karajo-Sign", "secret": secret}, "successStatus": status}
	}
	c := tn.lifeCall(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "shaped",
		"cronExpression": "*/2 * * * * *; 1 * * * * *",
		"callback":       map[string]any{"type": "http", "details": details("/job", "POST", "JSON", 200)}})

	waitFor(t, 15*time.Second, "three calls", func() bool { return len(rc.hitsFor("/job")) >= 3 })
	for _, h := range rc.hitsFor("/job")[:3] {
		var body map[string]int64
		if err := json.Unmarshal([]byte(h.Body), &body); err != nil || len(body) != 1 || h.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("body %q (%v), content type %q: want {\"_karajo_epoch\":N} as JSON", h.Body, err, h.Header.Get("Content-Type"))
		}
		if epoch := body["_karajo_epoch"]; epoch < h.At.Unix()-2 || epoch > h.At.Unix() {
			t.Errorf("_karajo_epoch %d, received at %d", epoch, h.At.Unix())
		}
		if !verifyKarajoSign(secret, h.Body, h.Header.Get("X-Karajo-Sign")) {
			t.Errorf("X-Karajo-Sign %q does not sign the body %q", h.Header.Get("X-Karajo-Sign"), h.Body)
		}
	}
	r := tn.must(200, "GET", "/goscheduler/schedules/"+c.ScheduleID, nil)
	if s := string(r.raw); strings.Contains(s, "s3cret") || !strings.Contains(s, `"secret":"***"`) ||
		!strings.Contains(s, `"params":"json"`) || !strings.Contains(s, `"successStatus":200`) {
		t.Fatalf("schedule shown as %s: want the shape, the secret masked", s)
	}

	// An update moves the parameters into the query of a GET.
	tn.lifeCall(200, "PATCH", "/goscheduler/schedules/"+c.ScheduleID, map[string]any{
		"callback": map[string]any{"type": "http", "details": details("/query", "GET", "query", 200)}})
	waitFor(t, 10*time.Second, "a call with the query", func() bool { return len(rc.hitsFor("/query")) >= 1 })
	h := rc.hitsFor("/query")[0]
	q, _ := url.ParseQuery(h.Query)
	if _, err := strconv.ParseInt(q.Get("_karajo_epoch"), 10, 64); err != nil || h.Body != "" ||
		!verifyKarajoSign(secret, h.Query, h.Header.Get("X-Karajo-Sign")) {
		t.Fatalf("GET with query %q, body %q, sign %q: want _karajo_epoch signed in the query", h.Query, h.Body, h.Header.Get("X-Karajo-Sign"))
	}
	tn.must(200, "DELETE", "/goscheduler/schedules/"+c.ScheduleID, nil)

	// Only 200 counts: a 201 fails at once.
	rc.answer("/created", 201)
	once := tn.lifeCall(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "shaped",
		"scheduleTime": time.Now().Unix() + 1,
		"callback":     map[string]any{"type": "http", "details": details("/created", "POST", "form", 200)}})
	failed := tn.waitStatus(once.ScheduleID, "FAILURE", 10*time.Second)
	if r := string(tn.must(200, "GET", "/goscheduler/schedules/"+once.ScheduleID, nil).raw); !strings.Contains(r, `"attempts":1`) ||
		!strings.Contains(failed.ErrorMessage, "only 200 counts") {
		t.Fatalf("a 201 where only 200 counts: %+v", failed)
	}

	// A path calls this node's own API (karajo's http_url "/..."), which
	// the guard otherwise keeps callbacks off.
	self := tn.lifeCall(200, "POST", "/goscheduler/schedules", map[string]any{"appId": "shaped",
		"scheduleTime": time.Now().Unix() + 1,
		"callback":     map[string]any{"type": "http", "details": map[string]any{"url": "/goscheduler/healthcheck", "method": "GET"}}})
	tn.waitStatus(self.ScheduleID, "SUCCESS", 10*time.Second)
	code, r := tn.call("POST", "/goscheduler/schedules", map[string]any{"appId": "shaped",
		"scheduleTime": time.Now().Unix() + 1,
		"callback":     map[string]any{"type": "http", "details": map[string]any{"url": tn.base + "/goscheduler/healthcheck", "method": "GET"}}})
	if code != 400 || !strings.Contains(string(r.raw), "address of this Chronicle cluster") {
		t.Fatalf("a callback naming the node's address: HTTP %d %s, want 400 from the guard", code, r.raw)
	}

	for _, bad := range []struct {
		what    string
		payload string
		details map[string]any
		msg     string
	}{
		{"json params and a payload", "{}", details("/x", "POST", "json", 0), "payload must be empty"},
		{"form params on a GET", "", details("/x", "GET", "form", 0), "method must be POST"},
		{"unknown params", "", details("/x", "POST", "xml", 0), "query, form or json"},
		{"a 3xx success", "", details("/x", "POST", "json", 302), "2xx"},
		{"a signature without a secret", "", map[string]any{"url": rc.url("/x"), "method": "POST",
			"signature": map[string]any{"header": "X-Karajo-Sign"}}, "signature secret"},
		{"a path with a host", "", map[string]any{"url": "//example.com/x", "method": "GET"}, "starting with one '/'"},
	} {
		code, r := tn.call("POST", "/goscheduler/schedules", map[string]any{"appId": "shaped", "payload": bad.payload,
			"scheduleTime": time.Now().Unix() + 60, "callback": map[string]any{"type": "http", "details": bad.details}})
		if code != 400 || !strings.Contains(string(r.raw), bad.msg) {
			t.Errorf("%s: HTTP %d %s, want 400 naming %q", bad.what, code, r.raw, bad.msg)
		}
	}
}
