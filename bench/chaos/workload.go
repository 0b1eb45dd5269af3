package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/bench/internal/harness"
)

// op is one request of the workload and what it was told.
type op struct {
	Kind       string // create, update, delete, pause, resume, get, runs
	Key        string // the schedule's client key (its callback path is /o/<key>)
	Node       string
	Start, End time.Time
	Code       int         // HTTP status; 0: no answer (indeterminate)
	ScheduleID string      // the schedule (from the create's answer, or the one acted on)
	Due        int64       // a create's scheduleTime (unix s)
	Payload    string      // a create's or an update's payload
	Status     string      // a get's answer: the status
	Observed   string      // a get's answer: the payload
	Client     int         // which workload client sent it
	Listed     []listedRun // a runs listing's answer (of a cron)
}

// listedRun is one run of a cron as GET .../runs?when=past lists it.
type listedRun struct {
	RunID         string `json:"scheduleId"`
	ScheduledTime int64  `json:"scheduleTime"`
	Status        string `json:"status"`
}

// Acked: the request was answered 2xx.
func (o op) Acked() bool { return o.Code >= 200 && o.Code < 300 }

// Refused: answered 4xx, the request did nothing.
func (o op) Refused() bool { return o.Code >= 400 && o.Code < 500 }

// workload sends creates, updates, deletes, pauses and resumes and reads
// of one-time schedules, and listings of the crons' runs, through random
// nodes and records every answer.
type workload struct {
	c        *cluster
	receiver string
	app      string
	rng      *rand.Rand
	rngMu    sync.Mutex
	client   *http.Client
	crons    []cronJob // whose runs the workload lists

	mu   sync.Mutex
	ops  []op
	live []op // acknowledged creates, for updates, deletes and reads
	n    int
}

func (w *workload) intn(n int) int {
	w.rngMu.Lock()
	defer w.rngMu.Unlock()
	return w.rng.Intn(n)
}

// run sends requests from clients goroutines until ctx ends.
func (w *workload) run(ctx context.Context, clients int) {
	var wg sync.WaitGroup
	for client := 0; client < clients; client++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sleep(ctx, time.Duration(50+w.intn(150))*time.Millisecond) {
				w.step(client)
			}
		}()
	}
	wg.Wait()
}

func (w *workload) step(client int) {
	node := w.c.nodes[w.intn(len(w.c.nodes))]
	roll := w.intn(100)
	now := time.Now()
	w.mu.Lock()
	var target *op
	if len(w.live) > 0 {
		t := w.live[w.intn(len(w.live))]
		target = &t
	}
	// Changes go only to schedules still a while from due: a change of a
	// run being called is refused (409), which is right but checks nothing.
	// The newest creates are the ones due last.
	var fresh []op
	for i := len(w.live) - 1; i >= 0 && i >= len(w.live)-50; i-- {
		if w.live[i].Due > now.Unix()+2 {
			fresh = append(fresh, w.live[i])
		}
	}
	changeable := len(fresh) > 0
	if changeable && roll >= 55 && roll < 92 {
		t := fresh[w.intn(len(fresh))]
		target = &t
		// Taken out now, not when the change is answered: another client
		// must not change it meanwhile (one change per schedule).
		w.live = removeKey(w.live, t.Key)
	}
	w.n++
	key := fmt.Sprintf("k%d", w.n)
	w.mu.Unlock()
	o := op{Node: node.ID, Start: now, Client: client}
	switch {
	case roll < 5 && len(w.crons) > 0:
		cron := w.crons[w.intn(len(w.crons))]
		o.Kind, o.Key, o.ScheduleID = "runs", cron.Key, cron.ScheduleID
		var answer struct {
			Data struct {
				Schedules []listedRun `json:"schedules"`
			} `json:"data"`
		}
		o.Code = w.call(node.URL(), "GET", "/goscheduler/schedules/"+cron.ScheduleID+"/runs?when=past&size=20", nil, &answer)
		o.Listed = answer.Data.Schedules
	case roll < 55 || target == nil:
		o.Kind, o.Key, o.Due, o.Payload = "create", key, now.Unix()+1+int64(w.intn(4)), key
		body := map[string]any{"appId": w.app, "payload": key, "scheduleTime": o.Due,
			"callback": map[string]any{"type": "http", "details": map[string]any{"url": w.receiver + "/o/" + key, "method": "POST"}}}
		var answer scheduleAnswer
		o.Code = w.call(node.URL(), "POST", "/goscheduler/schedules", body, &answer)
		o.ScheduleID = answer.Data.Schedule.ScheduleID
	case roll < 67 && changeable:
		o.Kind, o.Key, o.ScheduleID, o.Payload = "update", target.Key, target.ScheduleID, target.Key+"-v2"
		o.Code = w.call(node.URL(), "PATCH", "/goscheduler/schedules/"+target.ScheduleID, map[string]any{"payload": o.Payload}, nil)
	case roll < 77 && changeable:
		o.Kind, o.Key, o.ScheduleID = "delete", target.Key, target.ScheduleID
		o.Code = w.call(node.URL(), "DELETE", "/goscheduler/schedules/"+target.ScheduleID, nil, nil)
	case roll < 92 && changeable:
		w.pauseAndResume(client, node, *target)
		return
	default:
		o.Kind, o.Key, o.ScheduleID = "get", target.Key, target.ScheduleID
		var answer scheduleAnswer
		o.Code = w.call(node.URL(), "GET", "/goscheduler/schedules/"+target.ScheduleID+"?consistency=linearizable", nil, &answer)
		o.Status, o.Observed = answer.Data.Schedule.Status, answer.Data.Schedule.Payload
	}
	o.End = time.Now()
	w.record(o)
}

func (w *workload) record(o op) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops = append(w.ops, o)
	if o.Kind == "create" && o.Acked() {
		w.live = append(w.live, o)
	}
	if o.Kind != "create" && o.Kind != "get" && o.Kind != "runs" {
		// One change per schedule (a pause with its resume counting as
		// one): a second would make the checks guess which of two
		// indeterminate changes took.
		w.live = removeKey(w.live, o.Key)
	}
}

// pauseAndResume pauses a one-time schedule due in a few seconds and,
// unless the pause was refused, resumes it through another random node
// after a while that often outlasts its due time: it must not be called
// while paused, and must be called once resumed.
func (w *workload) pauseAndResume(client int, node *harness.Node, target op) {
	o := op{Kind: "pause", Key: target.Key, ScheduleID: target.ScheduleID, Node: node.ID, Start: time.Now(), Client: client}
	o.Code = w.call(node.URL(), "POST", "/goscheduler/schedules/"+target.ScheduleID+"/pause", nil, nil)
	o.End = time.Now()
	w.record(o)
	if o.Refused() {
		return
	}
	time.Sleep(time.Duration(300+w.intn(3000)) * time.Millisecond)
	node = w.c.nodes[w.intn(len(w.c.nodes))]
	r := op{Kind: "resume", Key: target.Key, ScheduleID: target.ScheduleID, Node: node.ID, Start: time.Now(), Client: client}
	r.Code = w.call(node.URL(), "POST", "/goscheduler/schedules/"+target.ScheduleID+"/resume", nil, nil)
	r.End = time.Now()
	w.record(r)
}

func removeKey(ops []op, key string) []op {
	out := ops[:0]
	for _, o := range ops {
		if o.Key != key {
			out = append(out, o)
		}
	}
	return out
}

// scheduleAnswer is the native API's answer holding one schedule.
type scheduleAnswer struct {
	Data struct {
		Schedule struct {
			ScheduleID string `json:"scheduleId"`
			Status     string `json:"status"`
			Payload    string `json:"payload"`
		} `json:"schedule"`
	} `json:"data"`
}

// call sends a request and decodes a 2xx answer into out; the status is
// 0 if no answer came (a timeout, a refused or reset connection).
func (w *workload) call(base, method, path string, body, out any) int {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := w.client.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0 // the answer was cut: the client cannot know what happened
	}
	if out != nil && res.StatusCode/100 == 2 {
		_ = json.Unmarshal(raw, out)
	}
	return res.StatusCode
}

// cronJob is a cron of the workload: it fires every second from its
// creation to its deletion.
type cronJob struct {
	Key, ScheduleID string
	Created         time.Time // its create was acknowledged
	DeleteSent      time.Time // its delete was first sent
	Deleted         time.Time // its delete was acknowledged (or found done)
}

// createCron creates a cron firing every second, through whichever node
// acknowledges it.
func (w *workload) createCron(key string, within time.Duration) (cronJob, error) {
	deadline := time.Now().Add(within)
	for {
		node := w.c.nodes[w.intn(len(w.c.nodes))]
		var answer scheduleAnswer
		code := w.call(node.URL(), "POST", "/goscheduler/schedules", map[string]any{"appId": w.app, "payload": key,
			"cronExpression": "* * * * * *",
			"callback":       map[string]any{"type": "http", "details": map[string]any{"url": w.receiver + "/c/" + key, "method": "POST"}}}, &answer)
		if code == 200 {
			return cronJob{Key: "/c/" + key, ScheduleID: answer.Data.Schedule.ScheduleID, Created: time.Now()}, nil
		}
		// Without an answer it may exist all the same: its calls carry
		// another schedule's run ids under the same key (see checkCrons).
		if time.Now().After(deadline) {
			return cronJob{}, fmt.Errorf("create cron %s: HTTP %d", key, code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// deleteCron deletes a cron through whichever node acknowledges it.
func (w *workload) deleteCron(j *cronJob, within time.Duration) error {
	deadline := time.Now().Add(within)
	j.DeleteSent = time.Now()
	for tried := false; ; tried = true {
		node := w.c.nodes[w.intn(len(w.c.nodes))]
		code := w.call(node.URL(), "DELETE", "/goscheduler/schedules/"+j.ScheduleID, nil, nil)
		if code == 200 || code == 404 && tried { // 404 after a try without an answer: that one took
			j.Deleted = time.Now()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("delete cron %s: HTTP %d", j.Key, code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (w *workload) history() []op {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]op(nil), w.ops...)
}

// delivery is one callback the receiver took.
type delivery struct {
	Key, RunID, Payload string
	FiredBy             string // "node/term" of the calling leader
	Scheduled           int64  // the run's scheduled time (unix s)
	At                  time.Time
}

// receiver records every callback; it answers 200.
type receiver struct {
	URL string
	srv *http.Server

	mu    sync.Mutex
	byKey map[string][]delivery
	all   int
}

func newReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{URL: "http://" + ln.Addr().String(), byKey: map[string][]delivery{}}
	rc.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		// One-time schedules call /o/<key>, crons /c/<key> (kept whole).
		d := delivery{Key: strings.TrimPrefix(r.URL.Path, "/o/"), RunID: r.Header.Get("X-Chronicle-Run-Id"),
			Payload: string(body), FiredBy: r.Header.Get("X-Chronicle-Fired-By"), At: at}
		if t, err := time.Parse(time.RFC3339, r.Header.Get("X-Chronicle-Scheduled-Time")); err == nil {
			d.Scheduled = t.Unix()
		}
		rc.mu.Lock()
		rc.byKey[d.Key] = append(rc.byKey[d.Key], d)
		rc.all++
		rc.mu.Unlock()
	})}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

func (rc *receiver) deliveries() map[string][]delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string][]delivery, len(rc.byKey))
	for k, v := range rc.byKey {
		out[k] = append([]delivery(nil), v...)
	}
	return out
}

func (rc *receiver) close() { _ = rc.srv.Close() }
