package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/chronicle-sched/chronicle/raftfsm"
)

// recoverCluster rewrites a stopped node's Raft configuration offline
// (raftfsm.Recover): the way back for a cluster that lost its quorum.
func recoverCluster(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("recover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./data", "data dir of a stopped node")
	nodeID := fs.String("node-id", "node1", "this node's id (as it was started with)")
	peers := fs.String("peers", "", "the voters of the new configuration, id=host:port,... (this node among them)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: chronicle recover --data-dir DIR --node-id ID --peers id=host:port[,...]

Rewrites the Raft configuration of a stopped node to the voters given, for
a cluster that lost its quorum and cannot elect a leader. Every entry of
the node's log is applied, including any the lost quorum never committed.
Then start the node: alone in --peers it leads at once; run the same
recover on each surviving node to form a smaller cluster of them, and add
new members with POST /cluster/members.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	list, err := parsePeers(*peers)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := raftfsm.Recover(*dataDir, *nodeID, list, logger); err != nil {
		return err
	}
	names := make([]string, len(list))
	for i, p := range list {
		names[i] = p.ID + "=" + p.Addr
	}
	fmt.Fprintf(stdout, "recovered %s: its Raft configuration is now %s; start it (and each node recovered with it)\n",
		*dataDir, strings.Join(names, ","))
	return nil
}
