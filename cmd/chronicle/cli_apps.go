package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/chronicle-sched/chronicle/client"
)

// chronicle apps register|list|activate|deactivate|events|secret|bulk-action

func appsCommands() []apiCommand {
	return []apiCommand{
		{verb: "register", args: "APP", nargs: [2]int{1, 1},
			summary: "register an app (its schedules are created under it)",
			setup: func(fs *flag.FlagSet) runFunc {
				partitions := fs.Int("partitions", 0, "partitions of the app's runs (0: the server's --default-partitions)")
				inactive := fs.Bool("inactive", false, "register it deactivated: no creates and no firing until activated")
				return func(ctx context.Context, r *cmdRun) error {
					if *partitions < 0 {
						return usagef("--partitions must not be negative")
					}
					active := !*inactive
					app, err := r.c.RegisterApp(ctx, client.RegisterAppRequest{AppID: r.args[0], Partitions: *partitions, Active: &active})
					if err != nil {
						return err
					}
					return r.print(app, func(tw *tabwriter.Writer) { appsTable(tw, []client.App{app}) })
				}
			}},
		{verb: "list", nargs: [2]int{0, 0},
			summary: "list the apps (those the token may see)",
			setup: func(fs *flag.FlagSet) runFunc {
				app := fs.String("app", "", "only this app (an error if it is not registered)")
				return func(ctx context.Context, r *cmdRun) error {
					list, err := r.c.Apps(ctx, *app)
					if err != nil {
						return err
					}
					if list.Apps == nil {
						list.Apps = []client.App{}
					}
					return r.print(list, func(tw *tabwriter.Writer) { appsTable(tw, list.Apps) })
				}
			}},
		appActivation("activate", "let the app's schedules be created and fire again", (*client.Client).ActivateApp),
		appActivation("deactivate", "stop the app: no creates and no firing until it is activated", (*client.Client).DeactivateApp),
		{verb: "secret", args: "APP", nargs: [2]int{1, 1},
			summary: "the secret the app's receivers verify callback signatures with (--rotate: a new one)",
			setup: func(fs *flag.FlagSet) runFunc {
				rotate := fs.Bool("rotate", false, "give the app a new secret; the previous one still signs for the server's grace period")
				return func(ctx context.Context, r *cmdRun) error {
					get := (*client.Client).AppSigningSecret
					if *rotate {
						get = (*client.Client).RotateSigningSecret
					}
					s, err := get(r.c, ctx, r.args[0])
					if err != nil {
						return err
					}
					return r.print(s, func(tw *tabwriter.Writer) {
						fmt.Fprintf(tw, "SECRET\t%s\n", s.Secret)
						if s.PreviousValidUntil != "" {
							fmt.Fprintf(tw, "PREVIOUS VALID UNTIL\t%s\n", s.PreviousValidUntil)
						}
					})
				}
			}},
		{verb: "bulk-action", args: "APP delete|reconcile", nargs: [2]int{2, 2},
			summary: "delete, or fire again (reconcile), the app's schedules due in a range, in one event",
			example: "chronicle apps bulk-action billing reconcile --status FAILURE --from 2026-12-01T00:00:00Z --to 2026-12-07T00:00:00Z\n" +
				"  chronicle apps bulk-action billing delete --status SCHEDULED --from ... --to ... --yes",
			setup: func(fs *flag.FlagSet) runFunc {
				window := rangeFlags(fs)
				status := fs.String("status", "", "only schedules in this status (SCHEDULED, SUCCESS, FAILURE, MISS, ...)")
				yes := fs.Bool("yes", false, "delete without asking: required for delete, which cannot be undone")
				return func(ctx context.Context, r *cmdRun) error {
					action := strings.ToLower(r.args[1])
					switch {
					case action != "delete" && action != "reconcile":
						return usagef("the action is delete or reconcile, not %q", r.args[1])
					case action == "delete" && !*yes:
						return usagef("delete removes every matching schedule for good: add --yes")
					}
					q := client.BulkActionQuery{Status: strings.ToUpper(*status)}
					var err error
					if q.Start, q.End, err = window.read(r.now()); err != nil {
						return err
					}
					out, err := r.c.BulkAction(ctx, r.args[0], action, q)
					if err != nil {
						return err
					}
					return r.print(out, func(tw *tabwriter.Writer) {
						fmt.Fprintln(tw, "ACTION\tAFFECTED")
						fmt.Fprintf(tw, "%s\t%d\n", out.Action, out.Affected)
					})
				}
			}},
		{verb: "events", args: "APP", nargs: [2]int{1, 1},
			summary: "the app's history, oldest first: its registration, activations and its schedules' events",
			setup: func(fs *flag.FlagSet) runFunc {
				q := eventsFlags(fs)
				return func(ctx context.Context, r *cmdRun) error {
					page, err := r.c.AppEvents(ctx, r.args[0], *q)
					if err != nil {
						return err
					}
					return printEvents(r, page)
				}
			}},
	}
}

func appActivation(verb, summary string, call func(*client.Client, context.Context, string) (client.AppActivation, error)) apiCommand {
	return apiCommand{verb: verb, args: "APP", nargs: [2]int{1, 1}, summary: summary,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, r *cmdRun) error {
				out, err := call(r.c, ctx, r.args[0])
				if err != nil {
					return err
				}
				return r.print(out, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "APP\tACTIVE")
					fmt.Fprintf(tw, "%s\t%t\n", out.AppID, out.Active)
				})
			}
		}}
}

func appsTable(tw *tabwriter.Writer, apps []client.App) {
	fmt.Fprintln(tw, "APP\tPARTITIONS\tACTIVE")
	for _, a := range apps {
		fmt.Fprintf(tw, "%s\t%d\t%t\n", a.AppID, a.Partitions, a.Active)
	}
}

// eventsFlags are the paging flags of a history.
func eventsFlags(fs *flag.FlagSet) *client.EventsQuery {
	q := &client.EventsQuery{}
	fs.Uint64Var(&q.After, "after", 0, "events after this seq (the previous page's next)")
	fs.IntVar(&q.Size, "size", 0, "events per page, 1 to 1000 (default: the server's, 100)")
	return q
}

func printEvents(r *cmdRun, page client.EventPage) error {
	if page.Events == nil {
		page.Events = []client.Event{}
	}
	err := r.print(page, func(tw *tabwriter.Writer) {
		fmt.Fprintln(tw, "SEQ\tTIME\tTYPE\tACTOR\tNODE\tTERM")
		for _, e := range page.Events {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\n", e.Seq, e.Time, e.Type, orDash(e.Actor), e.Node, e.Term)
		}
	})
	if err == nil && page.More {
		r.note("more: add --after %d", page.Next)
	}
	return err
}
