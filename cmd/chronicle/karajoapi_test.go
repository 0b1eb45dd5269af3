package main

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// karajoSign is karajo's Sign: lower-case hex HMAC-SHA256 of the payload.
func karajoSign(payload, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}

// karajoClient does what karajo's Go client (client.go, v0.9) does:
// the same requests, signed the same way, decoded the same way (the
// body's code decides, not the HTTP status; run's HTTP 404 is "job not
// found"). Written from karajo's source, not from ours. One difference,
// ours: job_http pause and resume carry _karajo_epoch, as karajo's web UI
// sends it (the server requires it; karajo's Go client sends only id).
type karajoClient struct {
	base, secret string
	hc           *http.Client
	now          func() time.Time
}

// karajoResponse is libhttp's EndpointResponse.
type karajoResponse struct {
	Data    json.RawMessage `json:"data"`
	Message string          `json:"message"`
	Name    string          `json:"name"`
	Code    int             `json:"code"`
}

func (r *karajoResponse) Error() string { return r.Message }

// karajo's structs as its client decodes them (the fields it has).
type karajoLog struct {
	JobID   string `json:"job_id"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Counter int64  `json:"counter"`
	Content []byte `json:"content"`
}

type karajoJobBase struct {
	LastRun      time.Time      `json:"last_run"`
	NextRun      time.Time      `json:"next_run"`
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Status       string         `json:"status"`
	Schedule     string         `json:"schedule"`
	Logs         []*karajoLog   `json:"logs"`
	Interval     time.Duration  `json:"interval"`
	LogRetention int            `json:"log_retention"`
	Extra        map[string]any `json:"-"`
}

type karajoJobExec struct {
	Path       string   `json:"path"`
	AuthKind   string   `json:"auth_kind"`
	HeaderSign string   `json:"header_sign"`
	Commands   []string `json:"commands"`
	karajoJobBase
}

type karajoJobHTTP struct {
	HeaderSign      string        `json:"header_sign"`
	HTTPMethod      string        `json:"http_method"`
	HTTPURL         string        `json:"http_url"`
	HTTPRequestType string        `json:"http_request_type"`
	HTTPHeaders     []string      `json:"http_headers"`
	HTTPTimeout     time.Duration `json:"http_timeout"`
	karajoJobBase
}

type karajoEnv struct {
	Jobs          map[string]*karajoJobExec `json:"jobs"`
	HTTPJobs      map[string]*karajoJobHTTP `json:"http_jobs"`
	Name          string                    `json:"name"`
	HTTPTimeout   time.Duration             `json:"http_timeout"`
	MaxJobRunning int                       `json:"max_job_running"`
}

func (c *karajoClient) do(req *http.Request, into any) error {
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	out := &karajoResponse{}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("HTTP %d, body %q: %w", res.StatusCode, body, err)
	}
	if out.Code != http.StatusOK {
		return out
	}
	if into != nil {
		return json.Unmarshal(out.Data, into)
	}
	return nil
}

func (c *karajoClient) Env() (*karajoEnv, error) {
	req, _ := http.NewRequest("GET", c.base+"/karajo/api/environment", nil)
	env := &karajoEnv{}
	return env, c.do(req, env)
}

func (c *karajoClient) JobExecRun(jobPath string) (*karajoJobExec, error) {
	body, _ := json.Marshal(struct {
		ID    string `json:"id"`
		Epoch int64  `json:"_karajo_epoch"`
	}{Epoch: c.now().Unix()})
	req, _ := http.NewRequest("POST", c.base+path.Join("/karajo/api/job_exec/run", jobPath), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Karajo-Sign", karajoSign(string(body), c.secret))
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return nil, &karajoResponse{Code: 404, Name: "ERR_JOB_NOT_FOUND", Message: "job not found: " + jobPath}
	}
	raw, _ := io.ReadAll(res.Body)
	out := &karajoResponse{}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, err
	}
	if out.Code >= 400 {
		return nil, out
	}
	job := &karajoJobExec{}
	return job, json.Unmarshal(out.Data, job)
}

func (c *karajoClient) jobExecAction(action, id string) (*karajoJobExec, error) {
	params := url.Values{"_karajo_epoch": {strconv.FormatInt(c.now().Unix(), 10)}, "id": {id}}
	body := params.Encode()
	req, _ := http.NewRequest("POST", c.base+"/karajo/api/job_exec/"+action, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Karajo-Sign", karajoSign(body, c.secret))
	job := &karajoJobExec{}
	return job, c.do(req, job)
}

func (c *karajoClient) JobExecLog(id string, counter int) (*karajoLog, error) {
	q := url.Values{"id": {id}, "counter": {strconv.Itoa(counter)}}
	req, _ := http.NewRequest("GET", c.base+"/karajo/api/job_exec/log?"+q.Encode(), nil)
	l := &karajoLog{}
	return l, c.do(req, l)
}

func (c *karajoClient) JobHTTP(id string) (*karajoJobHTTP, error) {
	req, _ := http.NewRequest("GET", c.base+"/karajo/api/job_http?"+url.Values{"id": {id}}.Encode(), nil)
	job := &karajoJobHTTP{}
	return job, c.do(req, job)
}

func (c *karajoClient) JobHTTPLog(id string, counter int) (*karajoLog, error) {
	q := url.Values{"id": {id}, "counter": {strconv.Itoa(counter)}}
	req, _ := http.NewRequest("GET", c.base+"/karajo/api/job_http/log?"+q.Encode(), nil)
	l := &karajoLog{}
	return l, c.do(req, l)
}

func (c *karajoClient) jobHTTPAction(action, id string) (*karajoJobHTTP, error) {
	query := url.Values{"_karajo_epoch": {strconv.FormatInt(c.now().Unix(), 10)}, "id": {id}}.Encode()
	req, _ := http.NewRequest("POST", c.base+"/karajo/api/job_http/"+action+"?"+query, nil)
	req.Header.Set("X-Karajo-Sign", karajoSign(query, c.secret))
	job := &karajoJobHTTP{}
	return job, c.do(req, job)
}

// raw sends a request as given and returns the status and the body, read
// through gzip when the answer says so.
func karajoRaw(t *testing.T, method, u string, header map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var rd io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		rd = zr
	}
	b, _ := io.ReadAll(rd)
	return res.StatusCode, res.Header, string(b)
}

// karajo's API over a karajo.conf, as karajo's client uses it: the
// environment, a signed webhook that runs a command job (its log holds the
// output), 403 on a bad signature, 412 paused, 429 with one queued, pause
// and resume (a replayed or stale one 401), cancel, HTTP jobs and their
// logs; karajo's error names, codes and shapes throughout.
func TestKarajoAPI(t *testing.T) {
	dir := t.TempDir()
	rc := newReceiver(t)
	cfg := testConfig(t, filepath.Join(dir, "data"))
	cfg.karajoConfig = writeKarajo(t, dir, fmt.Sprintf(`
[job "Deploy web"]
description = Pull and <b>deploy</b>.
path = /deploy
secret = job-secret
log_retention = 3
command = echo deploying $KARAJO_JOB_COUNTER
command = sleep 3

[job "GitHub push"]
path = /github
auth_kind = github
command = echo pushed

[job.http "Ping"]
interval = 2s
http_url = %s
http_method = POST
http_request_type = json
secret = ping-secret
http_header = X-Team: ops
`, rc.url("/ping")))
	tn := startTestNode(t, cfg)
	waitFor(t, 10*time.Second, "the jobs defined", func() bool { return len(tn.karajoSchedules()) == 3 })
	kc := &karajoClient{base: tn.base, secret: "global-secret", hc: apiClient, now: time.Now}
	jobClient := &karajoClient{base: tn.base, secret: "job-secret", hc: apiClient, now: time.Now}

	// The environment: jobs by name, durations in ns, no secret anywhere.
	code, hdr, raw := karajoRaw(t, "GET", tn.base+"/karajo/api/environment", map[string]string{"Accept-Encoding": "gzip"}, "")
	if code != 200 || hdr.Get("Content-Encoding") != "gzip" {
		t.Fatalf("environment: HTTP %d, encoding %q", code, hdr.Get("Content-Encoding"))
	}
	for _, secret := range []string{"global-secret", "job-secret", "ping-secret"} {
		if strings.Contains(raw, secret) {
			t.Fatalf("the environment shows a secret: %s", raw)
		}
	}
	if _, hdr, _ := karajoRaw(t, "GET", tn.base+"/karajo/api/environment", nil, ""); hdr.Get("Content-Encoding") != "" {
		t.Fatal("the environment is gzip-compressed for a client that did not ask for it")
	}
	env, err := kc.Env()
	if err != nil {
		t.Fatal(err)
	}
	deploy := env.Jobs["Deploy web"]
	ping := env.HTTPJobs["Ping"]
	if deploy == nil || ping == nil || deploy.ID != "deploy_web" || deploy.Path != "/deploy" || deploy.AuthKind != "hmac-sha256" ||
		deploy.HeaderSign != "X-Karajo-Sign" || len(deploy.Commands) != 2 || deploy.LogRetention != 3 || deploy.Status != "started" {
		t.Fatalf("environment's jobs: %s", raw)
	}
	if ping.Interval != 2*time.Second || ping.HTTPMethod != "POST" || ping.HTTPRequestType != "json" ||
		len(ping.HTTPHeaders) != 1 || ping.HTTPHeaders[0] != "X-Team: ops" || ping.HTTPTimeout != 5*time.Minute ||
		env.HTTPTimeout != 5*time.Minute || env.MaxJobRunning != 1 || env.Name != "test" {
		t.Fatalf("environment: %s", raw)
	}
	if !strings.Contains(raw, `"next_run":"0001-01-01T00:00:00Z"`) {
		t.Fatalf("a webhook job's next_run should be the zero time, RFC 3339: %s", raw)
	}

	// A bad signature: 403, karajo's error shape, nothing runs.
	code, _, raw = karajoRaw(t, "POST", tn.base+"/karajo/api/job_exec/run/deploy", map[string]string{"X-Karajo-Sign": karajoSign("x", "job-secret")}, `{"_karajo_epoch":1}`)
	if code != 403 || raw != `{"message":"forbidden","name":"ERR_JOB_FORBIDDEN","code":403}` {
		t.Fatalf("a bad signature: HTTP %d %s", code, raw)
	}
	if _, err := kc.JobExecRun("/deploy"); err == nil || err.(*karajoResponse).Code != 403 {
		t.Fatalf("the global secret for a job with its own: %v", err)
	}
	if _, err := kc.JobExecRun("/nope"); err == nil || err.(*karajoResponse).Name != "ERR_JOB_NOT_FOUND" {
		t.Fatalf("an unknown path: %v", err)
	}

	// The signed webhook runs the commands; two more: one queued, one 429.
	job, err := jobClient.JobExecRun("/DEPLOY/") // karajo matches paths without regard to case or a trailing slash
	if err != nil || job.ID != "deploy_web" {
		t.Fatalf("run: %+v, %v", job, err)
	}
	waitFor(t, 10*time.Second, "the run going", func() bool {
		j, err := jobClient.jobExecAction("pause", "x") // not found, and its signature is refused anyway
		_ = j
		return err != nil && tn.lifeCall(200, "GET", "/goscheduler/schedules/"+tn.karajoSchedules()["job/deploy_web"], nil).Runs == 1
	})
	if _, err := jobClient.JobExecRun("/deploy"); err != nil {
		t.Fatalf("a run while one goes on is queued: %v", err)
	}
	_, err = jobClient.JobExecRun("/deploy")
	if e, ok := err.(*karajoResponse); !ok || e.Code != 429 || e.Name != "ERR_JOB_ALREADY_RUN" || e.Message != "job already run" {
		t.Fatalf("a third run: %v, want 429 ERR_JOB_ALREADY_RUN", err)
	}
	var log *karajoLog
	waitFor(t, 15*time.Second, "two runs done", func() bool {
		log, err = kc.JobExecLog("deploy_web", 2)
		return err == nil && log.Status == "success"
	})
	if log.Name != "deploy_web.2.success" || log.Counter != 2 || !strings.Contains(string(log.Content), "deploying 2") {
		t.Fatalf("log 2: %+v %q", log, log.Content)
	}
	if _, err := kc.JobExecLog("DEPLOY_WEB", 1); err != nil {
		t.Fatalf("log ids are read without regard to case: %v", err)
	}
	code, _, raw = karajoRaw(t, "GET", tn.base+"/karajo/api/job_exec/log?id=deploy_web&counter=99", nil, "")
	if code != 404 || raw != `{"message":"log #99 not found","code":404}` {
		t.Fatalf("an unknown counter: HTTP %d %s, want a real 404", code, raw)
	}
	code, _, raw = karajoRaw(t, "GET", tn.base+"/karajo/api/job_exec/log?id=nope&counter=1", nil, "")
	if code != 404 || raw != `{"message":"job ID nope not found","code":404}` {
		t.Fatalf("an unknown job's log: HTTP %d %s", code, raw)
	}

	// Pause: a run is then refused with 412; a replayed or stale pause 401.
	// (A second in the past: the client's own requests below, within the
	// same second, must not carry the very same signed bytes.)
	body := url.Values{"_karajo_epoch": {strconv.FormatInt(time.Now().Add(-2*time.Second).Unix(), 10)}, "id": {"deploy_web"}}.Encode()
	sign := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Karajo-Sign": karajoSign(body, "global-secret")}
	code, _, raw = karajoRaw(t, "POST", tn.base+"/karajo/api/job_exec/pause", sign, body)
	if code != 200 || !strings.Contains(raw, `"status":"paused"`) || !strings.HasSuffix(raw, `"code":200}`) {
		t.Fatalf("pause: HTTP %d %s", code, raw)
	}
	code, _, raw = karajoRaw(t, "POST", tn.base+"/karajo/api/job_exec/pause", sign, body)
	if code != 401 || !strings.Contains(raw, "already used") {
		t.Fatalf("the same pause again: HTTP %d %s, want 401", code, raw)
	}
	// Nor on another endpoint (karajo signs no path), nor with a fresh
	// epoch or another id in the query, which no signature covers.
	code, _, raw = karajoRaw(t, "POST", tn.base+"/karajo/api/job_exec/resume", sign, body)
	if code != 401 {
		t.Fatalf("the pause's signed body sent to resume: HTTP %d %s, want 401", code, raw)
	}
	old := url.Values{"_karajo_epoch": {strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)}, "id": {"deploy_web"}}.Encode()
	code, _, raw = karajoRaw(t, "POST", tn.base+"/karajo/api/job_exec/cancel?_karajo_epoch="+strconv.FormatInt(time.Now().Unix(), 10),
		map[string]string{"Content-Type": "text/plain", "X-Karajo-Sign": karajoSign(old, "global-secret")}, old)
	if code != 401 || !strings.Contains(raw, "_karajo_epoch") {
		t.Fatalf("an hour-old signed body with a fresh epoch in the query: HTTP %d %s, want 401", code, raw)
	}
	stale := url.Values{"_karajo_epoch": {strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)}, "id": {"deploy_web"}}.Encode()
	code, _, raw = karajoRaw(t, "POST", tn.base+"/karajo/api/job_exec/resume",
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Karajo-Sign": karajoSign(stale, "global-secret")}, stale)
	if code != 401 || !strings.Contains(raw, "_karajo_epoch") {
		t.Fatalf("a resume 10 minutes old: HTTP %d %s, want 401", code, raw)
	}
	code, _, raw = karajoRaw(t, "POST", tn.base+"/karajo/api/job_exec/resume",
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body)
	if code != 401 || !strings.HasPrefix(raw, `{"message":"empty or invalid signature`) {
		t.Fatalf("an unsigned resume: HTTP %d %s", code, raw)
	}
	_, err = jobClient.JobExecRun("/deploy")
	if e, ok := err.(*karajoResponse); !ok || e.Code != 412 || e.Name != "ERR_JOB_PAUSED" {
		t.Fatalf("a run of a paused job: %v, want 412 ERR_JOB_PAUSED", err)
	}
	if _, err := kc.jobExecAction("pause", "nope"); err == nil || err.(*karajoResponse).Name != "ERR_JOB_NOT_FOUND" ||
		err.(*karajoResponse).Message != "job not found: nope" {
		t.Fatalf("pause of an unknown job: %v", err)
	}
	if job, err := kc.jobExecAction("resume", "deploy_web"); err != nil || job.Status == "paused" {
		t.Fatalf("resume: %+v, %v", job, err)
	}

	// Cancel a run going on: its log says canceled.
	if _, err := jobClient.JobExecRun("/deploy"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the fourth run going", func() bool {
		j, err := kc.Env()
		return err == nil && j.Jobs["Deploy web"].Status == "running"
	})
	// karajo's client signs its epoch in seconds: a cancel in the same
	// second as the resume would be the very same signed bytes, a replay.
	time.Sleep(time.Second)
	if _, err := kc.jobExecAction("cancel", "deploy_web"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the canceled log", func() bool {
		j, err := kc.Env()
		if err != nil {
			return false
		}
		logs := j.Jobs["Deploy web"].Logs
		return len(logs) > 0 && logs[len(logs)-1].Status == "canceled" && len(logs) <= 3
	})

	// GitHub's signature: X-Hub-Signature-256 sha256=<hex> of the body,
	// with the global secret (the job has none of its own).
	push := `{"ref":"refs/heads/main"}`
	code, _, raw = karajoRaw(t, "POST", tn.base+"/karajo/api/job_exec/run/github",
		map[string]string{"X-Hub-Signature-256": "sha256=" + karajoSign(push, "global-secret")}, push)
	if code != 200 || !strings.Contains(raw, `"message":"OK"`) {
		t.Fatalf("a GitHub push: HTTP %d %s", code, raw)
	}
	code, _, _ = karajoRaw(t, "POST", tn.base+"/karajo/api/job_exec/run/github",
		map[string]string{"X-Hub-Signature-256": "sha256=" + karajoSign(push, "job-secret")}, push)
	if code != 403 {
		t.Fatalf("a push signed with another secret: HTTP %d, want 403", code)
	}

	// HTTP jobs: the job, its logs, pause and resume by the signed query.
	waitFor(t, 10*time.Second, "two pings", func() bool { return len(rc.hitsFor("/ping")) >= 2 })
	hj, err := kc.JobHTTP("ping")
	if err != nil || hj.ID != "ping" || len(hj.Logs) == 0 || hj.Logs[0].Name != "ping.1.success" {
		t.Fatalf("job_http: %+v, %v", hj, err)
	}
	if l, err := kc.JobHTTPLog("ping", 1); err != nil || l.Status != "success" || !strings.Contains(string(l.Content), "HTTP response: 200") {
		t.Fatalf("job_http log: %+v, %v", l, err)
	}
	code, _, raw = karajoRaw(t, "GET", tn.base+"/karajo/api/job_http/logs?id=ping", nil, "")
	if code != 200 || !strings.HasPrefix(raw, `{"data":["`) {
		t.Fatalf("job_http logs: HTTP %d %s", code, raw)
	}
	if hj, err := kc.jobHTTPAction("pause", "ping"); err != nil || hj.Status != "paused" {
		t.Fatalf("job_http pause: %+v, %v", hj, err)
	}
	if _, err := kc.JobHTTP("nope"); err == nil || err.(*karajoResponse).Name != "ERR_INVALID_JOB_ID" ||
		err.(*karajoResponse).Message != "invalid or empty job id: nope" {
		t.Fatalf("an unknown HTTP job: %v", err)
	}
	if _, err := kc.jobHTTPAction("resume", "nope"); err == nil || err.(*karajoResponse).Code != 400 {
		t.Fatalf("resume of an unknown HTTP job: %v", err)
	}
	code, _, raw = karajoRaw(t, "POST", tn.base+"/karajo/api/job_http/resume?id=ping",
		map[string]string{"X-Karajo-Sign": karajoSign("id=ping", "global-secret")}, "")
	if code != 401 || !strings.Contains(raw, "_karajo_epoch") {
		t.Fatalf("a resume without _karajo_epoch: HTTP %d %s, want 401", code, raw)
	}
	time.Sleep(time.Second) // a second after the pause: other signed bytes (see the cancel above)
	if hj, err := kc.jobHTTPAction("resume", "ping"); err != nil || hj.Status == "paused" {
		t.Fatalf("job_http resume: %+v, %v", hj, err)
	}
}
