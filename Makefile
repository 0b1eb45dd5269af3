# Chronicle. `make run` starts a single node with data in ./data; `make test`
# runs every test (race detector on, as CI does).
GO       ?= go
BIN      := bin/chronicle
PKGS     := ./...
# Packages where concurrency lives get the race detector.
RACE_PKGS := ./actors/... ./raftfsm/... ./http/... ./cmd/...
PLAIN_PKGS := ./eventlog/... ./projections/...

.PHONY: build run test vet bench fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/chronicle

run: build
	./$(BIN) serve --data-dir ./data

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

test: vet
	GORACE=halt_on_error=1 $(GO) test -race -count=1 -timeout 14m $(RACE_PKGS)
	$(GO) test -count=1 -timeout 10m $(PLAIN_PKGS)

# Short fuzzing sessions of the input parsers (not part of make test).
fuzz:
	$(GO) test -run=XXX -fuzz=FuzzParse -fuzztime=60s ./actors/cronspec/
	$(GO) test -run=XXX -fuzz=FuzzDecodeLog -fuzztime=30s ./raftfsm/raftstore/
	$(GO) test -run=XXX -fuzz=FuzzCreateSchedule -fuzztime=60s ./cmd/chronicle/

# Micro-benchmarks of the packages (the end-to-end bench/ suite is issue 5).
bench:
	$(GO) test -run=XXX -bench=. -benchtime=2x $(PKGS)

clean:
	rm -rf bin
