package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"text/tabwriter"

	"github.com/chronicle-sched/chronicle/client"
)

// chronicle cluster status|add|remove|transfer: every change answers with
// the cluster as it is after it, shown as status shows it.

func clusterCommands() []apiCommand {
	return []apiCommand{
		{verb: "status", nargs: [2]int{0, 0},
			summary: "the answering node's view of the cluster: leader, term, members and whether it reaches them",
			setup: func(fs *flag.FlagSet) runFunc {
				return func(ctx context.Context, r *cmdRun) error {
					st, err := r.c.ClusterStatus(ctx)
					if err != nil {
						return err
					}
					return printCluster(r, st)
				}
			}},
		{verb: "add", args: "ID HOST:PORT", nargs: [2]int{2, 2},
			summary: "add a member by its node id and Raft address (admin); start it with the others in --peers, not itself",
			example: "chronicle cluster add n4 10.0.0.4:7000",
			setup: func(fs *flag.FlagSet) runFunc {
				nonVoter := fs.Bool("non-voter", false, "add it as a non-voter (it replicates but does not vote)")
				force := fs.Bool("force", false, "add a voter at once even if the quorum cannot count on it yet")
				return func(ctx context.Context, r *cmdRun) error {
					if _, _, err := net.SplitHostPort(r.args[1]); err != nil {
						return usagef("the Raft address %q is not host:port", r.args[1])
					}
					voter := !*nonVoter
					st, err := r.c.AddMember(ctx, client.AddMemberRequest{ID: r.args[0], RaftAddress: r.args[1], Voter: &voter, Force: *force})
					if err != nil {
						return err
					}
					return printCluster(r, st)
				}
			}},
		{verb: "remove", args: "ID", nargs: [2]int{1, 1},
			summary: "remove a member (admin); refused if it would lose the quorum, unless --force",
			setup: func(fs *flag.FlagSet) runFunc {
				force := fs.Bool("force", false, "remove it even if the quorum is at risk")
				return func(ctx context.Context, r *cmdRun) error {
					st, err := r.c.RemoveMember(ctx, r.args[0], *force)
					if err != nil {
						return err
					}
					return printCluster(r, st)
				}
			}},
		{verb: "transfer", args: "[ID]", nargs: [2]int{0, 1},
			summary: "hand leadership to the member ID, or to any up-to-date voter (admin)",
			setup: func(fs *flag.FlagSet) runFunc {
				return func(ctx context.Context, r *cmdRun) error {
					id := ""
					if len(r.args) == 1 {
						id = r.args[0]
					}
					st, err := r.c.TransferLeadership(ctx, id)
					if err != nil {
						return err
					}
					return printCluster(r, st)
				}
			}},
	}
}

func printCluster(r *cmdRun, st client.ClusterStatus) error {
	return r.print(st, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "NODE\t%s (%s, build %s)\n", st.NodeID, st.State, st.Build.Version)
		fmt.Fprintf(tw, "LEADER\t%s\n", orDash(st.LeaderID))
		fmt.Fprintf(tw, "TERM\t%d\n", st.Term)
		fmt.Fprintf(tw, "APPLIED\t%d\n\n", st.AppliedIndex)
		fmt.Fprintln(tw, "MEMBER\tRAFT\tHTTP\tVOTER\tLEADER\tREACHABLE\tSCHEMA")
		for _, m := range st.Members {
			reach := "-"
			if m.Reachable != nil {
				reach = fmt.Sprint(*m.Reachable)
			}
			schema := "-"
			if m.EventSchema != 0 {
				schema = fmt.Sprint(m.EventSchema)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%t\t%s\t%s\n", m.ID, m.RaftAddress, orDash(m.HTTPAddress), m.Voter, m.Leader, reach, schema)
		}
	})
}
