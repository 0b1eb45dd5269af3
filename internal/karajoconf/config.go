package karajoconf

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Defaults, as in karajo.
const (
	DefaultName          = "karajo"
	DefaultListenAddress = "127.0.0.1:31937"
	DefaultDirBase       = "/"
	DefaultHTTPTimeout   = 5 * time.Minute
	DefaultMaxJobRunning = 1
	DefaultLogRetention  = 5
	DefaultHeaderSign    = "X-Karajo-Sign"
	DefaultHTTPMethod    = "GET"
	DefaultRequestType   = "query"
)

// Kinds of command-job authorisation (auth_kind).
const (
	AuthHMACSHA256 = "hmac-sha256"
	AuthGitHub     = "github"
)

// Kinds of notification (kind in [notif "name"]).
const (
	NotifEmail   = "email"
	NotifWebhook = "webhook"
)

// Config is karajo.conf with its job.d and job_http.d files, checked and
// with karajo's defaults filled in.
type Config struct {
	// File is the main file, as given to Load.
	File string

	// From [karajo].
	Name          string // default "karajo"
	ListenAddress string // karajo's own listen address, default 127.0.0.1:31937; kept for the environment API
	DirBase       string // default "/"
	DirPublic     string
	Secret        string        // the global secret; may be empty
	HTTPTimeout   time.Duration // default for HTTP jobs; 5m when absent or 0; negative: no timeout
	MaxJobRunning int           // command runs at once; 1 when absent or 0
	IsDevelopment bool

	// JobDir and JobHTTPDir are where job.d and job_http.d were looked for:
	// DirBase/etc/karajo/job.d and DirBase/etc/karajo/job_http.d, as karajo
	// does. A directory that does not exist holds no jobs.
	JobDir     string
	JobHTTPDir string

	// Jobs are the command jobs ([job "name"]), HTTPJobs the HTTP jobs
	// ([job.http "name"]), each sorted by ID; Notifs sorted by Name.
	Jobs     []*Job
	HTTPJobs []*HTTPJob
	Notifs   []*Notif
}

// Job returns the command job with the id, or nil.
func (c *Config) Job(id string) *Job {
	for _, j := range c.Jobs {
		if j.ID == id {
			return j
		}
	}
	return nil
}

// HTTPJob returns the HTTP job with the id, or nil.
func (c *Config) HTTPJob(id string) *HTTPJob {
	for _, j := range c.HTTPJobs {
		if j.ID == id {
			return j
		}
	}
	return nil
}

// Notif returns the notification with the name, or nil.
func (c *Config) Notif(name string) *Notif {
	for _, n := range c.Notifs {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Source is where a definition starts: its section header.
type Source struct {
	File string
	Line int
}

func (s Source) String() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// JobBase holds what both kinds of job have (karajo's JobBase).
type JobBase struct {
	ID          string // NormalizeID(Name); unique within its kind
	Name        string // the section's subsection, as written
	Description string // may hold simple HTML, as in karajo

	// Exactly one of Cron and Interval is set, or neither for a command job
	// triggered only through its Path.
	Schedule string        // karajo's calendar syntax, as written
	Cron     []string      // ParseSchedule(Schedule): 6-field, seconds first, UTC
	Interval time.Duration // at least 1s

	LogRetention   int      // logs whose content is kept; default 5
	NotifOnSuccess []string // names of [notif] sections
	NotifOnFailed  []string

	// Source is left out of the digest: moving a job in its file is no
	// change.
	Source Source
}

// Job is a command job, [job "name"].
type Job struct {
	JobBase

	// Path triggers the job with POST /karajo/api/job_exec/run<Path>. It is
	// cleaned ("deploy/" is "/deploy") and unique among command jobs; empty:
	// no trigger over HTTP.
	Path       string
	AuthKind   string // AuthHMACSHA256 (default) or AuthGitHub
	HeaderSign string // header of the hmac-sha256 signature; default X-Karajo-Sign
	Secret     string // the job's secret, else the global one
	Commands   []string
}

// HTTPJob is an HTTP job, [job.http "name"].
type HTTPJob struct {
	JobBase

	Secret      string // signs each call when set (no global fallback, as in karajo)
	HeaderSign  string // default X-Karajo-Sign
	Method      string // GET (default), POST, PUT or DELETE
	URL         string // absolute http(s) URL, or a path starting with "/" on this server
	RequestType string // query (default), form or json
	Headers     [][2]string
	Timeout     time.Duration // the job's http_timeout, else the global one; 0: no timeout
	Insecure    bool
}

// Notif is a notification target, [notif "name"].
type Notif struct {
	Name string
	Kind string // NotifEmail or NotifWebhook

	// Email. SMTPServer is as written; SMTPScheme is smtp, smtps (TLS from
	// the start) or smtp+starttls; SMTPAddr is host:port with the scheme's
	// port (25, 465, 587) when none is written.
	SMTPServer   string
	SMTPScheme   string
	SMTPAddr     string
	SMTPUser     string // "$NAME" read from the environment
	SMTPPassword string // "$NAME" read from the environment
	SMTPInsecure bool
	From         string
	To           []string

	// Webhook: a signed POST of the run record to URL with Secret (the
	// notif's, else the global one; "$NAME" read from the environment).
	URL    string
	Secret string

	Source Source
}

// Digest is a fingerprint of the job's definition as loaded (defaults and
// the inherited secret included, its Source left out): equal digests mean
// the same job. It covers the secret, so it is not for public display.
func (j *Job) Digest() string { c := *j; c.Source = Source{}; return digest("job", c) }

// Digest is as Job.Digest, for an HTTP job.
func (j *HTTPJob) Digest() string { c := *j; c.Source = Source{}; return digest("job.http", c) }

// Digest is as Job.Digest, for a notification.
func (n *Notif) Digest() string { c := *n; c.Source = Source{}; return digest("notif", c) }

func digest(kind string, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("karajoconf: digest of %s: %v", kind, err)) // plain data: cannot fail
	}
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
