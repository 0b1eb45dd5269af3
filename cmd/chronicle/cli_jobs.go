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
							fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Status, j.InitializedBy, j.CreatedAt, dash(j.StartedAt), dash(j.EndedAt))
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
					for flagName, list := range map[string]string{"enable": *enable, "disable": *disable} {
						for _, s := range strings.Split(list, ",") {
							if s = strings.TrimSpace(s); s == "" {
								continue
							}
							id, err := strconv.Atoi(s)
							if err != nil {
								return usagef("--%s: %q is not a task id", flagName, s)
							}
							req.Tasks = append(req.Tasks, client.TaskActive{ID: id, Active: flagName == "enable"})
						}
					}
					j, err := r.c.RunJob(ctx, r.args[0], req)
					if err != nil {
						return err
					}
					return printJob(r, j)
				}
			}},
		{verb: "get", args: "JOB", nargs: [2]int{1, 1},
			summary: "show a job and each task's outcome",
			setup: func(fs *flag.FlagSet) runFunc {
				return func(ctx context.Context, r *cmdRun) error {
					id, err := jobID(r.args[0])
					if err != nil {
						return err
					}
					j, err := r.c.Job(ctx, id)
					if err != nil {
						return err
					}
					return printJob(r, j)
				}
			}},
		{verb: "cancel", args: "JOB", nargs: [2]int{1, 1},
			summary: "cancel a waiting job (409 once it started)",
			setup: func(fs *flag.FlagSet) runFunc {
				return func(ctx context.Context, r *cmdRun) error {
					id, err := jobID(r.args[0])
					if err != nil {
						return err
					}
					j, err := r.c.CancelJob(ctx, id)
					if err != nil {
						return err
					}
					return printJob(r, j)
				}
			}},
	}
}

func jobID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, usagef("%q is not a job id (a positive number)", s)
	}
	return id, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printJob shows a job: its fields, then a line per task.
func printJob(r *cmdRun, j client.Job) error {
	return r.print(j, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "JOB\t%d\nSCHEDULE\t%s\nSTATUS\t%s\nBY\t%s\nCREATED\t%s\nSTARTED\t%s\nENDED\t%s\n\n",
			j.ID, j.ScheduleID, j.Status, j.InitializedBy, j.CreatedAt, dash(j.StartedAt), dash(j.EndedAt))
		fmt.Fprintln(tw, "TASK\tPHASE\tSTATUS\tATTEMPTS\tTARGET\tRESPONSE")
		for _, t := range j.Tasks {
			target := t.URL
			if target == "" {
				target = t.Component + "/" + t.Action
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", t.ID, dash(t.Phase), t.Status, t.Attempts, target, clipLine(string(t.Response), 80))
		}
	})
}

// clipLine is s on one line, at most n bytes.
func clipLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return dash(s)
}
