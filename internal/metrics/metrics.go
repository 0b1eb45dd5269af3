// Package metrics holds what a node reports to Prometheus at /metrics:
// the counters and histograms the layers update as things happen, and the
// gauges read from them when Prometheus scrapes.
//
// Every method is safe on a nil *Metrics (it does nothing), so a layer
// built without metrics (a unit test, `chronicle replay`) needs no stand-in.
// Labels are bounded: apps past the first MaxApps seen are reported as
// "_other", routes are the router's patterns (never a raw path), and no
// label ever holds a schedule or run id.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/chronicle-sched/chronicle/internal/buildinfo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxApps is how many distinct apps get their own label value; later ones
// share OtherApp, so a cluster with thousands of apps cannot blow up the
// series count of every app-labelled family.
const MaxApps = 500

// OtherApp is the label value of the apps past MaxApps.
const OtherApp = "_other"

// Metrics is one node's set of metrics, on its own registry (several nodes
// in one test process do not share series).
type Metrics struct {
	reg *prometheus.Registry

	lateness        prometheus.Histogram
	attempts        *prometheus.CounterVec
	attemptDuration *prometheus.HistogramVec
	deliveries      prometheus.Histogram
	retries         *prometheus.CounterVec
	runs            *prometheus.CounterVec
	commands        *prometheus.CounterVec
	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	applyEntries    prometheus.Histogram
	applyEvents     prometheus.Histogram
	applyDuration   prometheus.Histogram

	apps struct {
		sync.Mutex
		seen map[string]bool
	}
}

// New builds the metrics of one node, with the Go runtime and process
// collectors and chronicle_build_info.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.apps.seen = map[string]bool{}
	f := factory{m.reg}
	m.lateness = f.histogram(prometheus.HistogramOpts{Name: "chronicle_firing_lateness_seconds",
		Help:    "Time from a run's due time to its first callback attempt, for every run this node fired.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}})
	m.attempts = f.counterVec(prometheus.CounterOpts{Name: "chronicle_callback_attempts_total",
		Help: `Callback attempts by app and outcome class: 2xx, 3xx, 4xx, 5xx, or "error" (no answer: connection refused, timeout, denied address).`},
		"app", "class")
	m.attemptDuration = f.histogramVec(prometheus.HistogramOpts{Name: "chronicle_callback_attempt_duration_seconds",
		Help:    "Duration of one callback attempt, from sending the request to reading the answer.",
		Buckets: prometheus.ExponentialBuckets(.001, 2.5, 12)}, "class")
	m.deliveries = f.histogram(prometheus.HistogramOpts{Name: "chronicle_delivery_duration_seconds",
		Help:    "Duration of a run's delivery, first attempt to outcome, retries and their backoff included.",
		Buckets: prometheus.ExponentialBuckets(.001, 3, 13)})
	m.retries = f.counterVec(prometheus.CounterOpts{Name: "chronicle_callback_retries_total",
		Help: "Callback attempts after a run's first (its retries), by app."}, "app")
	m.runs = f.counterVec(prometheus.CounterOpts{Name: "chronicle_runs_completed_total",
		Help: "Run outcomes this node recorded as leader (counted once committed), by app and status (SUCCESS, FAILURE, MISS)."}, "app", "status")
	m.commands = f.counterVec(prometheus.CounterOpts{Name: "chronicle_schedule_commands_total",
		Help: `Commands on schedules by the API they came through, command (create, update, delete, pause, resume, trigger, bulk) and result ("ok", or "error": refused or failed).`},
		"api", "command", "result")
	m.httpRequests = f.counterVec(prometheus.CounterOpts{Name: "chronicle_http_requests_total",
		Help: `HTTP requests this node answered, by route pattern ("unmatched" for unknown paths), method (a standard one, else "other") and status code.`},
		"route", "method", "code")
	m.httpDuration = f.histogramVec(prometheus.HistogramOpts{Name: "chronicle_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request (for the event stream, how long it stayed open), by route pattern and method.",
		Buckets: prometheus.ExponentialBuckets(.0005, 3, 12)}, "route", "method")
	m.applyEntries = f.histogram(prometheus.HistogramOpts{Name: "chronicle_apply_batch_entries",
		Help: "Raft entries applied together in one state-store batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)})
	m.applyEvents = f.histogram(prometheus.HistogramOpts{Name: "chronicle_apply_batch_events",
		Help: "Events applied in one state-store batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 9)})
	m.applyDuration = f.histogram(prometheus.HistogramOpts{Name: "chronicle_apply_duration_seconds",
		Help:    "Time to apply one batch of Raft entries: events and projections written in one Pebble batch.",
		Buckets: prometheus.ExponentialBuckets(.00005, 3, 12)})

	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	b := buildinfo.Read()
	f.gaugeVec(prometheus.GaugeOpts{Name: "chronicle_build_info",
		Help: "The running build: always 1, its labels say which."}, "version", "commit", "goversion").
		WithLabelValues(b.Version, b.Commit, b.Go).Set(1)
	return m
}

// factory registers each collector it builds on one registry.
type factory struct{ reg *prometheus.Registry }

func (f factory) histogram(o prometheus.HistogramOpts) prometheus.Histogram {
	h := prometheus.NewHistogram(o)
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(o prometheus.HistogramOpts, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(o, labels)
	f.reg.MustRegister(h)
	return h
}

func (f factory) counterVec(o prometheus.CounterOpts, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(o, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gaugeVec(o prometheus.GaugeOpts, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(o, labels)
	f.reg.MustRegister(g)
	return g
}

// Handler serves the metrics in Prometheus' text format (or OpenMetrics,
// if the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Gauge registers a gauge read from value at every scrape.
func (m *Metrics) Gauge(name, help string, value func() float64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, value))
}

// Reading is one metric of a Group: its name and help, whether it is a
// counter (a count kept elsewhere, which only grows) rather than a gauge,
// and its value in the group's snapshot.
type Reading[T any] struct {
	Name, Help string
	Counter    bool
	Value      func(T) float64
}

// Group registers metrics read from one snapshot, taken once per scrape
// rather than once per metric: a snapshot may take locks (Raft's state)
// or walk a store's levels (Pebble's metrics).
func Group[T any](m *Metrics, read func() T, readings ...Reading[T]) {
	if m == nil {
		return
	}
	g := &group[T]{read: read, readings: readings}
	for _, r := range readings {
		g.descs = append(g.descs, prometheus.NewDesc(r.Name, r.Help, nil, nil))
	}
	m.reg.MustRegister(g)
}

type group[T any] struct {
	read     func() T
	readings []Reading[T]
	descs    []*prometheus.Desc
}

func (g *group[T]) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range g.descs {
		ch <- d
	}
}

func (g *group[T]) Collect(ch chan<- prometheus.Metric) {
	s := g.read()
	for i, r := range g.readings {
		kind := prometheus.GaugeValue
		if r.Counter {
			kind = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(g.descs[i], kind, r.Value(s))
	}
}

// Collect registers a collector of its own (a family whose labels are
// known only at scrape time).
func (m *Metrics) Collect(c prometheus.Collector) {
	if m == nil {
		return
	}
	m.reg.MustRegister(c)
}

// app is the label value for appID: itself, for the first MaxApps apps
// seen.
func (m *Metrics) app(appID string) string {
	m.apps.Lock()
	defer m.apps.Unlock()
	if m.apps.seen[appID] {
		return appID
	}
	if len(m.apps.seen) >= MaxApps {
		return OtherApp
	}
	m.apps.seen[appID] = true
	return appID
}

// StatusClass is the class of an HTTP status for labels: "2xx" .. "5xx",
// or "error" for no answer (0).
func StatusClass(status int) string {
	if status < 100 || status > 599 {
		return "error"
	}
	return strconv.Itoa(status/100) + "xx"
}

// Attempt records one callback attempt of app's run: status 0 when it got
// no answer.
func (m *Metrics) Attempt(appID string, status int, took time.Duration) {
	if m == nil {
		return
	}
	class := StatusClass(status)
	m.attempts.WithLabelValues(m.app(appID), class).Inc()
	m.attemptDuration.WithLabelValues(class).Observe(took.Seconds())
}

// Delivered records a run's delivery that made attempts, started
// lateness after its due time and took took in all. A re-fire (a new
// leader calling a run its predecessor fired) is no lateness sample: the
// run's first fire was one.
func (m *Metrics) Delivered(appID string, lateness, took time.Duration, attempts int, refire bool) {
	if m == nil || attempts == 0 {
		return
	}
	if !refire {
		m.lateness.Observe(max(lateness, 0).Seconds())
	}
	m.deliveries.Observe(took.Seconds())
	if attempts > 1 {
		m.retries.WithLabelValues(m.app(appID)).Add(float64(attempts - 1))
	}
}

// RunCompleted records a run outcome this node recorded.
func (m *Metrics) RunCompleted(appID, status string) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(m.app(appID), status).Inc()
}

// Command records a command on a schedule taken through api.
func (m *Metrics) Command(api, command string, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.commands.WithLabelValues(api, command, result).Inc()
}

// Request records an HTTP request answered with code.
func (m *Metrics) Request(route, method string, code int, took time.Duration) {
	if m == nil {
		return
	}
	method = MethodLabel(method)
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(took.Seconds())
}

// MethodLabel is method as a label: one of the standard methods, or
// "other". net/http takes any token as a method, and requests are counted
// before authentication: a label taken as sent would let anyone add
// series.
func MethodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions:
		return method
	}
	return "other"
}

// Applied records one batch applied to the state store.
func (m *Metrics) Applied(entries, events int, took time.Duration) {
	if m == nil {
		return
	}
	m.applyEntries.Observe(float64(entries))
	m.applyEvents.Observe(float64(events))
	m.applyDuration.Observe(took.Seconds())
}
