package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/chronicle-sched/chronicle/client"
)

// chronicle jobs list|run|get|cancel: a workflow schedule's jobs.

func jobsCommands() []apiCommand {
	return []apiCommand{
		{verb: "list", args: "SCHEDULE-ID", nargs: [2]int{1, 1},
			summary: "list a workflow schedule's jobs, newest first",
			setup: func(fs *flag.FlagSet) runFunc {
				var q client.JobsQuery
				fs.IntVar(&q.Size, "size", 0, "jobs per page, 1 to 1000 (default: the server's, 100)")
				fs.IntVar(&q.Offset, "offset", 0, "jobs skipped, newest first")
				return func(ctx context.Context, r *cmdRun) error {
					if q.Size < 0 || q.Size > 1000 || q.Offset < 0 {
						return usagef("--size must be from 1 to 1000 and --offset not negative")
					}
					list, err := r.c.Jobs(ctx, r.args[0], q)
					if err != nil {
						return err
					}
					return r.print(list, func(tw *tabwriter.Writer) {
						fmt.Fprintln(tw, "JOB\tSTATUS\tBY\tCREATED\tSTARTED\tENDED")
						for _, j := range list.Jobs {
							fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Status, j.InitializedBy, j.CreatedAt, orDash(j.StartedAt), orDash(j.EndedAt))
						}
					})
				}
			}},
		{verb: "run", args: "SCHEDULE-ID", nargs: [2]int{1, 1},
			summary: "run a workflow schedule now: a job that waits its turn (409 when one waits already)",
			example: "chronicle jobs run ID --enable 5 --disable 2    # tasks 5 and 2 run, or not, for this job only",
			setup: func(fs *flag.FlagSet) runFunc {
				enable := fs.String("enable", "", "comma-separated task ids that run in this job although inactive")
				disable := fs.String("disable", "", "comma-separated task ids that do not run in this job")
				return func(ctx context.Context, r *cmdRun) error {
					var req client.RunJobRequest
					// enable's first, then disable's: a task in both is disabled.
					for _, f := range [...]struct{ name, list string }{{"enable", *enable}, {"disable", *disable}} {
						for _, s := range strings.Split(f.list, ",") {
							if s = strings.TrimSpace(s); s == "" {
								continue
							}
							id, err := strconv.Atoi(s)
							if err != nil {
								return usagef("--%s: %q is not a task id", f.name, s)
							}
							req.Tasks = append(req.Tasks, client.TaskActive{ID: id, Active: f.name == "enable"})
						}
					}
					j, err := r.c.RunJob(ctx, r.args[0], req)
					if err != nil {
						return err
					}
					return printJob(r, j)
				}
			}},
		jobStep("get", "show a job and each task's outcome", (*client.Client).Job),
		jobStep("cancel", "cancel a waiting job (409 once it started)", (*client.Client).CancelJob),
	}
}

// jobStep is a verb that calls the API on one job and shows it.
func jobStep(verb, summary string, call func(*client.Client, context.Context, uint64) (client.Job, error)) apiCommand {
	return apiCommand{verb: verb, args: "JOB", nargs: [2]int{1, 1}, summary: summary,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, r *cmdRun) error {
				id, err := jobID(r.args[0])
				if err != nil {
					return err
				}
				j, err := call(r.c, ctx, id)
				if err != nil {
					return err
				}
				return printJob(r, j)
			}
		}}
}

func jobID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, usagef("%q is not a job id (a positive number)", s)
	}
	return id, nil
}

// printJob shows a job: its fields, then a line per task.
func printJob(r *cmdRun, j client.Job) error {
	return r.print(j, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "JOB\t%d\nSCHEDULE\t%s\nSTATUS\t%s\nBY\t%s\nCREATED\t%s\nSTARTED\t%s\nENDED\t%s\n\n",
			j.ID, j.ScheduleID, j.Status, j.InitializedBy, j.CreatedAt, orDash(j.StartedAt), orDash(j.EndedAt))
		fmt.Fprintln(tw, "TASK\tPHASE\tSTATUS\tATTEMPTS\tTARGET\tRESPONSE")
		for _, t := range j.Tasks {
			target := t.URL
			if target == "" {
				target = t.Component + "/" + t.Action
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", t.ID, orDash(t.Phase), t.Status, t.Attempts, target, orDash(clip(string(t.Response), 80)))
		}
	})
}
