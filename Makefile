# Chronicle. `make run` starts a single node with data in ./data; `make test`
# runs every test (race detector on, as CI does).
GO       ?= go
BIN      ?= ./bin/chronicle
PKGS     := ./...
# Packages where concurrency lives get the race detector.
RACE_PKGS := ./actors/... ./cluster/... ./raftfsm/... ./http/... ./cmd/... ./projections/...
PLAIN_PKGS := ./eventlog/... ./internal/...
# The bench suite's smoke profile (seconds) keeps the bench code from rotting.
BENCH_SMOKE := ./bench/...

.PHONY: build run cluster test vet chromium screenshot bench bench-full bench-micro bench-failover bench-replay fuzz chaos soak clean

# The binary names its commit (chronicle --version, GET /cluster) where git
# can say it; VERSION=v1.2.3 stamps a release's version.
VERSION ?=
build:
	$(GO) build -buildvcs=auto $(if $(VERSION),-ldflags "-X github.com/chronicle-sched/chronicle/internal/buildinfo.Stamped=$(VERSION)") -o $(BIN) ./cmd/chronicle

run: build
	$(BIN) serve --data-dir ./data

# A local three-node cluster: HTTP on 127.0.0.1:8081-8083, Raft on
# 127.0.0.1:7001-7003, data in ./cluster-data/n1..n3 (apart from the single
# node's ./data). Ctrl-C or SIGTERM stops all three. The children's pids
# are kept in a variable: a non-interactive dash (Debian's /bin/sh) has no
# job table for `jobs -p` to read in a trap.
CLUSTER_DIR  ?= ./cluster-data
CLUSTER_HTTP ?= 127.0.0.1:808
CLUSTER_RAFT ?= 127.0.0.1:700
cluster: build
	@echo "n1..n3 on http://$(CLUSTER_HTTP)1, $(CLUSTER_HTTP)2, $(CLUSTER_HTTP)3 (any node takes writes); Ctrl-C stops them"
	@pids=""; trap 'kill $$pids 2>/dev/null; wait; exit 0' INT TERM; \
	peers="n1=$(CLUSTER_RAFT)1,n2=$(CLUSTER_RAFT)2,n3=$(CLUSTER_RAFT)3"; \
	for i in 1 2 3; do \
	  $(BIN) serve --data-dir $(CLUSTER_DIR)/n$$i --http-addr $(CLUSTER_HTTP)$$i --raft-addr $(CLUSTER_RAFT)$$i \
	    --node-id n$$i --peers $$peers & pids="$$pids $$!"; \
	done; wait

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

# The console's tests (cmd/chronicle/console_test.go) drive a headless
# Chromium: installed from Debian's packages where it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "installing chromium for the console tests"; \
	  $$sudo apt-get update -q && $$sudo apt-get install -y -q --no-install-recommends chromium; }

# A screenshot of a cron's page in the console, for the README: the
# console test with its screenshot on (docs/console.png, committed).
screenshot: chromium
	CHRONICLE_CONSOLE_SCREENSHOT=$(CURDIR)/docs/console.png $(GO) test -count=1 -run 'TestConsoleDrivesSchedules$$' ./cmd/chronicle/

test: vet chromium
	GORACE=halt_on_error=1 $(GO) test -race -count=1 -timeout 14m $(RACE_PKGS)
	$(GO) test -count=1 -timeout 10m $(PLAIN_PKGS) $(BENCH_SMOKE)

# The fault-injection suite (bench/chaos): a three-node cluster of the
# real binary under a seeded schedule of kills, pauses, partitions, one-way
# blocks, slow links and leadership transfers, with a workload and checks.
# CHAOS_SECONDS per run, CHAOS_RUNS runs (seeds CHAOS_SEED, +1, ...; a
# seed from the clock if unset). make test runs a 40 s run on a fixed seed.
CHAOS_SECONDS ?= 300
CHAOS_RUNS    ?= 1
CHAOS_SEED    ?= 0
chaos: build
	$(GO) run ./bench/chaos/cmd -seconds $(CHAOS_SECONDS) -runs $(CHAOS_RUNS) -seed $(CHAOS_SEED)

# The soak profile (bench/soak): one node at a steady mix (SOAK_RATE
# runs/s created and fired, a cron, reads) for SOAK_MINUTES, reporting RSS,
# heap, goroutines, open files, data dir and lateness every minute, and
# flagging any series still growing over the last third. Run by hand.
SOAK_MINUTES ?= 60
SOAK_RATE    ?= 1000
soak: build
	$(GO) run ./bench/soak -minutes $(SOAK_MINUTES) -rate $(SOAK_RATE)

# Short fuzzing sessions of the input parsers (not part of make test).
fuzz:
	$(GO) test -run=XXX -fuzz=FuzzParse -fuzztime=60s ./internal/cronspec/
	$(GO) test -run=XXX -fuzz=FuzzDecodeLog -fuzztime=30s ./raftfsm/raftstore/
	$(GO) test -run=XXX -fuzz=FuzzDecodeCommand -fuzztime=30s ./raftfsm/
	$(GO) test -run=XXX -fuzz=FuzzForwardedBatch -fuzztime=60s ./cluster/
	$(GO) test -run=XXX -fuzz=FuzzDecode -fuzztime=30s ./eventlog/event/
	$(GO) test -run=XXX -fuzz=FuzzCreateSchedule -fuzztime=60s ./cmd/chronicle/

# Failover of a three-node cluster of the real binary: p50/max over trials,
# result in bench/results/failover.json.
bench-failover: build
	$(GO) run ./bench/failover -trials 5

# Replay speed of `chronicle replay` on a 1M-event log, against the ceiling
# of reading and decoding that log; result in bench/results/replay.json.
bench-replay: build
	$(GO) run ./bench/replay -events 1000000

# The end-to-end suite against the real binary, each figure beside a
# ceiling measured in the same run: quick profile (< 10 min on 2 cores),
# then the packages' micro-benchmarks. Results in bench/results/.
bench: build
	$(GO) run ./bench/suite -profile quick
	$(MAKE) bench-micro

# The large profile: 5,000 runs/s for 20 s, 1M pending, 5 failover trials,
# 1M-event replay.
bench-full: build
	$(GO) run ./bench/suite -profile full

bench-micro:
	$(GO) test -run=XXX -bench=. -benchtime=2x $(PKGS)

clean:
	rm -rf bin
