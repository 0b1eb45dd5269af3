// Package karajoconf reads karajo's configuration (karajo v0.9, its INI
// files read with pakakeh.go's lib/ini) into checked, plain structs: the
// [karajo] settings, command jobs ([job "name"]), HTTP jobs
// ([job.http "name"]) and notifications ([notif "name"]). It only reads;
// nothing here runs a job.
//
// Load(path) reads the main file, then every *.conf file of
// DirBase/etc/karajo/job.d (command jobs only) and
// DirBase/etc/karajo/job_http.d (HTTP jobs only). A problem is reported as
// "file:line: reason"; Load reports every problem it finds, not only the
// first. ParseSchedule turns karajo's calendar schedules into cron
// expressions; NormalizeID turns a job's name into its id.
//
// # Where we follow karajo, and where we do not
//
// The rule: a file karajo reads means the same here, or is refused with the
// reason. Where karajo silently ignores, drops, clamps or defaults something
// written, so that the job would not do what the file says, we refuse it.
//
// Files and sections:
//   - The INI dialect is git-config as lib/ini reads it (see ini.go): values
//     are unquoted, blanks collapsed, `#` and `;` start a comment unless
//     quoted (so `command = a; b` runs `a`, as in karajo: quote it), `\`
//     continues a line. Our reader differs only in refusing a `key` line
//     without `=` (karajo never reads it) and in accepting CRLF and a BOM.
//   - job.d and job_http.d are under DirBase/etc/karajo, as in karajo, not
//     "beside the main file": with karajo's usual layout
//     (/etc/karajo/karajo.conf, dir_base = /) that is the same place. A
//     relative dir_base is relative to the working directory, as in karajo.
//     Only regular files are read (a symbolic link is skipped, as karajo
//     skips it), not hidden ones, ending in .conf; in name order (karajo
//     takes directory order and lets a later job of the same name replace an
//     earlier one; we refuse the duplicate). A missing directory holds no
//     jobs. user.conf (karajo's web console users) is not read.
//   - Refused, where karajo ignores them: unknown sections ([hook] gets a
//     hint: it is karajo before v0.7), unknown keys (`commands` gets a hint:
//     karajo's key is `command`, repeated), [job.http] in job.d and the like,
//     [karajo "x"], a second [karajo], a repeated key that takes one value
//     (karajo keeps the last).
//
// Values:
//   - Numbers (max_job_running, log_retention): not a number is refused
//     (karajo reads 0), negative is refused; 0 means the default, as in
//     karajo (1 and 5).
//   - Durations are Go durations; a bad one is refused (karajo reads 0).
//   - Booleans: karajo's true (true, t, yes, ya, 1, any case), false (false,
//     f, no, 0, empty); anything else is refused (karajo reads false).
//   - An empty value (`schedule =`) is no value, as in karajo.
//
// Jobs:
//   - Ids are karajo's: see NormalizeID (no trimming: "Deploy " is
//     "deploy_"). An empty name is refused. Two jobs of the same kind with
//     the same id are refused, across all files; a command job and an HTTP
//     job may share an id, as in karajo (its own tests do).
//   - interval: honoured as written from 1s, in whole seconds; below 1s (0
//     and negatives included) and fractions of a second are refused. karajo raises any interval below 1 minute to 1
//     minute and ignores 0 and negatives.
//   - schedule and interval together are refused (karajo uses the schedule
//     and drops the interval). A job with neither (and, for a command job,
//     no path) is refused: karajo loads it but never runs it.
//   - Schedules: see ParseSchedule. Same grammar, case rules and defaults as
//     karajo, in UTC as karajo; items karajo would skip or misread are
//     refused.
//   - Command jobs: `command` (one line each) is required, as in karajo; an
//     empty command is refused. auth_kind is hmac-sha256 (default) or
//     github, any case; sourcehut, which karajo has, is refused as not
//     supported; an unknown kind is refused (karajo falls back to
//     hmac-sha256). secret falls back to [karajo]'s, as in karajo; a job
//     with a path and no secret anywhere is refused (karajo would make up a
//     random global secret at each start, unusable in a cluster). path is
//     cleaned as karajo joins it ("deploy/" is "/deploy"); "/" alone, '?',
//     '#', ':', '*' and blanks are refused, and so are two command jobs with
//     one path.
//   - HTTP jobs: http_url is required (karajo crashes without it) and is a
//     path starting with "/" (this server) or an absolute http(s) URL with
//     a host (karajo does not check). http_method GET (default), POST, PUT,
//     DELETE and http_request_type query (default), form, json, in any case,
//     as in karajo. http_header is "Name: value", both trimmed, as in karajo;
//     refused: no ':', a name that is not a header name, a control character,
//     a name given twice (karajo keeps the last). secret has no fallback, as
//     in karajo (no secret: unsigned). http_timeout: 0 or absent is
//     [karajo]'s, negative is none (Timeout 0), as in karajo; [karajo]'s own
//     http_timeout defaults to 5m, negative is none.
//   - header_sign defaults to X-Karajo-Sign and must be a header name.
//   - notif_on_success and notif_on_failed must name a [notif] (exactly, case
//     and all; karajo skips unknown names). They are kept for HTTP jobs too,
//     which karajo reads but never notifies.
//
// Notifications:
//   - kind is required: email (karajo's) or webhook (ours: a signed POST of
//     the run record to url, with secret, else [karajo]'s, one of them
//     required). Keys of the other kind are refused.
//   - email: smtp_server is smtps://host[:port] (TLS), smtp+starttls://... or
//     smtp://..., with ports 465, 587 and 25 by default, as in karajo's SMTP
//     client; from is one address and to is repeated (as in karajo), each
//     checked with net/mail; smtp_insecure as in karajo.
//   - "$NAME" in smtp_user, smtp_password and a webhook's secret is the
//     environment variable NAME; unset is refused, set to "" is "". karajo
//     means to do this for smtp_user and smtp_password but looks the
//     variable up with the '$' kept, so it reads nothing (and it crashes on
//     an empty smtp_user). There is no escape
//     for a literal value starting with '$'.
//
// [karajo]: name (default karajo), listen_address, dir_public and
// is_development are kept for karajo's environment API and change nothing
// here. No secret is made up when none is given (karajo makes one at each
// start).
//
// Digest: a job's and a notif's Digest is a SHA-256 of their definition as
// loaded (defaults and inherited secrets included, Source left out), to tell
// a changed job between two loads. It covers secrets, so it is not for
// public display.
package karajoconf
