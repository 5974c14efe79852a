# Caravan. 'make demo' and 'make test' are all the set-up a machine with Go needs.
GO      ?= go
BIN     := bin/caravan
PKGS    := ./...
FUZZTIME ?= 30s

.PHONY: all build test test-cluster cluster-servers bench-cluster demo console bench bench-smoke soak lint fuzz clean

all: build

# -buildvcs=auto stamps the commit (caravan version) wherever git is there,
# whatever GOFLAGS says.
build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/caravan

## test: vet, then every test with the race detector (tests skip PGO: it
## would rebuild every dependency once more; the binary keeps it). The
## console's browser tests need Debian's Chromium: without it they are
## skipped, with the line below, except under CI=true, where they fail.
## Their screenshots go to $(ARTIFACTS)/console.
ARTIFACTS ?= $(CURDIR)/artifacts
test:
	$(GO) vet $(PKGS)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  echo "make test: the console's browser tests are SKIPPED: no Chromium here (apt-get install chromium; under CI=true they fail instead)"
	CARAVAN_ARTIFACTS=$(ARTIFACTS) $(GO) test -race -pgo=off -count=1 $(PKGS)
	@echo "make test: the cluster tests (MariaDB and S3-compatible storage) are in make test-cluster"

## cluster-servers: install what the cluster tests run on, when missing:
## MariaDB (Debian's mariadb-server, with apt-get) and VersityGW, an
## S3-compatible server (Apache-2.0), built from the Go module proxy into
## bin/tools (about 2.5 minutes, once)
VERSITYGW ?= $(CURDIR)/bin/tools/versitygw
VERSITYGW_VERSION ?= v1.8.0
cluster-servers:
	@command -v mariadbd >/dev/null 2>&1 || test -x /usr/sbin/mariadbd || { \
	  echo "installing mariadb-server (apt-get)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server; \
	  else sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server; fi; }
	@test -x $(VERSITYGW) || { echo "building VersityGW $(VERSITYGW_VERSION) into bin/tools"; \
	  GOBIN=$(dir $(VERSITYGW)) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION); }

## test-cluster: the cluster-mode tests (build tag cluster, tests named
## TestCluster*) against real servers: MariaDB and VersityGW run on
## loopback ports in a temporary directory, removed afterwards
CLUSTER_PKGS ?= ./internal/clusterenv ./journal ./sharing/store/cluster ./sharing/fetch ./devnet
test-cluster: cluster-servers
	CARAVAN_VERSITYGW=$(VERSITYGW) $(GO) run ./internal/clusterenv/withservers -- \
	  $(GO) test -tags cluster -race -pgo=off -count=1 -run '^TestCluster' $(CLUSTER_PKGS)

## demo: a local consortium of three gateways on loopback, scripted and verified
demo: build
	@d=$$(mktemp -d); \
	if ./$(BIN) devnet --orgs 3 --scenario demo --dir $$d/net; then rm -rf $$d; \
	else echo "demo failed; gateway logs are kept in $$d/net"; exit 1; fi

## console: a consortium of three gateways with data to browse; prints each
## gateway's console address and a token, and runs until Ctrl-C
console: build
	@d=$$(mktemp -d); ./$(BIN) devnet --orgs 3 --scenario console --dir $$d/net; rm -rf $$d

## bench: Go benchmarks (publish pipeline, gossip delivery across 20
## gateways next to bare GossipSub, policy decisions, durable journal
## appends, inclusion proofs), the policy comparison
## with OPA (bench/, its own module: POLICY_RECORDS records on one core,
## Caravan memoized and direct next to OPA, decisions checked equal), then
## the footprint scenario (time to
## mesh, idle RSS), the publish-bench scenario (BENCH_RECORDS records
## of ~1 KiB through a gateway: records/s and peak RSS) and the fetch-bench
## scenario (FETCH_RECORDS records of ~1 KiB fetched gateway to gateway,
## each gateway its own process: records/s and each side's CPU time), and
## the hostile scenario (three members under attack by an outsider and a
## fourth member, next to the same figures calm)
BENCH_RECORDS ?= 1000000
FETCH_RECORDS ?= 50000
POLICY_RECORDS ?= 1000000
bench: build
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	cd bench && $(GO) vet ./... && $(GO) run ./policybench -records $(POLICY_RECORDS) -policies ../configs/policies
	@d=$$(mktemp -d); \
	if ./$(BIN) devnet --orgs 3 --scenario footprint --idle 30s --dir $$d/net; then rm -rf $$d; \
	else echo "footprint failed; gateway logs are kept in $$d/net"; exit 1; fi
	@d=$$(mktemp -d); \
	if ./$(BIN) devnet --orgs 1 --scenario publish-bench --records $(BENCH_RECORDS) --dir $$d/net; then rm -rf $$d; \
	else echo "publish-bench failed; gateway logs are kept in $$d/net"; exit 1; fi
	@d=$$(mktemp -d); \
	if ./$(BIN) devnet --orgs 2 --scenario fetch-bench --records $(FETCH_RECORDS) --dir $$d/net; then rm -rf $$d; \
	else echo "fetch-bench failed; gateway logs are kept in $$d/net"; exit 1; fi
	@d=$$(mktemp -d); \
	if ./$(BIN) devnet --orgs 4 --scenario hostile --dir $$d/net; then rm -rf $$d; \
	else echo "hostile failed; gateway logs are kept in $$d/net"; exit 1; fi
	$(MAKE) bench-cluster

## bench-cluster: the cluster mode's figures (make bench runs it): the
## cluster benchmarks against real servers (journal append latency, the
## store next to the embedded one), then the cluster scenario with
## CLUSTER_RECORDS records, next to the embedded backend in the same run
CLUSTER_RECORDS ?= 1000000
CLUSTER_BENCHTIME ?= 2000x
bench-cluster: build cluster-servers
	CARAVAN_VERSITYGW=$(VERSITYGW) $(GO) run ./internal/clusterenv/withservers -- \
	  $(GO) test -tags cluster -run '^$$' -bench Cluster -benchtime $(CLUSTER_BENCHTIME) ./journal ./sharing/store/cluster
	@d=$$(mktemp -d); \
	if CARAVAN_VERSITYGW=$(VERSITYGW) ./$(BIN) devnet --orgs 3 --scenario cluster --records $(CLUSTER_RECORDS) --dir $$d/net; then rm -rf $$d; \
	else echo "cluster failed; gateway logs are kept in $$d/net"; exit 1; fi

## bench-smoke: every Go benchmark once (-short), the OPA comparison and
## every bench scenario at a small size (--smoke): that each runs to its
## end, so that none can break unnoticed. CI runs it after make test. Its
## figures mean little; make bench takes the real ones.
SCENARIOS_SMOKE := footprint:3 publish-bench:1 fetch-bench:2 hostile:4
bench-smoke: build
	$(GO) test -run '^$$' -bench . -benchtime 1x -short -pgo=off $(PKGS)
	cd bench && $(GO) run ./policybench -records 20000 -policies ../configs/policies
	@set -e; for s in $(SCENARIOS_SMOKE); do \
	  name=$${s%%:*}; orgs=$${s##*:}; d=$$(mktemp -d); \
	  if ./$(BIN) devnet --orgs $$orgs --scenario $$name --smoke --records 2000 --idle 2s --dir $$d/net; then rm -rf $$d; \
	  else echo "bench-smoke: $$name failed; gateway logs are kept in $$d/net"; exit 1; fi; \
	done
	$(MAKE) bench-cluster CLUSTER_RECORDS=4000 CLUSTER_BENCHTIME=20x

## soak: the long runs that make test leaves out (CARAVAN_SOAK=1)
soak:
	CARAVAN_SOAK=1 $(GO) test -run 'Soak' -count=1 -timeout 30m ./...

## lint: gofmt, go vet, staticcheck (a pinned version, run with go run:
## nothing to install) and go mod tidy -diff, of both modules (the bench
## module is the one make bench runs); vet and staticcheck also with the
## cluster tests' build tag
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags cluster $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)
	$(GO) run $(STATICCHECK) -tags cluster $(PKGS)
	$(GO) mod tidy -diff
	cd bench && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./... && $(GO) mod tidy -diff

## fuzz: run each fuzz target for FUZZTIME
fuzz:
	$(GO) test ./consortium -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./internal/jcs -run '^$$' -fuzz FuzzCanonicalize -fuzztime $(FUZZTIME)
	$(GO) test ./internal/jcs -run '^$$' -fuzz FuzzParseValue -fuzztime $(FUZZTIME)
	$(GO) test ./internal/jcs -run '^$$' -fuzz FuzzShortDecimal -fuzztime $(FUZZTIME)
	$(GO) test ./sharing/manifest -run '^$$' -fuzz FuzzDecodeStatement -fuzztime $(FUZZTIME)
	$(GO) test ./sharing/manifest -run '^$$' -fuzz FuzzBodyDecoder -fuzztime $(FUZZTIME)
	$(GO) test ./sharing/manifest -run '^$$' -fuzz FuzzDecodeRegistration -fuzztime $(FUZZTIME)
	$(GO) test ./schemas -run '^$$' -fuzz FuzzCompiledAgrees -fuzztime $(FUZZTIME)
	$(GO) test ./schemas -run '^$$' -fuzz 'FuzzCompile$$' -fuzztime $(FUZZTIME)
	$(GO) test ./schemas -run '^$$' -fuzz FuzzCanonicalAgrees -fuzztime $(FUZZTIME)
	$(GO) test ./schemas -run '^$$' -fuzz FuzzParseInstant -fuzztime $(FUZZTIME)
	$(GO) test ./policy -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME)
	$(GO) test ./journal -run '^$$' -fuzz FuzzDecodeEvent -fuzztime $(FUZZTIME)
	$(GO) test ./journal -run '^$$' -fuzz FuzzCheckpointAndProof -fuzztime $(FUZZTIME)
	$(GO) test ./sharing/fetch -run '^$$' -fuzz FuzzDecodeFetchFrame -fuzztime $(FUZZTIME)

clean:
	rm -rf bin
