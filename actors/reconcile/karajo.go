package reconcile

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/actors/notify"
	"github.com/chronicle-sched/chronicle/eventlog/admit"
	"github.com/chronicle-sched/chronicle/eventlog/event"
	"github.com/chronicle-sched/chronicle/internal/cronspec"
	"github.com/chronicle-sched/chronicle/internal/karajoconf"
)

// karajo's jobs are schedules of one app (KarajoApp), named
// "job_http/<id>" and "job/<id>" (karajo lets a command job and an HTTP
// job share an id), labelled with their kind and id.
const (
	KarajoApp       = "karajo"
	LabelKarajoKind = "karajo/kind" // job_http or job; the owner label
	LabelKarajoID   = "karajo/id"
	KindHTTP        = "job_http"
	KindCommand     = "job"
)

// KarajoEpochParam is the parameter every karajo HTTP job sends.
const KarajoEpochParam = "_karajo_epoch"

// KarajoJobs maps a karajo configuration onto schedules. Every job is
// counted (karajo's counter) and exclusive (overlap buffer_one: karajo
// never runs a job twice at once, and queues one start). An HTTP job
// calls its http_url as karajo does: _karajo_epoch in the query, or as the
// body (form or json) of a method that sends one; signed with its secret
// in header_sign; success on 200 only; one attempt (karajo does not
// retry), timed out after http_timeout (none: the longest we allow). A
// command job runs its commands in karajo/job/<id> under the data
// directory, with KARAJO_JOB_COUNTER, keeping log_retention outputs; one
// with only a path is @manual (it runs when its webhook is called).
func KarajoJobs(cfg *karajoconf.Config) ([]Job, error) {
	var jobs []Job
	for _, j := range cfg.Jobs {
		job, err := karajoCommandJob(j)
		if err != nil {
			return nil, fmt.Errorf("%s: job %q: %w", j.Source, j.Name, err)
		}
		jobs = append(jobs, job)
	}
	for _, j := range cfg.HTTPJobs {
		job, err := karajoHTTPJob(j)
		if err != nil {
			return nil, fmt.Errorf("%s: job.http %q: %w", j.Source, j.Name, err)
		}
		jobs = append(jobs, job)
	}
	return jobs, nil
}

func karajoHTTPJob(j *karajoconf.HTTPJob) (Job, error) {
	spec, err := karajoSpec(j.JobBase)
	if err != nil {
		return Job{}, err
	}
	shape := event.RequestShape{TimeParam: KarajoEpochParam, Params: event.ParamsQuery, SuccessStatus: 200,
		InsecureTLS: j.Insecure}
	if (j.RequestType == "form" || j.RequestType == "json") && admit.BodyMethods[j.Method] {
		shape.Params = j.RequestType
	}
	if j.Secret != "" {
		shape.Signature = &event.HMACSignature{Header: j.HeaderSign, Secret: j.Secret}
	}
	cb := event.Callback{Type: "http", URL: j.URL, Method: j.Method, Shape: &shape}
	for _, h := range j.Headers {
		if cb.Headers == nil {
			cb.Headers = map[string]string{}
		}
		cb.Headers[h[0]] = h[1]
	}
	timeout := j.Timeout
	if timeout == 0 {
		timeout = admit.MaxTimeoutMs * time.Millisecond // karajo: no timeout
	}
	if timeout > admit.MaxTimeoutMs*time.Millisecond {
		return Job{}, fmt.Errorf("http_timeout %s: at most %s", timeout, admit.MaxTimeoutMs*time.Millisecond)
	}
	job := Job{Name: KindHTTP + "/" + j.ID, Cron: spec, Callback: cb,
		Retry:  &event.RetryPolicy{MaxAttempts: 1, TimeoutMs: max(1, timeout.Milliseconds())},
		Labels: map[string]string{LabelKarajoKind: KindHTTP, LabelKarajoID: j.ID},
		Options: event.JobOptions{Counted: true, Overlap: event.OverlapBufferOne,
			NotifyOnSuccess: j.NotifOnSuccess, NotifyOnFailure: j.NotifOnFailed}}
	if problems := admit.Request(job.Callback, job.Payload); len(problems) > 0 {
		return Job{}, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return job, nil
}

// KarajoTargets are karajo's [notif] sections as notification targets: an
// email through its SMTP server (smtps:// TLS from the start,
// smtp+starttls:// and smtp:// STARTTLS, smtp:// in clear only to a
// loopback relay), a webhook signed as Standard Webhooks do with the
// secret's bytes as its key.
func KarajoTargets(cfg *karajoconf.Config) map[string]notify.Channel {
	out := map[string]notify.Channel{}
	for _, n := range cfg.Notifs {
		switch n.Kind {
		case karajoconf.NotifEmail:
			scheme := "smtp://"
			if n.SMTPScheme == "smtps" {
				scheme = "smtps://"
			}
			out[n.Name] = notify.Email{Server: scheme + n.SMTPAddr, User: n.SMTPUser, Password: n.SMTPPassword,
				From: n.From, To: n.To, AllowPlain: n.SMTPScheme == "smtp"}
		case karajoconf.NotifWebhook:
			out[n.Name] = notify.Webhook{URL: n.URL, Secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte(n.Secret))}
		}
	}
	return out
}

// KarajoCounterEnv carries a command run's counter, as in karajo.
const KarajoCounterEnv = "KARAJO_JOB_COUNTER"

// KarajoJobDir is where a command job runs, under the data directory.
func KarajoJobDir(id string) string { return "karajo/job/" + id }

func karajoCommandJob(j *karajoconf.Job) (Job, error) {
	spec, err := karajoSpec(j.JobBase)
	if err != nil && j.Path == "" {
		return Job{}, err
	}
	if err != nil { // only a path: it runs when its webhook is called
		if spec, err = cronspec.ParseUnion("@manual", ""); err != nil {
			return Job{}, err
		}
	}
	cb := event.Callback{Type: event.CallbackCommand,
		Command: &event.Command{Lines: j.Commands, Dir: KarajoJobDir(j.ID), CounterEnv: KarajoCounterEnv}}
	if problems := admit.Callback(cb); len(problems) > 0 {
		return Job{}, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return Job{Name: KindCommand + "/" + j.ID, Cron: spec, Callback: cb,
		Labels: map[string]string{LabelKarajoKind: KindCommand, LabelKarajoID: j.ID},
		Options: event.JobOptions{Counted: true, Overlap: event.OverlapBufferOne, KeepOutputs: j.LogRetention,
			NotifyOnSuccess: j.NotifOnSuccess, NotifyOnFailure: j.NotifOnFailed}}, nil
}

// karajoSpec is a job's interval (@every, aligned to the Unix epoch) or
// calendar (its crons as one union).
func karajoSpec(b karajoconf.JobBase) (*cronspec.Spec, error) {
	switch {
	case b.Interval > 0:
		return cronspec.ParseUnion(fmt.Sprintf("@every %ds", b.Interval/time.Second), "")
	case len(b.Cron) > 0:
		return cronspec.ParseUnion(strings.Join(b.Cron, "; "), "")
	}
	return nil, fmt.Errorf("neither an interval nor a schedule")
}
