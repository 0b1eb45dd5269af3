package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A three-node cluster runs each command run once, on the leader (its
// working directory is under the leader's data dir); after the leader is
// killed during a run, the next leader records that run FAILURE
// ("interrupted") and the job's next run happens.
func TestKarajoCommandJobsInACluster(t *testing.T) {
	shared := t.TempDir()
	conf := filepath.Join(shared, "karajo.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`
[karajo]
dir_base = %[1]s
max_job_running = 2

[job "tick"]
interval = 1s
command = echo "$KARAJO_JOB_COUNTER $(pwd)" >> %[1]s/ticks

[job "long"]
interval = 2s
command = echo "$KARAJO_JOB_COUNTER $(pwd)" >> %[1]s/long
command = sleep 30
`, shared)), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := makeCluster(t, 3, clusterOpts{child: true, extra: []string{"--karajo-config", conf}})
	leader, followers := leaderAndFollowers(t, nodes)
	read := func(name string) [][2]string {
		b, _ := os.ReadFile(filepath.Join(shared, name))
		var out [][2]string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.Fields(l); len(f) == 2 {
				out = append(out, [2]string{f[0], f[1]})
			}
		}
		return out
	}
	waitFor(t, 20*time.Second, "ticks and a long run", func() bool { return len(read("ticks")) >= 3 && len(read("long")) >= 1 })
	ranOn := func(dir string) string {
		for _, n := range nodes {
			if strings.HasPrefix(dir, n.cfg.dataDir+string(filepath.Separator)) {
				return n.cfg.nodeID
			}
		}
		return "nowhere"
	}
	for _, r := range append(read("ticks"), read("long")...) {
		if on := ranOn(r[1]); on != leader.cfg.nodeID {
			t.Fatalf("run %s ran in %s (%s), not on the leader %s", r[0], r[1], on, leader.cfg.nodeID)
		}
	}

	// Kill the leader while "long" sleeps.
	killedRun := read("long")[len(read("long"))-1][0]
	leader.kill9()
	newLeader, _ := leaderAndFollowers(t, followers)
	ids := newLeader.karajoSchedules()
	waitFor(t, 30*time.Second, "the interrupted run recorded and the next one begun", func() bool {
		runs := decodeData[struct{ Schedules []lifeSchedule }](t,
			newLeader.must(200, "GET", "/goscheduler/schedules/"+ids["job/long"]+"/runs?size=50", nil)).Schedules
		interrupted := false
		for _, r := range runs {
			if fmt.Sprint(r.Counter) == killedRun {
				if r.Status == "FAILURE" && strings.Contains(r.ErrorMessage, "interrupted") {
					interrupted = true
				} else if r.Status != "SCHEDULED" {
					t.Fatalf("the killed leader's run %s is %s (%s), want FAILURE, interrupted", killedRun, r.Status, r.ErrorMessage)
				}
			}
		}
		after := false
		for _, r := range read("long") {
			after = after || ranOn(r[1]) == newLeader.cfg.nodeID
		}
		return interrupted && after
	})

	// Every tick ran once: no counter twice, each on the leader of its time.
	waitFor(t, 10*time.Second, "ticks on the new leader", func() bool {
		for _, r := range read("ticks") {
			if ranOn(r[1]) == newLeader.cfg.nodeID {
				return true
			}
		}
		return false
	})
	seen := map[string]string{}
	for _, r := range read("ticks") {
		if prev, dup := seen[r[0]]; dup {
			t.Fatalf("tick %s ran twice: in %s and %s", r[0], prev, r[1])
		}
		seen[r[0]] = r[1]
		if on := ranOn(r[1]); on != leader.cfg.nodeID && on != newLeader.cfg.nodeID {
			t.Fatalf("tick %s ran on %s, which never led", r[0], on)
		}
	}
}
