package karajoconf

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/eventlog/admit"
)

// Load reads the karajo configuration at file, then the `*.conf` files of
// DirBase/etc/karajo/job.d ([job] sections only) and of
// DirBase/etc/karajo/job_http.d ([job.http] sections only), in name order.
// An error is an Errors listing every problem found, each with its file and
// line.
func Load(file string) (*Config, error) {
	l := &loader{order: map[string]int{}}
	cfg := l.load(file)
	if len(l.errs) > 0 {
		l.sortErrs()
		return nil, l.errs
	}
	return cfg, nil
}

// Section kinds.
const (
	secKarajo  = "karajo"
	secJob     = "job"
	secJobHTTP = "job.http"
	secNotif   = "notif"
)

// keyKind says how a key is read.
type keyKind int

const (
	kString keyKind = iota
	kList           // repeated key: one value per line
	kDuration
	kInt
	kBool
)

var (
	karajoKeys = map[string]keyKind{
		"name": kString, "listen_address": kString, "http_timeout": kDuration, "dir_base": kString,
		"dir_public": kString, "secret": kString, "max_job_running": kInt, "is_development": kBool,
	}
	baseKeys = map[string]keyKind{
		"description": kString, "schedule": kString, "interval": kDuration, "log_retention": kInt,
		"notif_on_success": kList, "notif_on_failed": kList,
	}
	jobKeys = merge(baseKeys, map[string]keyKind{
		"path": kString, "auth_kind": kString, "header_sign": kString, "secret": kString, "command": kList,
	})
	jobHTTPKeys = merge(baseKeys, map[string]keyKind{
		"secret": kString, "header_sign": kString, "http_method": kString, "http_url": kString,
		"http_request_type": kString, "http_header": kList, "http_timeout": kDuration, "http_insecure": kBool,
	})
	notifEmailKeys = map[string]keyKind{
		"kind": kString, "smtp_server": kString, "smtp_user": kString, "smtp_password": kString,
		"smtp_insecure": kBool, "from": kString, "to": kList,
	}
	notifWebhookKeys = map[string]keyKind{"kind": kString, "url": kString, "secret": kString}
)

func merge(a, b map[string]keyKind) map[string]keyKind {
	out := make(map[string]keyKind, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

type loader struct {
	errs  Errors
	order map[string]int // files in the order they were read, for sorting errs
}

func (l *loader) add(e *Error) { l.errs = append(l.errs, e) }

// seen records that file is being read now.
func (l *loader) seen(file string) {
	if _, ok := l.order[file]; !ok {
		l.order[file] = len(l.order)
	}
}

// sortErrs puts the errors in the order of the files, then of the lines.
func (l *loader) sortErrs() {
	slices.SortStableFunc(l.errs, func(a, b *Error) int {
		if a.File != b.File {
			return l.order[a.File] - l.order[b.File]
		}
		return a.Line - b.Line
	})
}

// fileSecs is one file's sections.
type fileSecs struct {
	file string
	secs []*iniSection
}

func (l *loader) readFile(file string) []*iniSection {
	l.seen(file)
	src, err := os.ReadFile(file)
	if err != nil {
		l.add(errorf(file, 0, "%v", unwrapPath(err)))
		return nil
	}
	secs, perr := parseINI(file, src)
	if perr != nil {
		l.add(perr.(*Error))
		return nil
	}
	return secs
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

func (l *loader) load(file string) *Config {
	cfg := &Config{File: file}
	main := l.readFile(file)
	if main == nil && len(l.errs) > 0 {
		return nil
	}

	var karajo *iniSection
	var jobs, httpJobs, notifs []fileSecs
	for _, sec := range main {
		switch sec.name {
		case secKarajo:
			if sec.hasSub {
				l.add(errorf(file, sec.line, "[karajo] takes no name, got [karajo %q]", sec.sub))
				continue
			}
			if karajo != nil {
				l.add(errorf(file, sec.line, "[karajo] repeated (first at line %d); karajo would merge them key by key", karajo.line))
				continue
			}
			karajo = sec
		case secJob:
			jobs = append(jobs, fileSecs{file, []*iniSection{sec}})
		case secJobHTTP:
			httpJobs = append(httpJobs, fileSecs{file, []*iniSection{sec}})
		case secNotif:
			notifs = append(notifs, fileSecs{file, []*iniSection{sec}})
		default:
			l.add(errorf(file, sec.line, "unknown section [%s] (want karajo, job, job.http or notif)%s", sec.name, oldSectionHint(sec.name)))
		}
	}
	l.readKarajo(cfg, karajo)

	cfg.JobDir = filepath.Join(cfg.DirBase, "etc", "karajo", "job.d")
	cfg.JobHTTPDir = filepath.Join(cfg.DirBase, "etc", "karajo", "job_http.d")
	jobs = append(jobs, l.readDir(cfg.JobDir, secJob)...)
	httpJobs = append(httpJobs, l.readDir(cfg.JobHTTPDir, secJobHTTP)...)

	// Names first, so that a job naming a notif with a mistake in it is not
	// reported too.
	notifNames := map[string]Source{}
	for _, f := range notifs {
		for _, sec := range f.secs {
			if prev, ok := notifNames[sec.sub]; ok {
				l.add(errorf(f.file, sec.line, "notif %q: repeated (first at %s)", sec.sub, prev))
				continue
			}
			notifNames[sec.sub] = Source{f.file, sec.line}
			if n := l.readNotif(cfg, f.file, sec); n != nil {
				cfg.Notifs = append(cfg.Notifs, n)
			}
		}
	}

	ids := map[string]*JobBase{}
	paths := map[string]*Job{}
	for _, f := range jobs {
		for _, sec := range f.secs {
			j := l.readJob(cfg, f.file, sec, notifNames)
			if j == nil || !l.uniqueID(ids, &j.JobBase, secJob) {
				continue
			}
			if j.Path != "" {
				if prev, ok := paths[j.Path]; ok {
					l.add(errorf(f.file, sec.line, "job %q: path %q already triggers job %q (%s)", j.Name, j.Path, prev.Name, prev.Source))
					continue
				}
				paths[j.Path] = j
			}
			cfg.Jobs = append(cfg.Jobs, j)
		}
	}
	ids = map[string]*JobBase{}
	for _, f := range httpJobs {
		for _, sec := range f.secs {
			j := l.readHTTPJob(cfg, f.file, sec, notifNames)
			if j == nil || !l.uniqueID(ids, &j.JobBase, secJobHTTP) {
				continue
			}
			cfg.HTTPJobs = append(cfg.HTTPJobs, j)
		}
	}
	slices.SortFunc(cfg.Jobs, func(a, b *Job) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(cfg.HTTPJobs, func(a, b *HTTPJob) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(cfg.Notifs, func(a, b *Notif) int { return strings.Compare(a.Name, b.Name) })
	return cfg
}

// uniqueID records j's id in ids, or reports the job that has it already.
// karajo keeps ids per kind: a command job and an HTTP job may share one.
func (l *loader) uniqueID(ids map[string]*JobBase, j *JobBase, kind string) bool {
	if prev, ok := ids[j.ID]; ok {
		l.add(errorf(j.Source.File, j.Source.Line, "%s %q: id %q is already the id of %s %q (%s)", kind, j.Name, j.ID, kind, prev.Name, prev.Source))
		return false
	}
	ids[j.ID] = j
	return true
}

func oldSectionHint(name string) string {
	if name == "hook" {
		return "; [hook] is karajo before v0.7: write [job]"
	}
	return ""
}

// readDir reads the *.conf files of dir as karajo does: regular files only
// (a symbolic link is skipped, as karajo skips it), not hidden, in name
// order; each may hold only sections of kind want.
func (l *loader) readDir(dir, want string) []fileSecs {
	l.seen(dir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		l.add(errorf(dir, 0, "%v", unwrapPath(err)))
		return nil
	}
	var out []fileSecs
	for _, de := range entries { // os.ReadDir sorts by name
		name := de.Name()
		if !de.Type().IsRegular() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".conf") {
			continue
		}
		file := filepath.Join(dir, name)
		secs := l.readFile(file)
		var keep []*iniSection
		for _, sec := range secs {
			if sec.name != want {
				l.add(errorf(file, sec.line, "[%s] in %s: this directory holds only [%s] sections (karajo ignores the others)", sec.name, filepath.Base(dir), want))
				continue
			}
			keep = append(keep, sec)
		}
		out = append(out, fileSecs{file, keep})
	}
	return out
}

// keys checks a section's keys against allowed and indexes them by name.
type keys struct {
	l    *loader
	file string
	what string // `job "deploy"`, for errors
	m    map[string][]iniKey
	kind map[string]keyKind
}

func (l *loader) keys(file, what string, sec *iniSection, allowed map[string]keyKind, hint func(string) string) *keys {
	k := &keys{l: l, file: file, what: what, m: map[string][]iniKey{}, kind: allowed}
	for _, kv := range sec.keys {
		kk, ok := allowed[kv.name]
		if !ok {
			h := ""
			if hint != nil {
				h = hint(kv.name)
			}
			l.add(errorf(file, kv.line, "%s: unknown key %q%s", what, kv.name, h))
			continue
		}
		if prev := k.m[kv.name]; len(prev) > 0 && kk != kList {
			l.add(errorf(file, kv.line, "%s: %s repeated (first at line %d); it takes one value", what, kv.name, prev[0].line))
			continue
		}
		k.m[kv.name] = append(k.m[kv.name], kv)
	}
	return k
}

func (k *keys) fail(kv iniKey, format string, args ...any) {
	k.l.add(errorf(k.file, kv.line, "%s: %s", k.what, fmt.Sprintf(format, args...)))
}

// str is the key's value; "" when absent.
func (k *keys) str(name string) (string, iniKey) {
	if vs := k.m[name]; len(vs) > 0 {
		return vs[0].value, vs[0]
	}
	return "", iniKey{}
}

func (k *keys) list(name string) []string {
	var out []string
	for _, kv := range k.m[name] {
		out = append(out, kv.value)
	}
	return out
}

func (k *keys) duration(name string) (time.Duration, iniKey, bool) {
	v, kv := k.str(name)
	if v == "" {
		return 0, kv, false
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		k.fail(kv, "%s %q: not a duration (write 90s, 5m, 1h30m)", name, v)
		return 0, kv, false
	}
	return d, kv, true
}

// count reads a number that may not be negative; 0 or absent is def, as
// karajo reads 0 (and any number below 1) as its default.
func (k *keys) count(name string, def int) int {
	v, kv := k.str(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		k.fail(kv, "%s %q: not a whole number", name, v)
		return def
	}
	if n < 0 {
		k.fail(kv, "%s %d: may not be negative", name, n)
		return def
	}
	if n == 0 {
		return def
	}
	return n
}

// boolean reads karajo's true (true, t, yes, ya, 1) and false (false, f,
// no, 0), case-insensitively; anything else is refused (karajo reads it as
// false).
func (k *keys) boolean(name string) bool {
	v, kv := k.str(name)
	switch strings.ToLower(v) {
	case "true", "t", "yes", "ya", "1":
		return true
	case "", "false", "f", "no", "0":
		return false
	}
	k.fail(kv, "%s %q: want true or false", name, v)
	return false
}

func (l *loader) readKarajo(cfg *Config, sec *iniSection) {
	cfg.Name, cfg.ListenAddress, cfg.DirBase = DefaultName, DefaultListenAddress, DefaultDirBase
	cfg.HTTPTimeout, cfg.MaxJobRunning = DefaultHTTPTimeout, DefaultMaxJobRunning
	if sec == nil {
		return
	}
	k := l.keys(cfg.File, "[karajo]", sec, karajoKeys, nil)
	if v, _ := k.str("name"); v != "" {
		cfg.Name = v
	}
	if v, _ := k.str("listen_address"); v != "" {
		cfg.ListenAddress = v
	}
	if v, _ := k.str("dir_base"); v != "" {
		cfg.DirBase = v
	}
	cfg.DirPublic, _ = k.str("dir_public")
	cfg.Secret, _ = k.str("secret")
	if d, _, ok := k.duration("http_timeout"); ok && d != 0 {
		cfg.HTTPTimeout = d
	}
	cfg.MaxJobRunning = k.count("max_job_running", DefaultMaxJobRunning)
	cfg.IsDevelopment = k.boolean("is_development")
}

// otherKindHint points at the section kind a misplaced key belongs to.
func otherKindHint(own string) func(string) string {
	return func(key string) string {
		if key == "commands" && own == secJob {
			return "; karajo's key is command, one line per command"
		}
		if key == "max_running" {
			return "; karajo dropped it in v0.7: a job never runs twice at once (max_job_running in [karajo] limits all jobs)"
		}
		if _, ok := jobKeys[key]; ok && own == secJobHTTP {
			return "; it is a key of [job] (command jobs)"
		}
		if _, ok := jobHTTPKeys[key]; ok && own == secJob {
			return "; it is a key of [job.http] (HTTP jobs)"
		}
		return ""
	}
}

// readBase reads what both kinds of job have. timed says whether a
// schedule or an interval is written, valid or not (an empty value is no
// value, as in karajo).
func (l *loader) readBase(file string, sec *iniSection, kind string, k *keys, notifs map[string]Source) (b JobBase, timed bool) {
	b = JobBase{Name: sec.sub, ID: NormalizeID(sec.sub), Source: Source{file, sec.line}}
	if !sec.hasSub || sec.sub == "" {
		l.add(errorf(file, sec.line, "[%s] needs a name: [%s \"NAME\"]", kind, kind))
	}
	if v, _ := k.str("interval"); v != "" {
		timed = true
	}
	b.Description, _ = k.str("description")
	var schedKey iniKey
	b.Schedule, schedKey = k.str("schedule")
	if b.Schedule != "" {
		timed = true
		cron, err := ParseSchedule(b.Schedule)
		if err != nil {
			k.fail(schedKey, "schedule %q: %v", b.Schedule, err)
		}
		b.Cron = cron
	}
	iv, ivKey, hasInterval := k.duration("interval")
	if hasInterval {
		switch {
		case iv < time.Second:
			k.fail(ivKey, "interval %q: below 1s (karajo raises any interval below 1m to 1m; we keep intervals from 1s as written)", ivKey.value)
		case iv%time.Second != 0:
			k.fail(ivKey, "interval %q: not whole seconds (karajo rounds its times to the second)", ivKey.value)
		case b.Schedule != "":
			k.fail(ivKey, "both schedule (line %d) and interval: keep one (karajo would ignore the interval)", schedKey.line)
		default:
			b.Interval = iv
		}
	}
	b.LogRetention = k.count("log_retention", DefaultLogRetention)
	for _, key := range []string{"notif_on_success", "notif_on_failed"} {
		for _, kv := range k.m[key] {
			if _, known := notifs[kv.value]; !known {
				k.fail(kv, "%s: no [notif %q]", key, kv.value)
			}
		}
	}
	b.NotifOnSuccess = k.list("notif_on_success")
	b.NotifOnFailed = k.list("notif_on_failed")
	return b, timed
}

func (l *loader) readJob(cfg *Config, file string, sec *iniSection, notifs map[string]Source) *Job {
	what := fmt.Sprintf("job %q", sec.sub)
	nerr := len(l.errs)
	k := l.keys(file, what, sec, jobKeys, otherKindHint(secJob))
	base, timed := l.readBase(file, sec, secJob, k, notifs)
	j := &Job{JobBase: base}
	j.Commands = k.list("command")
	for _, kv := range k.m["command"] {
		if kv.value == "" {
			k.fail(kv, "empty command")
		}
	}
	if len(j.Commands) == 0 {
		l.add(errorf(file, sec.line, "%s: no command (one `command = ...` line per command)", what))
	}
	p, pk := k.str("path")
	if p = strings.TrimSpace(p); p != "" {
		j.Path = path.Join("/", p)
		switch {
		case j.Path == "/":
			k.fail(pk, "path %q: names nothing below /karajo/api/job_exec/run", p)
		case strings.ContainsAny(j.Path, "?#:* \t"):
			k.fail(pk, "path %q: may not hold '?', '#', ':', '*' or blanks", p)
		}
	}
	if j.Path == "" && !timed {
		l.add(errorf(file, sec.line, "%s: never runs: give it a schedule, an interval or a path", what))
	}
	ak, akKey := k.str("auth_kind")
	switch strings.ToLower(ak) {
	case "", AuthHMACSHA256:
		j.AuthKind = AuthHMACSHA256
	case AuthGitHub:
		j.AuthKind = AuthGitHub
	case "sourcehut":
		k.fail(akKey, "auth_kind %q: not supported here (hmac-sha256 or github)", ak)
	default:
		k.fail(akKey, "auth_kind %q: unknown (hmac-sha256 or github; karajo would use hmac-sha256)", ak)
	}
	j.HeaderSign = l.headerSign(k)
	j.Secret, _ = k.str("secret")
	if j.Secret == "" {
		j.Secret = cfg.Secret
	}
	if j.Path != "" && j.Secret == "" {
		l.add(errorf(file, sec.line, "%s: path %q needs a secret: set secret here or in [karajo] (karajo would make up a new one at each start)", what, j.Path))
	}
	if len(l.errs) > nerr {
		return nil
	}
	return j
}

func (l *loader) headerSign(k *keys) string {
	v, kv := k.str("header_sign")
	if v == "" {
		return DefaultHeaderSign
	}
	if !admit.HeaderName(v) {
		k.fail(kv, "header_sign %q: not a header name", v)
	}
	return v
}

func (l *loader) readHTTPJob(cfg *Config, file string, sec *iniSection, notifs map[string]Source) *HTTPJob {
	what := fmt.Sprintf("job.http %q", sec.sub)
	nerr := len(l.errs)
	k := l.keys(file, what, sec, jobHTTPKeys, otherKindHint(secJobHTTP))
	base, timed := l.readBase(file, sec, secJobHTTP, k, notifs)
	j := &HTTPJob{JobBase: base}
	if !timed {
		l.add(errorf(file, sec.line, "%s: never runs: give it a schedule or an interval", what))
	}
	j.Secret, _ = k.str("secret")
	j.HeaderSign = l.headerSign(k)

	m, mk := k.str("http_method")
	switch up := strings.ToUpper(m); up {
	case "":
		j.Method = DefaultHTTPMethod
	case "GET", "POST", "PUT", "DELETE":
		j.Method = up
	default:
		k.fail(mk, "http_method %q: want GET, POST, PUT or DELETE", m)
	}

	u, uk := k.str("http_url")
	switch {
	case u == "":
		l.add(errorf(file, sec.line, "%s: no http_url", what))
	case strings.HasPrefix(u, "/"):
		j.URL = u
	default:
		pu, err := url.Parse(u)
		switch {
		case err != nil:
			k.fail(uk, "http_url %q: %v", u, errors.Unwrap(err))
		case pu.Scheme != "http" && pu.Scheme != "https", pu.Host == "":
			k.fail(uk, "http_url %q: want an http:// or https:// URL, or a path starting with / on this server", u)
		default:
			j.URL = u
		}
	}

	rt, rtk := k.str("http_request_type")
	switch low := strings.ToLower(rt); low {
	case "":
		j.RequestType = DefaultRequestType
	case "query", "form", "json":
		j.RequestType = low
	default:
		k.fail(rtk, "http_request_type %q: want query, form or json", rt)
	}

	seen := map[string]int{}
	for _, kv := range k.m["http_header"] {
		name, value, found := strings.Cut(kv.value, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !found || !admit.HeaderName(name) {
			k.fail(kv, "http_header %q: want \"Name: value\"", kv.value)
			continue
		}
		if strings.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			k.fail(kv, "http_header %q: control character in the value", kv.value)
			continue
		}
		low := strings.ToLower(name)
		if first, ok := seen[low]; ok {
			k.fail(kv, "http_header %q: %s already set at line %d (karajo keeps only the last)", kv.value, name, first)
			continue
		}
		seen[low] = kv.line
		j.Headers = append(j.Headers, [2]string{name, value})
	}

	j.Timeout = cfg.HTTPTimeout
	if d, _, ok := k.duration("http_timeout"); ok && d != 0 {
		j.Timeout = d
	}
	if j.Timeout < 0 {
		j.Timeout = 0 // karajo: a negative timeout is none
	}
	j.Insecure = k.boolean("http_insecure")
	if len(l.errs) > nerr {
		return nil
	}
	return j
}

func (l *loader) readNotif(cfg *Config, file string, sec *iniSection) *Notif {
	what := fmt.Sprintf("notif %q", sec.sub)
	if !sec.hasSub || sec.sub == "" {
		l.add(errorf(file, sec.line, "[notif] needs a name: [notif \"NAME\"]"))
		return nil
	}
	n := &Notif{Name: sec.sub, Source: Source{file, sec.line}}
	var kind string
	for _, kv := range sec.keys {
		if kv.name == "kind" {
			kind = strings.ToLower(kv.value)
		}
	}
	nerr := len(l.errs)
	var allowed map[string]keyKind
	switch kind {
	case NotifEmail:
		allowed = notifEmailKeys
	case NotifWebhook:
		allowed = notifWebhookKeys
	case "":
		l.add(errorf(file, sec.line, "%s: no kind (email or webhook)", what))
		return nil
	default:
		l.add(errorf(file, sec.line, "%s: unknown kind %q (email or webhook)", what, kind))
		return nil
	}
	n.Kind = kind
	k := l.keys(file, what, sec, allowed, func(key string) string {
		if _, ok := notifEmailKeys[key]; ok {
			return " for kind " + kind + "; it is a key of kind email"
		}
		if _, ok := notifWebhookKeys[key]; ok {
			return " for kind " + kind + "; it is a key of kind webhook"
		}
		return ""
	})
	if kind == NotifWebhook {
		u, uk := k.str("url")
		pu, err := url.Parse(u)
		switch {
		case u == "":
			l.add(errorf(file, sec.line, "%s: no url", what))
		case err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "":
			k.fail(uk, "url %q: want an http:// or https:// URL", u)
		}
		n.URL = u
		n.Secret = l.fromEnv(k, "secret")
		if n.Secret == "" {
			n.Secret = cfg.Secret
		}
		if n.Secret == "" {
			l.add(errorf(file, sec.line, "%s: a webhook is signed: set secret here or in [karajo]", what))
		}
	} else {
		l.readSMTP(n, k, file, sec.line)
	}
	if len(l.errs) > nerr {
		return nil
	}
	return n
}

func (l *loader) readSMTP(n *Notif, k *keys, file string, line int) {
	what := k.what
	s, sk := k.str("smtp_server")
	n.SMTPServer = s
	if s == "" {
		l.add(errorf(file, line, "%s: no smtp_server (smtps://host:465, smtp+starttls://host:587 or smtp://host:25)", what))
	} else {
		pu, err := url.Parse(s)
		ports := map[string]string{"smtp": "25", "smtps": "465", "smtp+starttls": "587"}
		var def string
		if err == nil {
			n.SMTPScheme = strings.ToLower(pu.Scheme)
			def = ports[n.SMTPScheme]
		}
		switch {
		case err != nil || def == "" || pu.Hostname() == "" || (pu.Path != "" && pu.Path != "/"):
			k.fail(sk, "smtp_server %q: want smtps://host[:port], smtp+starttls://host[:port] or smtp://host[:port]", s)
		default:
			port := pu.Port()
			if port == "" {
				port = def
			}
			if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
				k.fail(sk, "smtp_server %q: bad port", s)
			}
			n.SMTPAddr = net.JoinHostPort(pu.Hostname(), port)
		}
	}
	n.SMTPUser = l.fromEnv(k, "smtp_user")
	n.SMTPPassword = l.fromEnv(k, "smtp_password")
	n.SMTPInsecure = k.boolean("smtp_insecure")
	from, fk := k.str("from")
	if from == "" {
		l.add(errorf(file, line, "%s: no from", what))
	} else if _, err := mail.ParseAddress(from); err != nil {
		k.fail(fk, "from %q: not an email address", from)
	}
	n.From = from
	n.To = k.list("to")
	if len(n.To) == 0 {
		l.add(errorf(file, line, "%s: no to (one `to = ...` line per address)", what))
	}
	for _, kv := range k.m["to"] {
		if _, err := mail.ParseAddress(kv.value); err != nil {
			k.fail(kv, "to %q: not an email address", kv.value)
		}
	}
}

// fromEnv reads a value that may be "$NAME": the environment variable NAME,
// which must be set.
func (l *loader) fromEnv(k *keys, key string) string {
	v, kv := k.str(key)
	if !strings.HasPrefix(v, "$") {
		return v
	}
	name := v[1:]
	if !isEnvName(name) {
		k.fail(kv, "%s %q: not an environment variable name after '$'", key, v)
		return ""
	}
	val, ok := os.LookupEnv(name)
	if !ok {
		k.fail(kv, "%s: environment variable %s is not set", key, name)
		return ""
	}
	return val
}

func isEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
