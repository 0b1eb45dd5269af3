package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/chronicle-sched/chronicle/internal/syncbuf"
)

// The web console (/ui/) driven in a real headless Chromium against a
// real node and a real callback receiver: what a person clicks, what the
// page then shows, and what the server then holds.

// consoleScreenshotEnv names the file TestConsoleDrivesSchedules saves a
// screenshot of a cron's page to (make screenshot: docs/console.png).
const consoleScreenshotEnv = "CHRONICLE_CONSOLE_SCREENSHOT"

// browser is one tab of a headless Chromium of the test's own.
type browser struct {
	t   *testing.T
	ctx context.Context // the tab's; steps derive their own deadlines from it

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// chromiumPath finds the browser the console tests drive; make test
// installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Fatal("Chromium is not installed, and the console tests drive it: run `make test`, which installs it " +
		"(or apt-get install chromium)")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile; the whole
// browser dies at the test's bound, so a hang fails the test instead of
// blocking CI.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	bound, cancelBound := context.WithTimeout(context.Background(), 4*time.Minute)
	out := &syncbuf.Buffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(bound, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelBound()
		if t.Failed() {
			t.Logf("chromium's output:\n%s", out.String())
		}
	})
	b := &browser{t: t, ctx: ctx}
	// The first action starts the browser, on the unbounded tab context
	// (a step's deadline would end the browser with the step).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// do runs steps within 20 s, failing the test with what the page shows.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\npage:\n%s", what, err, b.page())
	}
}

// eval returns a JavaScript expression's value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// page is the text the page shows, for failure messages.
func (b *browser) page() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	return text
}

// waitText waits until the element sel shows text containing want.
func (b *browser) waitText(sel, want string, within time.Duration) {
	b.t.Helper()
	s, _ := json.Marshal(sel)
	w, _ := json.Marshal(want)
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && e.textContent.includes(%s); })()`, s, w)
	ctx, cancel := context.WithTimeout(b.ctx, within+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(within))); err != nil {
		b.t.Fatalf("waiting %s for %q in %s: %v\npage:\n%s", within, want, sel, err, b.page())
	}
}

// waitFor waits until a JavaScript expression is true.
func (b *browser) waitFor(what, expr string, within time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(within))); err != nil {
		b.t.Fatalf("waiting %s for %s: %v\npage:\n%s", within, what, err, b.page())
	}
}

// waitView waits until the view whose fragment contains part is drawn.
func (b *browser) waitView(part string) {
	b.t.Helper()
	js, _ := json.Marshal(part)
	b.waitFor("the view "+part, fmt.Sprintf(`main.dataset.ready === location.hash && location.hash.includes(%s)`, js), 10*time.Second)
}

// go opens a view of the console by its fragment, as a link would.
func (b *browser) goTo(hash string) {
	b.t.Helper()
	js, _ := json.Marshal(hash)
	eval[chromedp.Void](b, "location.hash = "+string(js))
}

// hashID is the id in the page's #/schedules/ID.
func (b *browser) hashID() string {
	b.t.Helper()
	h := eval[string](b, "location.hash")
	id, ok := strings.CutPrefix(h, "#/schedules/")
	if !ok {
		b.t.Fatalf("not on a schedule's page: %s\npage:\n%s", h, b.page())
	}
	id, err := url.PathUnescape(id)
	if err != nil {
		b.t.Fatal(err)
	}
	return id
}

// noScriptErrors fails the test on an uncaught exception or a refusal by
// the Content-Security-Policy (an inline script or style, a call
// elsewhere) in the page.
func (b *browser) noScriptErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if m.IsException() || m.Source == "security" || m.Source == "javascript" ||
			strings.Contains(m.Text, "Content Security Policy") {
			b.t.Errorf("the page reported %s (source %s, %s:%d)", m, m.Source, m.URL, m.Line)
		}
	}
}

// runView is what the test reads of a run through the API.
type runView struct {
	ScheduleID       string `json:"scheduleId"`
	ParentScheduleID string `json:"parentScheduleId"`
	Status           string `json:"status"`
	HTTPStatus       int    `json:"httpStatus"`
	Attempts         int    `json:"attempts"`
	ErrorMessage     string `json:"errorMessage"`
	Payload          string `json:"payload"`
	CronExpression   string `json:"cronExpression"`
}

func (tn *testNode) run(id string) runView {
	tn.t.Helper()
	return decodeData[struct{ Schedule runView }](tn.t, tn.must(200, "GET", "/goscheduler/schedules/"+id, nil)).Schedule
}

// Through the console's forms and buttons: register an app, create a
// one-time schedule and a cron and see them fire, open a failed run and
// its history, pause, trigger, resume and delete (cancelled once, then
// confirmed), and find the failure and the live events in their views.
// Every step is checked on the page and on the server.
func TestConsoleDrivesSchedules(t *testing.T) {
	tn := startTestNode(t, testConfig(t, t.TempDir()))
	rc := newReceiver(t)
	b := newBrowser(t)

	b.do("open the console", chromedp.Navigate(tn.base+"/ui"))
	b.waitText("main h1", "Apps", 10*time.Second)
	b.waitText("main", "No apps yet", 10*time.Second)

	// Register an app.
	b.do("register an app",
		chromedp.SendKeys(chromedp.CSS("#app-id"), "shop"),
		chromedp.Click(chromedp.CSS("#register-app button[type=submit]")))
	b.waitText("#notice", "App shop registered", 10*time.Second)
	b.waitText(`tr[data-app="shop"]`, "ACTIVE", 10*time.Second)
	if apps := tn.must(200, "GET", "/goscheduler/apps?app_id=shop", nil); !strings.Contains(string(apps.raw), `"active":true`) {
		t.Fatalf("the app on the server: %s", apps.raw)
	}

	// Deactivate and activate it again.
	b.do("deactivate", chromedp.Click(chromedp.CSS(`tr[data-app="shop"] button`)))
	b.waitText(`tr[data-app="shop"]`, "INACTIVE", 10*time.Second)
	if apps := tn.must(200, "GET", "/goscheduler/apps?app_id=shop", nil); !strings.Contains(string(apps.raw), `"active":false`) {
		t.Fatalf("after deactivate the server says %s", apps.raw)
	}
	b.do("activate", chromedp.Click(chromedp.CSS(`tr[data-app="shop"] button`)))
	b.waitText(`tr[data-app="shop"]`, "ACTIVE", 10*time.Second)
	b.waitText("#notice", "App shop activated", 10*time.Second)
	if apps := tn.must(200, "GET", "/goscheduler/apps?app_id=shop", nil); !strings.Contains(string(apps.raw), `"active":true`) {
		t.Fatalf("after activate the server says %s", apps.raw)
	}

	// A one-time schedule, due in a second: it fires and the page says so.
	b.do("open the app's schedules", chromedp.Click(chromedp.CSS(`tr[data-app="shop"] a`)))
	b.waitText("main h1", "Schedules of shop", 10*time.Second)
	b.do("create a one-time schedule",
		chromedp.SetValue(chromedp.CSS("#new-delay"), "1"),
		chromedp.SendKeys(chromedp.CSS("#new-url"), rc.url("/once")),
		chromedp.SetValue(chromedp.CSS("#new-method"), "PUT"),
		chromedp.SendKeys(chromedp.CSS("#new-body"), "hello from the console"),
		chromedp.Click(chromedp.CSS("#create-schedule button[type=submit]")))
	b.waitText("main h1", "Schedule ", 10*time.Second)
	onceID := b.hashID()
	b.waitText("#status-badge", "SUCCESS", 15*time.Second)
	b.waitText("#timeline", "RunCompleted", 10*time.Second)
	if s := tn.run(onceID); s.Status != "SUCCESS" || s.Payload != "hello from the console" {
		t.Fatalf("the one-time schedule on the server: %+v", s)
	}
	if hits := rc.hitsFor("/once"); len(hits) != 1 || hits[0].Method != "PUT" || hits[0].Body != "hello from the console" {
		t.Fatalf("the receiver got %+v", hits)
	}

	// A cron firing every second: its runs succeed, then fail once the
	// receiver answers 500.
	b.do("back to the app", chromedp.Click(chromedp.CSS(`main a[href="#/apps/shop"]`)))
	b.waitText("main h1", "Schedules of shop", 10*time.Second)
	b.waitText("main table", onceID, 10*time.Second)
	b.do("create a cron",
		chromedp.Click(chromedp.CSS("#new-cron")),
		chromedp.SendKeys(chromedp.CSS("#new-expr"), "* * * * * *"),
		chromedp.SendKeys(chromedp.CSS("#new-url"), rc.url("/cron")),
		chromedp.SetValue(chromedp.CSS("#new-method"), "GET"),
		chromedp.Click(chromedp.CSS("#create-schedule button[type=submit]")))
	b.waitText("main h1", "Cron ", 10*time.Second)
	cronID := b.hashID()
	if s := tn.run(cronID); s.CronExpression != "* * * * * *" || s.Status != "SCHEDULED" {
		t.Fatalf("the cron on the server: %+v", s)
	}
	b.waitText("#future", "UTC", 10*time.Second) // its next runs
	b.waitFor("a successful run", `document.querySelector('#runs tr[data-status="SUCCESS"]') !== null`, 15*time.Second)
	shot := os.Getenv(consoleScreenshotEnv)
	if shot != "" {
		b.waitFor("four runs", `document.querySelectorAll('#runs tbody tr').length >= 4`, 15*time.Second)
	}
	rc.answer("/cron", http.StatusInternalServerError)
	b.waitFor("a failed run", `document.querySelector('#runs tr[data-status="FAILURE"] a') !== null`, 15*time.Second)
	if shot != "" {
		b.waitFor("two failed runs", `document.querySelectorAll('#runs tr[data-status="FAILURE"]').length >= 2`, 15*time.Second)
		saveScreenshot(t, b, shot)
	}
	rc.answer("/cron", http.StatusOK)

	// The failed run's page: its HTTP status, attempts, error and history.
	b.do("open the failed run", chromedp.Click(chromedp.CSS(`#runs tr[data-status="FAILURE"] a`)))
	b.waitText("main h1", "Run ", 10*time.Second)
	runID := b.hashID()
	b.waitText("#http-status", "500", 10*time.Second)
	b.waitText("#attempts", "2", 10*time.Second)
	b.waitText("#error-message", "500", 10*time.Second)
	b.waitText("#timeline", "RunFired", 10*time.Second)
	b.waitText("#timeline", "FAILURE, HTTP 500, 2 attempts", 10*time.Second)
	if r := tn.run(runID); r.ParentScheduleID != cronID || r.Status != "FAILURE" || r.HTTPStatus != 500 || r.Attempts != 2 ||
		!strings.Contains(r.ErrorMessage, "500") {
		t.Fatalf("the failed run on the server: %+v", r)
	}
	if shown := eval[string](b, `document.querySelector('#error-message').textContent`); shown != tn.run(runID).ErrorMessage {
		t.Fatalf("the page shows error %q", shown)
	}

	// Back to the cron: its history, from its creation.
	b.do("back to the cron", chromedp.Click(chromedp.CSS(fmt.Sprintf(`main a[href="#/schedules/%s"]`, cronID))))
	b.waitText("main h1", "Cron ", 10*time.Second)
	b.waitText("#timeline li:first-child", "ScheduleCreated", 10*time.Second)
	b.waitText("#timeline", "RunCompleted", 10*time.Second)
	b.waitFor("a later success", `document.querySelector('#runs tbody tr[data-status="SUCCESS"]') !== null`, 15*time.Second)

	// Pause: the page and the server say PAUSED, and nothing fires.
	b.do("pause, from the keyboard", chromedp.Focus(chromedp.CSS("#action-pause")), chromedp.KeyEvent(kb.Enter))
	b.waitText("#status-badge", "PAUSED", 10*time.Second)
	b.waitText("#notice", "paused", 10*time.Second)
	if s := tn.run(cronID); s.Status != "PAUSED" {
		t.Fatalf("after pause the server says %s", s.Status)
	}
	paused := tn.lastEventSeq(cronID, "SchedulePaused")
	time.Sleep(1500 * time.Millisecond) // a tick and a half of the cron
	if fired := tn.firedAfter(cronID, paused); len(fired) > 0 {
		t.Fatalf("runs fired while paused: %v", fired)
	}

	// Trigger now, while paused: one run of its own id, shown and called.
	b.do("trigger", chromedp.Click(chromedp.CSS("#action-trigger-now")))
	b.waitText("#notice", cronID+".t1", 10*time.Second)
	b.waitText("#runs", cronID+".t1", 15*time.Second)
	waitFor(t, 10*time.Second, "the triggered call", func() bool {
		for _, h := range rc.hitsFor("/cron") {
			if h.RunID == cronID+".t1" {
				return true
			}
		}
		return false
	})
	b.waitText("#timeline", "RunTriggered", 10*time.Second)

	// Resume.
	b.do("resume", chromedp.Click(chromedp.CSS("#action-resume")))
	b.waitText("#status-badge", "SCHEDULED", 10*time.Second)
	if s := tn.run(cronID); s.Status != "SCHEDULED" {
		t.Fatalf("after resume the server says %s", s.Status)
	}
	b.waitText("#timeline", "ScheduleResumed", 10*time.Second)

	// The runs' second page, by the API's continuation token: older runs.
	b.waitFor("a second page of runs", `document.querySelector('#runs-pager [data-dir="next"]')?.disabled === false`, 15*time.Second)
	first := eval[[]string](b, `[...document.querySelectorAll('#runs tbody tr')].map(r => r.dataset.run)`)
	b.do("next page of runs", chromedp.Click(chromedp.CSS(`#runs-pager [data-dir="next"]`)))
	b.waitText("#runs-pager", "page 2", 10*time.Second)
	second := eval[[]string](b, `[...document.querySelectorAll('#runs tbody tr')].map(r => r.dataset.run)`)
	if len(first) != 10 || len(second) == 0 {
		t.Fatalf("pages of %d and %d runs", len(first), len(second))
	}
	for _, id := range second {
		for _, on1 := range first {
			if id == on1 {
				t.Fatalf("run %s is on both pages", id)
			}
		}
	}
	if !eval[bool](b, `document.activeElement.closest('#runs-pager') !== null`) {
		t.Errorf("after turning the page the focus left the pager for %s", eval[string](b, `document.activeElement.outerHTML`))
	}
	b.do("back to the first page", chromedp.Click(chromedp.CSS(`#runs-pager [data-dir="prev"]`)))
	b.waitText("#runs-pager", "page 1", 10*time.Second)

	// Delete: cancelled in the dialog (by Escape, then by its button),
	// nothing happens; confirmed, it is deleted.
	b.do("delete, then Escape",
		chromedp.Click(chromedp.CSS("#action-delete")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if focused := eval[string](b, `document.activeElement.id`); focused != "confirm-cancel" {
		t.Errorf("the question opens with the focus on %q, want Cancel", focused)
	}
	b.do("Escape", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.CSS("#confirm")))
	b.do("delete, then cancel",
		chromedp.Click(chromedp.CSS("#action-delete")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	b.waitText("#confirm-text", "Delete cron "+cronID, 5*time.Second)
	b.do("cancel", chromedp.Click(chromedp.CSS("#confirm-cancel")), chromedp.WaitNotVisible(chromedp.CSS("#confirm")))
	if s := tn.run(cronID); s.Status != "SCHEDULED" {
		t.Fatalf("a cancelled delete left the cron %s", s.Status)
	}
	b.do("delete again", chromedp.Click(chromedp.CSS("#action-delete")))
	b.do("the question again", chromedp.WaitVisible(chromedp.CSS("#confirm")))
	b.do("confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	b.waitText("#status-badge", "DELETED", 10*time.Second)
	if s := tn.run(cronID); s.Status != "DELETED" {
		t.Fatalf("after the confirmed delete the server says %s", s.Status)
	}
	b.waitText("#timeline", "ScheduleDeleted", 10*time.Second)

	// The app's schedules: a status filter, an id that opens its
	// schedule, and pages of 20 by the continuation token.
	later := time.Now().Unix() + 3600
	for i := 0; i < 22; i++ {
		tn.createOnce("shop", later+int64(i), rc.url("/later"), "POST", fmt.Sprint(i))
	}
	b.goTo("#/apps/shop")
	b.waitText("main h1", "Schedules of shop", 10*time.Second)
	b.do("filter by status", chromedp.SetValue(chromedp.CSS("#status"), "FAILURE"),
		chromedp.Click(chromedp.CSS("#search-form button[type=submit]")))
	b.waitView("status=FAILURE")
	statuses := eval[[]string](b, `[...document.querySelectorAll('main table')].pop().querySelectorAll('tbody .badge').length > 0 ?
		[...[...document.querySelectorAll('main table')].pop().querySelectorAll('tbody .badge')].map(e => e.textContent) : []`)
	if len(statuses) == 0 {
		t.Fatalf("no FAILURE run listed\npage:\n%s", b.page())
	}
	for _, st := range statuses {
		if st != "FAILURE" {
			t.Fatalf("filtered by FAILURE, the list shows %v", statuses)
		}
	}
	b.do("only the scheduled ones", chromedp.SetValue(chromedp.CSS("#status"), "SCHEDULED"),
		chromedp.Click(chromedp.CSS("#search-form button[type=submit]")))
	b.waitView("status=SCHEDULED")
	b.waitFor("a full first page", `document.querySelector('#schedules-pager [data-dir="next"]')?.disabled === false`, 10*time.Second)
	b.do("next page", chromedp.Click(chromedp.CSS(`#schedules-pager [data-dir="next"]`)))
	b.waitText("#schedules-pager", "page 2", 10*time.Second)
	if n := eval[int](b, `document.querySelector('#schedules-pager').previousElementSibling.querySelectorAll('tbody tr').length`); n != 2 {
		t.Fatalf("the second page of 22 scheduled holds %d", n)
	}
	b.do("search an id", chromedp.SendKeys(chromedp.CSS("#search"), onceID),
		chromedp.Click(chromedp.CSS("#search-form button[type=submit]")))
	b.waitText("main h1", onceID, 10*time.Second)

	// The failure is listed with the app's failures.
	b.goTo("#/failures")
	b.waitText("main h1", "Failures", 10*time.Second)
	b.waitText("main table", runID, 10*time.Second)

	// Live events: the recent ones, then one that happens while watching.
	b.goTo("#/events")
	b.waitText("#events", "one-time at", 10*time.Second) // the last creates
	b.waitText("#stream-state", "live", 10*time.Second)
	tn.registerApp("watched", 1)
	b.waitText("#events", "app watched registered", 10*time.Second)

	// The cluster: this node leads.
	b.goTo("#/cluster")
	b.waitText("main dl", "Leader", 10*time.Second)
	b.waitText("main table", "node1", 10*time.Second)
	b.waitText("main dl", "Applied index", 10*time.Second)

	// An error of the API is told in its words.
	b.goTo("#/schedules/no-such-schedule")
	b.waitText("#banner", "Schedule with id: no-such-schedule not found", 10*time.Second)

	b.noScriptErrors()
}

// saveScreenshot saves the viewport as a PNG (make screenshot).
func saveScreenshot(t *testing.T, b *browser, path string) {
	t.Helper()
	eval[chromedp.Void](b, "window.scrollTo(0, 0)")
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 1060)); err != nil {
		t.Fatalf("viewport: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the cron's page: %s (%d bytes)", path, len(png))
}

// With auth on, the console's files load without a token and nothing
// else does: the page asks for a token, refuses a wrong one with the
// server's reason, keeps the right one for the tab, logs out, and tells a
// reader that its token may not change an app.
func TestConsoleAsksForAToken(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	adminToken := "console-admin-" + strings.Repeat("k", 20)
	cfg.adminTokenFile = writeSecret(t, "admin-token", adminToken)
	tn := startTestNode(t, cfg)
	tn.registerApp("shop", 1)
	reader := tn.issueToken("console reader", "reader")

	// The files, without a token; the API and other methods, not.
	res, body := rawCall(t, tn, "", "GET", "/ui/", nil)
	if res.StatusCode != 200 || !strings.Contains(body, `<script type="module" src="app.js">`) {
		t.Fatalf("GET /ui/ without a token: %d %.200s", res.StatusCode, body)
	}
	for _, want := range []string{"script-src 'self'", "default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(res.Header.Get("Content-Security-Policy"), want) {
			t.Errorf("the console's CSP %q lacks %s", res.Header.Get("Content-Security-Policy"), want)
		}
	}
	if res, _ := rawCall(t, tn, "", "GET", "/ui/app.js", nil); res.StatusCode != 200 ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /ui/app.js: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res, _ := rawCall(t, tn, "", "HEAD", "/ui/style.css", nil); res.StatusCode != 200 {
		t.Errorf("HEAD /ui/style.css: %d", res.StatusCode)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if res, err := noRedirect.Get(tn.base + "/ui"); err != nil || res.StatusCode != http.StatusMovedPermanently ||
		res.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/ui/"}, {"GET", "/uix"}, {"GET", "/goscheduler/apps"}, {"GET", "/events"}, {"GET", "/cluster"},
	} {
		if res, _ := rawCall(t, tn, "", c.method, c.path, nil); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d, want 401", c.method, c.path, res.StatusCode)
		}
	}
	if res, _ := rawCall(t, tn, "", "GET", "/ui/../events", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /ui/../events without a token: %d, want the console's 404", res.StatusCode)
	}

	b := newBrowser(t)
	b.do("open the console", chromedp.Navigate(tn.base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#login")))

	// A wrong token is refused, with the server's reason.
	b.do("log in with a wrong token",
		chromedp.SendKeys(chromedp.CSS("#token"), "chr_not-a-token-of-this-cluster"),
		chromedp.Click(chromedp.CSS("#login button[type=submit]")))
	b.waitText("#login-error", "The token was refused: unknown or revoked token", 10*time.Second)
	if got := eval[string](b, `sessionStorage.getItem('chronicle.token') || ''`); got != "" {
		t.Fatalf("a refused token was kept: %q", got)
	}

	// The admin token logs in, lists the apps and is kept for the tab.
	eval[chromedp.Void](b, `document.querySelector('#token').value = ''`)
	b.do("log in as admin",
		chromedp.SendKeys(chromedp.CSS("#token"), adminToken),
		chromedp.Click(chromedp.CSS("#login button[type=submit]")))
	b.waitText(`tr[data-app="shop"]`, "ACTIVE", 10*time.Second)
	if got := eval[string](b, `sessionStorage.getItem('chronicle.token')`); got != adminToken {
		t.Fatalf("sessionStorage holds %q", got)
	}
	b.do("reload", chromedp.Reload())
	b.waitText(`tr[data-app="shop"]`, "shop", 10*time.Second)

	// Log out: the token is forgotten and the form is back.
	b.do("log out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login")))
	if got := eval[string](b, `sessionStorage.getItem('chronicle.token') || ''`); got != "" {
		t.Fatalf("after log-out sessionStorage holds %q", got)
	}

	// A reader sees the apps, and its change is refused in words.
	b.do("log in as a reader",
		chromedp.SendKeys(chromedp.CSS("#token"), reader.Token),
		chromedp.Click(chromedp.CSS("#login button[type=submit]")))
	b.waitText(`tr[data-app="shop"]`, "ACTIVE", 10*time.Second)
	b.do("deactivate as a reader", chromedp.Click(chromedp.CSS(`tr[data-app="shop"] button`)))
	b.waitText("#banner", "This token may not deactivate app shop", 10*time.Second)
	b.waitText("#banner", "is a reader", 10*time.Second)
	if apps := tn.must(200, "GET", "/goscheduler/apps?app_id=shop", nil); !strings.Contains(string(apps.raw), `"active":true`) {
		t.Fatalf("a reader's deactivation went through: %s", apps.raw)
	}
	b.noScriptErrors()
}
