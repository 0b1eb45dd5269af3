// Command dumplog prints the stored events of a stopped node's data dir,
// oldest first, one per line in hex, exactly as the state store holds
// them: how the golden logs of ../ were taken from a real node.
//
//	go run ./projections/testdata/dumplog DATA_DIR > projections/testdata/NAME.hex
package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/chronicle-sched/chronicle/eventlog"
	"github.com/chronicle-sched/chronicle/raftfsm"
	"github.com/cockroachdb/pebble/v2"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dumplog DATA_DIR")
		os.Exit(2)
	}
	if err := dump(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "dumplog:", err)
		os.Exit(1)
	}
}

func dump(dir string) error {
	db, err := raftfsm.OpenState(dir, true, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	defer db.Close()
	last, err := eventlog.LastSeq(db)
	if err != nil {
		return err
	}
	for seq := uint64(1); seq <= last; seq++ {
		v, closer, err := db.Get(eventlog.Key(seq))
		if errors.Is(err, pebble.ErrNotFound) {
			continue // compacted by retention
		}
		if err != nil {
			return fmt.Errorf("event %d: %w", seq, err)
		}
		fmt.Println(hex.EncodeToString(v))
		closer.Close()
	}
	return nil
}
