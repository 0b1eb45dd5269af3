// Command chronicle runs the Chronicle scheduler.
//
//	chronicle serve --data-dir DIR --http-addr HOST:PORT --raft-addr HOST:PORT --node-id ID [--peers id=host:port,...]
//
// This is the only package that knows every layer: it opens the Raft node
// and state store, builds the actors on top, and serves HTTP.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "help", "-h", "--help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "chronicle: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "chronicle: %v\n", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `Chronicle: a highly available HTTP job scheduler.

Usage:
  chronicle serve [flags]   run a node (see chronicle serve -h)
`)
}
