package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-sched/chronicle/client"
	"github.com/chronicle-sched/chronicle/http/auth"
)

// writeSecret writes a secret file for --admin-token-file or
// --cluster-secret-file, with the surrounding whitespace an editor adds.
func writeSecret(t testing.TB, name, secret string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte("\n  "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issued is POST /auth/tokens' answer.
type issued struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

// issueToken issues a token through the Go client.
func (tn *testNode) issueToken(name, role string, apps ...string) issued {
	tn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := tn.api().CreateToken(ctx, client.CreateTokenRequest{Name: name, Role: role, Apps: apps})
	if err != nil || !strings.HasPrefix(out.Token, "chr_") {
		tn.t.Fatalf("issue token %s: %+v, %v", name, out, err)
	}
	return issued{ID: out.ID, Token: out.Token}
}

// rawCall is a request whose answer's headers the test reads.
func rawCall(t testing.TB, tn *testNode, token, method, path string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, tn.base+path, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := tn.httpClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// eventActors is the actor of each event of a schedule's history, by type.
func (tn *testNode) eventActors(token, id string) map[string]string {
	tn.t.Helper()
	code, r := tn.callAs(token, "GET", "/goscheduler/schedules/"+id+"/events", nil)
	if code != 200 {
		tn.t.Fatalf("events of %s: HTTP %d %s", id, code, r.raw)
	}
	h := decodeData[struct {
		Events []struct{ Type, Actor string }
	}](tn.t, r)
	out := map[string]string{}
	for _, ev := range h.Events {
		out[ev.Type] = ev.Actor
	}
	return out
}

func onceBody(app, url string) map[string]any {
	return map[string]any{"appId": app, "payload": "p", "scheduleTime": time.Now().Unix() + 3600,
		"callback": map[string]any{"type": "http", "details": map[string]any{"url": url, "method": "POST"}}}
}

// With --admin-token-file every request but the health checks needs a
// token; a reader cannot write; a token limited to some apps sees and
// changes only those, in every list and in /events; only admins issue
// tokens; a revoked token opens nothing; and the events name the token
// that caused them.
func TestTokensDecideWhoSeesAndChangesWhat(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	adminToken := "admin-" + strings.Repeat("x", 20)
	cfg.adminTokenFile = writeSecret(t, "admin-token", adminToken)
	tn := startTestNode(t, cfg)
	if tn.token != adminToken {
		t.Fatalf("harness read token %q", tn.token)
	}

	// No token, or an unknown one: 401 JSON with WWW-Authenticate.
	for _, token := range []string{"", "chr_unknown", adminToken + "x"} {
		res, body := rawCall(t, tn, token, "GET", "/goscheduler/apps", nil)
		if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") || !json.Valid([]byte(body)) {
			t.Fatalf("token %q: HTTP %d, WWW-Authenticate %q, body %s", token, res.StatusCode, res.Header.Get("WWW-Authenticate"), body)
		}
	}
	for _, path := range []string{"/goscheduler/healthcheck", "/health", "/livez", "/readyz", "/openapi.json"} {
		if res, body := rawCall(t, tn, "", "GET", path, nil); res.StatusCode != 200 {
			t.Fatalf("GET %s without a token: HTTP %d %s", path, res.StatusCode, body)
		}
	}
	if res, _ := rawCall(t, tn, "", "GET", "/events", nil); res.StatusCode != 401 {
		t.Fatalf("/events without a token: HTTP %d", res.StatusCode)
	}

	rc := newReceiver(t)
	tn.registerApp("alpha", 1)
	tn.registerApp("beta", 1)
	betaSchedule := tn.createOnce("beta", time.Now().Unix()+3600, rc.url("/b"), "POST", "b")

	reader := tn.issueToken("dashboards", "reader")
	alpha := tn.issueToken("alpha team", "writer", "alpha")

	// The reader reads everything and changes nothing.
	if code, r := tn.callAs(reader.Token, "GET", "/goscheduler/apps", nil); code != 200 || *r.Status.TotalCount != 2 {
		t.Fatalf("reader lists apps: HTTP %d %s", code, r.raw)
	}
	for _, w := range []struct{ method, path string }{
		{"POST", "/goscheduler/schedules"}, {"DELETE", "/goscheduler/schedules/" + betaSchedule.ScheduleID},
		{"POST", "/goscheduler/apps/beta/deactivate"}, {"POST", "/goscheduler/apps/beta/signing-secret/rotate"},
	} {
		if code, r := tn.callAs(reader.Token, w.method, w.path, onceBody("beta", rc.url("/r"))); code != 403 {
			t.Fatalf("reader %s %s: HTTP %d %s", w.method, w.path, code, r.raw)
		}
	}

	// The alpha token changes alpha, and beta does not exist for it.
	code, r := tn.callAs(alpha.Token, "POST", "/goscheduler/schedules", onceBody("alpha", rc.url("/a")))
	if code != 200 {
		t.Fatalf("alpha token creates in alpha: HTTP %d %s", code, r.raw)
	}
	alphaSchedule := decodeData[struct{ Schedule schedule }](t, r).Schedule
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/goscheduler/schedules", onceBody("beta", rc.url("/x"))},
		{"GET", "/goscheduler/schedules/" + betaSchedule.ScheduleID, nil},
		{"GET", "/goscheduler/schedules/" + betaSchedule.ScheduleID + "/events", nil},
		{"GET", "/goscheduler/schedules/" + betaSchedule.ScheduleID + "/runs", nil},
		{"DELETE", "/goscheduler/schedules/" + betaSchedule.ScheduleID, nil},
		{"GET", "/goscheduler/apps/beta/schedules", nil},
		{"GET", "/goscheduler/apps/beta/events", nil},
		{"GET", "/goscheduler/apps/beta/signing-secret", nil},
		{"GET", "/goscheduler/apps?app_id=beta", nil},
		{"GET", "/goscheduler/crons/schedules?app_id=beta", nil},
		{"POST", "/goscheduler/apps/beta/bulk-action/delete", nil},
		{"POST", "/auth/tokens", map[string]any{"name": "mine", "role": "admin"}},
		{"GET", "/auth/tokens", nil},
		{"POST", "/cluster/leadership-transfer", nil},
	} {
		if code, r := tn.callAs(alpha.Token, w.method, w.path, w.body); code != 403 {
			t.Fatalf("alpha token %s %s: HTTP %d, want 403: %s", w.method, w.path, code, r.raw)
		}
	}
	code, r = tn.callAs(alpha.Token, "GET", "/goscheduler/apps", nil)
	if apps := decodeData[struct{ Apps []appView }](t, r).Apps; code != 200 || len(apps) != 1 || apps[0].AppID != "alpha" {
		t.Fatalf("alpha token lists apps: HTTP %d %s", code, r.raw)
	}
	code, r = tn.callAs(alpha.Token, "GET", "/events?limit=1000", nil)
	if code != 200 || strings.Contains(string(r.raw), `"beta"`) || strings.Contains(string(r.raw), "TokenIssued") ||
		!strings.Contains(string(r.raw), alphaSchedule.ScheduleID) {
		t.Fatalf("alpha token's /events: HTTP %d %s", code, r.raw)
	}
	if code, r := tn.callAs(alpha.Token, "DELETE", "/goscheduler/schedules/"+alphaSchedule.ScheduleID, nil); code != 200 {
		t.Fatalf("alpha token deletes its schedule: HTTP %d %s", code, r.raw)
	}

	// Who did it: the token's id, or admin.
	if got := tn.eventActors(reader.Token, alphaSchedule.ScheduleID); got["ScheduleCreated"] != alpha.ID || got["ScheduleDeleted"] != alpha.ID {
		t.Fatalf("alpha schedule's actors %v, want %s", got, alpha.ID)
	}
	if got := tn.eventActors(tn.token, betaSchedule.ScheduleID); got["ScheduleCreated"] != "admin" {
		t.Fatalf("beta schedule's actors %v, want admin", got)
	}

	// The admin lists the tokens, never their secrets; the log holds only
	// hashes.
	r = tn.must(200, "GET", "/auth/tokens", nil)
	var list struct {
		Tokens []struct{ ID, Name, Role, IssuedBy string }
	}
	if err := json.Unmarshal(r.raw, &list); err != nil || len(list.Tokens) != 2 || list.Tokens[0].IssuedBy != "admin" {
		t.Fatalf("GET /auth/tokens: %s", r.raw)
	}
	everything := string(tn.allEvents()) + string(r.raw)
	for _, secret := range []string{reader.Token, alpha.Token, adminToken} {
		if strings.Contains(everything, secret) {
			t.Fatalf("a token's secret is shown by /auth/tokens or /events")
		}
	}
	if !strings.Contains(everything, auth.Hash(alpha.Token)) {
		t.Fatal("TokenIssued does not record the secret's hash")
	}

	// Revoked: 401 from then on, and the revocation is in the history.
	if res, body := rawCall(t, tn, tn.token, "DELETE", "/auth/tokens/"+alpha.ID, nil); res.StatusCode != 204 {
		t.Fatalf("revoke: HTTP %d %s", res.StatusCode, body)
	}
	if code, r := tn.callAs(alpha.Token, "GET", "/goscheduler/apps", nil); code != 401 {
		t.Fatalf("revoked token: HTTP %d %s", code, r.raw)
	}
	if code, r := tn.call("DELETE", "/auth/tokens/tok_missing", nil); code != 404 {
		t.Fatalf("revoking an unknown token: HTTP %d %s", code, r.raw)
	}
	if code, r := tn.call("POST", "/auth/tokens", map[string]any{"name": "x", "role": "root"}); code != 400 ||
		!strings.Contains(string(r.raw), "role") {
		t.Fatalf("issuing a token with an unknown role: HTTP %d %s", code, r.raw)
	}
	if code, r := tn.call("POST", "/auth/tokens", nil); code != 400 {
		t.Fatalf("issuing a token without a body: HTTP %d %s (once a 500)", code, r.raw)
	}
}

type appView struct {
	AppID string `json:"appId"`
}

// A token's requests beyond --rate-limit get 429 with Retry-After; other
// tokens keep their own budget.
func TestRateLimitIsPerToken(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.adminTokenFile = writeSecret(t, "admin-token", strings.Repeat("a", 32))
	tn := startTestNode(t, cfg)
	reader := tn.issueToken("noisy", "reader")
	tn.stop()
	cfg.rateLimit, cfg.rateBurst = 2, 5
	tn = startTestNode(t, cfg)

	var limited *http.Response
	for i := 0; i < 20 && limited == nil; i++ {
		if res, _ := rawCall(t, tn, reader.Token, "GET", "/goscheduler/apps", nil); res.StatusCode == 429 {
			limited = res
		} else if res.StatusCode != 200 {
			t.Fatalf("request %d: HTTP %d", i, res.StatusCode)
		}
	}
	if limited == nil {
		t.Fatal("20 requests at once never met the limit of 2/s with bursts of 5")
	}
	if ra := limited.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("429 without a useful Retry-After: %q", ra)
	}
	if res, body := rawCall(t, tn, tn.token, "GET", "/goscheduler/apps", nil); res.StatusCode != 200 {
		t.Fatalf("another token is limited too: HTTP %d %s", res.StatusCode, body)
	}
	time.Sleep(time.Second)
	if res, _ := rawCall(t, tn, reader.Token, "GET", "/goscheduler/apps", nil); res.StatusCode != 200 {
		t.Fatalf("a second later: HTTP %d", res.StatusCode)
	}
}

// A node refuses to start where anyone on the network could change it:
// a non-loopback API without a token, non-loopback peers without a
// cluster secret (or TLS), unless --insecure-no-auth says so.
func TestServeRefusesAnOpenNetwork(t *testing.T) {
	token := writeSecret(t, "token", strings.Repeat("t", 32))
	for _, c := range []struct {
		name           string
		tune           func(*serveConfig)
		wantErrContain string
	}{
		{"api on every interface", func(c *serveConfig) { c.httpAddr = "0.0.0.0:0" }, "--admin-token-file"},
		{"peers on the network", func(c *serveConfig) { c.peers = "node1=" + c.raftAddr + ",node2=10.9.9.9:7001" }, "--cluster-secret-file"},
		{"short secret", func(c *serveConfig) { c.adminTokenFile = writeSecret(t, "short", "abc") }, "at least 16"},
		{"missing file", func(c *serveConfig) { c.adminTokenFile = "/nonexistent/token" }, "--admin-token-file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			c.tune(&cfg)
			n, err := startNode(cfg, testLogger())
			if err == nil {
				n.stop()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), c.wantErrContain) {
				t.Fatalf("error %q does not name %s", err, c.wantErrContain)
			}
		})
	}
	// The same addresses start with a token, or with the override.
	cfg := testConfig(t, t.TempDir())
	cfg.httpAddr, cfg.adminTokenFile = "0.0.0.0:0", token
	n, err := startNode(cfg, testLogger())
	if err != nil {
		t.Fatalf("with a token: %v", err)
	}
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	cfg = testConfig(t, t.TempDir())
	cfg.httpAddr, cfg.insecureNoAuth = "0.0.0.0:0", true
	if n, err = startNode(cfg, testLogger()); err != nil {
		t.Fatalf("with --insecure-no-auth: %v", err)
	}
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
}

// In a cluster with auth and a cluster secret: a revocation made on one
// node takes effect on all three within a second; the actor survives a
// create forwarded by a follower and a delete relayed to the leader; the
// cluster's own endpoints refuse whoever cannot prove membership.
func TestAuthHoldsAcrossTheCluster(t *testing.T) {
	tokenFile := writeSecret(t, "admin-token", strings.Repeat("k", 32))
	secret := strings.Repeat("s", 32)
	secretFile := writeSecret(t, "cluster-secret", secret)
	nodes := makeCluster(t, 3, clusterOpts{tune: func(c *serveConfig) {
		c.adminTokenFile, c.clusterSecretFile = tokenFile, secretFile
	}})
	leader, followers := leaderAndFollowers(t, nodes)
	leader.registerApp("team", 1)
	team := followers[0].issueToken("team", "writer", "team")
	waitForReplication(t, nodes)

	rc := newReceiver(t)
	code, r := followers[0].callAs(team.Token, "POST", "/goscheduler/schedules", onceBody("team", rc.url("/t")))
	if code != 200 {
		t.Fatalf("create through a follower: HTTP %d %s", code, r.raw)
	}
	s := decodeData[struct{ Schedule schedule }](t, r).Schedule
	if code, r := followers[1].callAs(team.Token, "DELETE", "/goscheduler/schedules/"+s.ScheduleID, nil); code != 200 {
		t.Fatalf("delete through the other follower: HTTP %d %s", code, r.raw)
	}
	waitForReplication(t, nodes)
	for _, tn := range nodes {
		if got := tn.eventActors(tn.token, s.ScheduleID); got["ScheduleCreated"] != team.ID || got["ScheduleDeleted"] != team.ID {
			t.Fatalf("%s shows actors %v, want %s", tn.cfg.nodeID, got, team.ID)
		}
	}

	// Revoke on a follower; every node refuses the token within a second.
	for _, tn := range nodes {
		if code, _ := tn.callAs(team.Token, "GET", "/goscheduler/apps", nil); code != 200 {
			t.Fatalf("%s refuses the token before its revocation: %d", tn.cfg.nodeID, code)
		}
	}
	if res, body := rawCall(t, followers[1], followers[1].token, "DELETE", "/auth/tokens/"+team.ID, nil); res.StatusCode != 204 {
		t.Fatalf("revoke: HTTP %d %s", res.StatusCode, body)
	}
	revoked := time.Now()
	refusedBy := map[string]time.Duration{}
	for len(refusedBy) < len(nodes) && time.Since(revoked) < 5*time.Second {
		for _, tn := range nodes {
			if _, done := refusedBy[tn.cfg.nodeID]; done {
				continue
			}
			if code, _ := tn.callAs(team.Token, "GET", "/goscheduler/apps", nil); code == 401 {
				refusedBy[tn.cfg.nodeID] = time.Since(revoked)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, tn := range nodes {
		if d, ok := refusedBy[tn.cfg.nodeID]; !ok || d > time.Second {
			t.Fatalf("revocation reached the nodes after %v, want all within 1s", refusedBy)
		}
	}
	t.Logf("revocation took effect after %v", refusedBy)

	// The cluster's own endpoints.
	proof := func(secret, method, path string) map[string]string {
		return map[string]string{auth.ProofHeader: auth.Proof(secret, method, path, time.Now())}
	}
	writer := leader.issueToken("writer", "writer")
	waitForReplication(t, nodes) // a node knows a token once it applied its issue
	for _, c := range []struct {
		what, token, method, path string
		header                    map[string]string
		want                      int
	}{
		{"propose without proof", "", "POST", "/internal/propose", nil, 401},
		{"propose with the admin token but no proof", leader.token, "POST", "/internal/propose", nil, 401},
		{"propose with a proof of another secret", "", "POST", "/internal/propose", proof("wrong-secret-wrong-secret", "POST", "/internal/propose"), 401},
		{"propose with a proof for another path", "", "POST", "/internal/propose", proof(secret, "POST", "/cluster/announce"), 401},
		{"announce without proof", "", "POST", "/cluster/announce", nil, 401},
		{"add a member without a token", "", "POST", "/cluster/members", nil, 401},
		{"add a member as a writer", writer.Token, "POST", "/cluster/members", nil, 403},
		{"remove a member as a writer", writer.Token, "DELETE", "/cluster/members/n1", nil, 403},
		{"transfer leadership as a writer", writer.Token, "POST", "/cluster/leadership-transfer", nil, 403},
	} {
		for _, tn := range nodes {
			if res, body := rawCall(t, tn, c.token, c.method, c.path, c.header); res.StatusCode != c.want {
				t.Fatalf("%s on %s: HTTP %d, want %d: %s", c.what, tn.cfg.nodeID, res.StatusCode, c.want, body)
			}
		}
	}
	// With the proof, the endpoint is reached (and refuses the empty body
	// on its own terms).
	if res, body := rawCall(t, leader, "", "POST", "/internal/propose", proof(secret, "POST", "/internal/propose")); res.StatusCode == 401 || res.StatusCode == 403 {
		t.Fatalf("propose with a valid proof: HTTP %d %s", res.StatusCode, body)
	}
	ensureSame(t, nodes)
}

// chronicle token create|list|revoke manages tokens on a running node
// with the admin token, over HTTPS when the node serves it.
func TestTokenCommand(t *testing.T) {
	tn := startHTTPSNode(t, strings.Repeat("z", 24))
	cfg, caFile := tn.cfg, tn.cfg.tls.CA
	run := func(args ...string) (string, error) {
		var out, errs strings.Builder
		err := token(append(args[:1:1], append([]string{"--addr", tn.base, "--admin-token-file", cfg.adminTokenFile,
			"--tls-ca", caFile}, args[1:]...)...), &out, &errs)
		return out.String(), err
	}
	out, err := run("create", "--name", "ci deploys", "--role", "writer", "--apps", "web,batch")
	if err != nil {
		t.Fatal(err)
	}
	var id, secret string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "id:"); ok {
			id = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "token:"); ok {
			secret = strings.TrimSpace(v)
		}
	}
	if id == "" || !strings.HasPrefix(secret, "chr_") {
		t.Fatalf("create printed %q", out)
	}
	if code, r := tn.callAs(secret, "GET", "/goscheduler/apps", nil); code != 200 {
		t.Fatalf("the new token: HTTP %d %s", code, r.raw)
	}
	if out, err = run("list"); err != nil || !strings.Contains(out, id) || !strings.Contains(out, "web,batch") ||
		strings.Contains(out, secret) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if _, err = run("revoke", id); err != nil {
		t.Fatal(err)
	}
	if code, _ := tn.callAs(secret, "GET", "/goscheduler/apps", nil); code != 401 {
		t.Fatalf("revoked token: HTTP %d", code)
	}
	if _, err = run("create", "--name", "x", "--role", "superuser"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("a bad role: %v", err)
	}
	wrong := writeSecret(t, "wrong", strings.Repeat("w", 24))
	err = token([]string{"list", "--addr", tn.base, "--admin-token-file", wrong, "--tls-ca", caFile}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a wrong admin token: %v", err)
	}
}

// No secret reaches the log, even at debug level: not the admin token,
// not an issued token, not a callback's credentials, not a signing secret.
func TestSecretsStayOutOfTheLog(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	adminToken := "admin-token-" + strings.Repeat("q", 20)
	cfg.adminTokenFile, cfg.logLevel = writeSecret(t, "admin-token", adminToken), "debug"
	var out strings.Builder
	tn := startChild(t, cfg, &out)
	tn.registerApp("quiet", 1)
	issuedToken := tn.issueToken("quiet", "writer", "quiet")
	signing := decodeData[struct{ Secret string }](t, tn.must(200, "GET", "/goscheduler/apps/quiet/signing-secret", nil)).Secret
	rc := newReceiver(t)
	rc.answer("/fails", 500)
	const callbackSecret = "Bearer callback-credential-12345"
	code, r := tn.callAs(issuedToken.Token, "POST", "/goscheduler/schedules", map[string]any{
		"appId": "quiet", "payload": "p", "scheduleTime": time.Now().Unix() + 1,
		"callback": map[string]any{"type": "http", "details": map[string]any{"url": rc.url("/fails"), "method": "POST",
			"headers": map[string]string{"Authorization": callbackSecret}}}})
	if code != 200 {
		t.Fatalf("create: HTTP %d %s", code, r.raw)
	}
	s := decodeData[struct{ Schedule schedule }](t, r).Schedule
	tn.waitStatus(s.ScheduleID, "FAILURE", 10*time.Second)
	_, _ = tn.callAs("chr_wrong-token-guess", "GET", "/goscheduler/apps", nil)
	tn.stop()
	log := out.String()
	if !strings.Contains(log, "level=DEBUG") {
		t.Fatalf("no debug output to check: %q", log)
	}
	for name, secret := range map[string]string{"admin token": adminToken, "issued token": issuedToken.Token,
		"callback credential": callbackSecret, "signing secret": signing, "a guessed token": "chr_wrong-token-guess"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log shows the %s", name)
		}
	}
}
