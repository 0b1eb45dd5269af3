package main

import (
	"io"
	"os"
)

// token manages API tokens on a running node, over its API, with the
// admin token (chronicle token create|list|revoke): the API command group
// "token" (cli_cluster.go), kept as a function that returns the error for
// the callers that had it.
func token(args []string, stdout, stderr io.Writer) error {
	_, err := runGroup("token", args, os.Stdin, stdout, stderr)
	return err
}
