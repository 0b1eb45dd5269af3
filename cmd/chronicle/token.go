package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/chronicle-sched/chronicle/client"
)

// token runs `chronicle token create|list|revoke` and returns its error,
// for the callers that had it before the token commands became an API
// command group like the others.
func token(args []string, stdout, stderr io.Writer) error {
	_, err := runGroup("token", args, os.Stdin, stdout, stderr)
	return err
}

// tokenCommands: chronicle token create|list|revoke, with the admin token.
func tokenCommands() []apiCommand {
	return []apiCommand{
		{verb: "create", nargs: [2]int{0, 0},
			summary: "issue a token; its secret is shown this once (only its hash is kept)",
			example: "chronicle token create --token-file admin-token --name \"billing deploys\" --role writer --apps billing",
			setup: func(fs *flag.FlagSet) runFunc {
				name := fs.String("name", "", "what the token is for (shown in lists and the audit log; required)")
				role := fs.String("role", "writer", "admin, writer or reader")
				apps := fs.String("apps", "", "comma-separated apps the token is limited to (default: every app)")
				return func(ctx context.Context, r *cmdRun) error {
					if strings.TrimSpace(*name) == "" {
						return usagef("--name is required: say what the token is for")
					}
					req := client.CreateTokenRequest{Name: *name, Role: *role}
					for _, a := range strings.Split(*apps, ",") {
						if a = strings.TrimSpace(a); a != "" {
							req.Apps = append(req.Apps, a)
						}
					}
					out, err := r.c.CreateToken(ctx, req)
					if err != nil {
						return err
					}
					if err := r.print(out, func(tw *tabwriter.Writer) {
						fmt.Fprintf(tw, "id:\t%s\ntoken:\t%s\n", out.ID, out.Token)
					}); err != nil {
						return err
					}
					r.note("The token is shown this once: only its hash is kept.")
					return nil
				}
			}},
		{verb: "list", nargs: [2]int{0, 0},
			summary: "list the issued tokens, revoked ones included (never their secrets)",
			setup: func(fs *flag.FlagSet) runFunc {
				return func(ctx context.Context, r *cmdRun) error {
					list, err := r.c.Tokens(ctx)
					if err != nil {
						return err
					}
					if list == nil {
						list = []client.Token{}
					}
					return r.print(client.TokenList{Tokens: list}, func(tw *tabwriter.Writer) {
						fmt.Fprintln(tw, "ID\tNAME\tROLE\tAPPS\tISSUED\tBY\tREVOKED")
						for _, t := range list {
							scope := strings.Join(t.Apps, ",")
							if scope == "" {
								scope = "*"
							}
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, scope, t.IssuedAt, orDash(t.IssuedBy), orDash(t.RevokedAt))
						}
					})
				}
			}},
		{verb: "revoke", args: "ID", nargs: [2]int{1, 1},
			summary: "revoke a token, on every node (chronicle token list shows the ids)",
			setup: func(fs *flag.FlagSet) runFunc {
				return func(ctx context.Context, r *cmdRun) error {
					if err := r.c.RevokeToken(ctx, r.args[0]); err != nil {
						return err
					}
					return r.print(struct {
						Revoked string `json:"revoked"`
					}{r.args[0]}, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "revoked %s\n", r.args[0]) })
				}
			}},
	}
}
