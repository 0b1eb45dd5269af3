package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chronicle-sched/chronicle/client"
	"github.com/chronicle-sched/chronicle/internal/buildinfo"
)

// The API commands (apps, schedules, cluster, token): each a thin layer
// over the client package, so what the CLI does is what a Go program can
// do. Every command takes the same connection and output flags; errors are
// one line on stderr and an exit status scripts can test: 0 done, 1 the
// server refused or could not be reached, 2 the command line is wrong.

// apiCommand is one subcommand, such as "schedules get".
type apiCommand struct {
	verb    string
	args    string // the positional arguments, for the usage line
	summary string
	example string // shown by -h
	nargs   [2]int // how many positional arguments: [min, max]; max -1: any
	// setup defines the command's own flags and returns what runs it.
	setup func(fs *flag.FlagSet) runFunc
}

type runFunc func(ctx context.Context, r *cmdRun) error

// cmdRun is what a running command has: its client, output, arguments.
type cmdRun struct {
	name   string // "schedules get"
	c      *client.Client
	args   []string
	json   bool
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
}

// usageError is a command line that cannot be run: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// apiGroups are the command groups and their subcommands.
func apiGroups() map[string][]apiCommand {
	return map[string][]apiCommand{
		"apps":      appsCommands(),
		"schedules": schedulesCommands(),
		"jobs":      jobsCommands(),
		"cluster":   clusterCommands(),
		"token":     tokenCommands(),
	}
}

// apiGroupSummary is each group's line in the help.
var apiGroupSummary = map[string]string{
	"apps":      "register, list, activate and deactivate apps, and read an app's history",
	"schedules": "create, read, list, change, pause, resume, trigger, cancel and delete schedules; their runs, outputs and history",
	"jobs":      "run, list, read and cancel a workflow schedule's jobs",
	"cluster":   "show the cluster; add and remove members; transfer leadership",
	"token":     "issue, list and revoke API tokens (admin)",
}

// runAPICommand runs `chronicle GROUP VERB [flags] [args]` and returns the
// exit status, having written any error as one line on stderr.
func runAPICommand(group string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name, err := runGroup(group, args, stdin, stdout, stderr)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "chronicle %s: %s\n", name, oneLine(errorText(err)))
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// errorText is what a user reads of err: the server's answer as it gave
// it ("404 not found: Schedule with id: x not found"), without the
// client's wrapping, which repeats what the command line says.
func errorText(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.Error()
	}
	return err.Error()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// runGroup parses the command line and runs the command; name is the
// command's name for the error line.
func runGroup(group string, args []string, stdin io.Reader, stdout, stderr io.Writer) (name string, err error) {
	cmds := apiGroups()[group]
	if len(args) == 0 {
		return group, usagef("give a command: %s (chronicle %s -h)", verbs(cmds), group)
	}
	verb := args[0]
	if verb == "-h" || verb == "--help" || verb == "help" {
		groupUsage(stdout, group, cmds)
		return group, nil
	}
	var cmd *apiCommand
	for i := range cmds {
		if cmds[i].verb == verb {
			cmd = &cmds[i]
		}
	}
	if cmd == nil {
		return group, usagef("unknown command %q: give %s (chronicle %s -h)", verb, verbs(cmds), group)
	}
	name = group + " " + verb
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by the caller
	fs.Usage = func() {}
	common := addCommonFlags(fs, group == "token")
	run := cmd.setup(fs)
	pos, err := parseInterleaved(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		commandUsage(stdout, group, cmd, fs)
		return name, nil
	}
	if err != nil {
		return name, usagef("%v (chronicle %s -h)", err, name)
	}
	if len(pos) < cmd.nargs[0] || (cmd.nargs[1] >= 0 && len(pos) > cmd.nargs[1]) {
		want := cmd.args
		if want == "" {
			want = "no arguments"
		}
		return name, usagef("takes %s, got %d argument(s) (chronicle %s -h)", want, len(pos), name)
	}
	r := &cmdRun{name: name, args: pos, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	if r.c, r.json, err = common.resolve(fs); err != nil {
		return name, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), common.timeout)
	defer cancel()
	return name, run(ctx, r)
}

func verbs(cmds []apiCommand) string {
	var vs []string
	for _, c := range cmds {
		vs = append(vs, c.verb)
	}
	return strings.Join(vs, ", ")
}

// parseInterleaved parses flags wherever they are among the positional
// arguments (`schedules get ID -o json`), as users type them; "--" ends
// the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at "--" and drops it: what follows is positional.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// commonFlags are every API command's connection and output flags.
type commonFlags struct {
	server, token, tokenFile, caFile, output string
	timeout                                  time.Duration
	tokenCommand                             bool
}

const defaultServer = "http://127.0.0.1:8080"

func addCommonFlags(fs *flag.FlagSet, tokenCommand bool) *commonFlags {
	c := &commonFlags{tokenCommand: tokenCommand}
	server := os.Getenv("CHRONICLE_SERVER")
	if server == "" {
		server = defaultServer
	}
	fs.StringVar(&c.server, "server", server, "URL of any node's API, https:// for a TLS cluster (env CHRONICLE_SERVER)")
	fs.StringVar(&c.token, "token", "", "bearer token to call with (env CHRONICLE_TOKEN)")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding the bearer token (env CHRONICLE_TOKEN_FILE)")
	fs.StringVar(&c.caFile, "tls-ca", os.Getenv("CHRONICLE_TLS_CA"), "PEM CA the node's certificate is signed by (env CHRONICLE_TLS_CA)")
	fs.StringVar(&c.output, "o", "table", "output: table or json (the API's data as indented JSON, fields in a fixed order)")
	fs.StringVar(&c.output, "output", "table", "same as -o")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "give up on the call after this long")
	if tokenCommand {
		// The flags `chronicle token` had before the other commands.
		fs.StringVar(&c.server, "addr", server, "same as --server")
		fs.StringVar(&c.tokenFile, "admin-token-file", "", "same as --token-file (env CHRONICLE_ADMIN_TOKEN_FILE)")
	}
	return c
}

// resolve checks the common flags and builds the client. A flag wins over
// the environment; --token and --token-file together are refused.
func (c *commonFlags) resolve(fs *flag.FlagSet) (*client.Client, bool, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.output != "table" && c.output != "json" {
		return nil, false, usagef("-o must be table or json, not %q", c.output)
	}
	if c.timeout <= 0 {
		return nil, false, usagef("--timeout must be positive")
	}
	fileFlag := "--token-file"
	if set["admin-token-file"] {
		fileFlag = "--admin-token-file"
	}
	if set["token"] && (set["token-file"] || set["admin-token-file"]) {
		return nil, false, usagef("give --token or %s, not both", fileFlag)
	}
	secret := c.token
	switch {
	case set["token"]:
		if strings.TrimSpace(secret) == "" {
			return nil, false, usagef("--token is empty")
		}
	case set["token-file"] || set["admin-token-file"]:
		var err error
		if secret, err = readTokenFile(fileFlag, c.tokenFile); err != nil {
			return nil, false, err
		}
	case os.Getenv("CHRONICLE_TOKEN") != "":
		secret = os.Getenv("CHRONICLE_TOKEN")
	default:
		for _, env := range []string{"CHRONICLE_TOKEN_FILE", "CHRONICLE_ADMIN_TOKEN_FILE"} {
			if f := os.Getenv(env); f != "" && (env != "CHRONICLE_ADMIN_TOKEN_FILE" || c.tokenCommand) {
				var err error
				if secret, err = readTokenFile(env, f); err != nil {
					return nil, false, err
				}
				break
			}
		}
	}
	hc := &http.Client{}
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, false, usagef("--tls-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, false, usagef("--tls-ca %s holds no PEM certificate", c.caFile)
		}
		hc.Transport = &http.Transport{Proxy: http.ProxyFromEnvironment,
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	if wrapCLITransport != nil {
		hc.Transport = wrapCLITransport(cmp.Or(hc.Transport, http.DefaultTransport))
	}
	cl, err := client.New(c.server, client.WithToken(strings.TrimSpace(secret)), client.WithHTTPClient(hc),
		client.WithUserAgent("chronicle-cli/"+buildinfo.Read().Version))
	if err != nil {
		return nil, false, usagef("--server: %v", err)
	}
	return cl, c.output == "json", nil
}

// wrapCLITransport, if set, wraps the transport the API commands call
// nodes with (tests check every answer against the OpenAPI document).
var wrapCLITransport func(http.RoundTripper) http.RoundTripper

// readTokenFile reads a token from a file, surrounding whitespace ignored
// (an editor's newline). A file that cannot be read is a mistake of the
// command line (exit 2), like a bad flag.
func readTokenFile(what, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usagef("%s: %v", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", usagef("%s %s is empty", what, path)
	}
	return s, nil
}

// print writes v as indented JSON with -o json; otherwise the table.
// Every command prints one JSON document: the API's data, in the client
// package's structs, whose field order is fixed.
func (r *cmdRun) print(v any, table func(tw *tabwriter.Writer)) error {
	if r.json {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encode the answer: %w", err)
		}
		_, err = fmt.Fprintf(r.stdout, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(r.stdout, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// note writes a hint for people (the next page's token) to stderr in
// table mode, where it does not mix with the table a script may parse.
func (r *cmdRun) note(format string, args ...any) {
	if !r.json {
		fmt.Fprintf(r.stderr, format+"\n", args...)
	}
}

// groupUsage lists a group's commands.
func groupUsage(w io.Writer, group string, cmds []apiCommand) {
	fmt.Fprintf(w, "chronicle %s: %s\n\nCommands:\n", group, apiGroupSummary[group])
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range cmds {
		fmt.Fprintf(tw, "  chronicle %s %s %s\t%s\n", group, c.verb, c.args, c.summary)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nchronicle %s COMMAND -h shows a command's flags. Every command takes --server, --token or\n"+
		"--token-file, --tls-ca, -o table|json and --timeout. Exit status: 0 done, 1 refused by the server or not\n"+
		"reached, 2 a wrong command line.\n", group)
}

// commonFlagNames are shown apart from a command's own flags.
var commonFlagNames = map[string]bool{"server": true, "token": true, "token-file": true, "tls-ca": true, "o": true,
	"output": true, "timeout": true, "addr": true, "admin-token-file": true}

// commandUsage is a command's help: what it does, its own flags, then the
// common ones.
func commandUsage(w io.Writer, group string, cmd *apiCommand, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", strings.TrimSpace(fmt.Sprintf("chronicle %s %s [flags] %s", group, cmd.verb, cmd.args)), cmd.summary)
	if cmd.example != "" {
		fmt.Fprintf(w, "\nExample:\n  %s\n", strings.ReplaceAll(cmd.example, "\n", "\n  "))
	}
	var own, common []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if commonFlagNames[f.Name] {
			common = append(common, f)
		} else {
			own = append(own, f)
		}
	})
	printFlags := func(title string, flags []*flag.Flag) {
		if len(flags) == 0 {
			return
		}
		sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
		fmt.Fprintf(w, "\n%s:\n", title)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range flags {
			dash := "--"
			if len(f.Name) == 1 {
				dash = "-"
			}
			arg, usage := flag.UnquoteUsage(f)
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" && f.DefValue != "0s" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(tw, "  %s%s %s\t%s%s\n", dash, f.Name, arg, usage, def)
		}
		_ = tw.Flush()
	}
	printFlags("Flags", own)
	printFlags("Connection and output", common)
}

// timeText shows an epoch time for people; empty for none.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if t.Nanosecond() != 0 {
		return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return t.UTC().Format(time.RFC3339)
}

func unixText(sec int64) string {
	if sec == 0 {
		return ""
	}
	return timeText(time.Unix(sec, 0))
}

// orDash fills an empty table cell, so columns stay aligned for awk.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// stringList is a repeatable flag (--header, --label).
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
