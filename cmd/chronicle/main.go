// Command chronicle runs the Chronicle scheduler.
//
//	chronicle serve --data-dir DIR --http-addr HOST:PORT --raft-addr HOST:PORT --node-id ID [--peers id=host:port,...]
//	chronicle replay --data-dir DIR [--into DIR2] [--json]
//	chronicle audit --data-dir DIR [--app] [--json] ID
//	chronicle recover --data-dir DIR --node-id ID --peers id=host:port,...
//	chronicle apps register|list|activate|deactivate|events [--server URL] [--token T] [-o table|json]
//	chronicle schedules create|get|list|update|pause|resume|trigger|cancel|output|delete|runs|events [...]
//	chronicle jobs list|run|get|cancel [...]
//	chronicle cluster status|add|remove|transfer [...]
//	chronicle token create|list|revoke [--server URL] [--token-file F] [--tls-ca F]
//	chronicle version (or --version)
//
// This is the only package that knows every layer: it opens the Raft node
// and state store, builds the actors on top, and serves HTTP.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/chronicle-sched/chronicle/internal/buildinfo"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		tameMalloc(30 * time.Second)
		err = serve(os.Args[2:])
	case "replay":
		err = replay(os.Args[2:], os.Stdout, os.Stderr)
	case "audit":
		err = audit(os.Args[2:], os.Stdout, os.Stderr)
	case "recover":
		err = recoverCluster(os.Args[2:], os.Stdout, os.Stderr)
	case "apps", "schedules", "jobs", "cluster", "token":
		// The API commands write their own one-line error and choose
		// the exit status (2 for a wrong command line).
		os.Exit(runAPICommand(os.Args[1], os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	case "version", "--version", "-version":
		fmt.Println(buildinfo.Read())
		return
	case "help", "-h", "--help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "chronicle: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "chronicle %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `Chronicle: a highly available HTTP job scheduler.

Usage:
  chronicle serve [flags]    run a node (see chronicle serve -h)
  chronicle replay [flags]   rebuild every projection from the event log and
                             compare with the stored ones (stopped node)
  chronicle audit [flags] ID print a schedule's, run's or app's history (stopped node)
  chronicle recover [flags]  rewrite a stopped node's Raft configuration, for a
                             cluster that lost its quorum (see chronicle recover -h)

API commands, against any node of a running cluster (--server URL, default
http://127.0.0.1:8080 or CHRONICLE_SERVER; --token or --token-file, or
CHRONICLE_TOKEN; --tls-ca; -o table|json):
  chronicle apps register|list|activate|deactivate|events
  chronicle schedules create|get|list|update|pause|resume|trigger|cancel|output|delete|runs|events
  chronicle jobs list|run|get|cancel
  chronicle cluster status|add|remove|transfer
  chronicle token create|list|revoke
                             (chronicle schedules -h lists a group's commands,
                             chronicle schedules create -h a command's flags)

  chronicle version          print the build (also --version)
`)
}
