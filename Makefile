# Tenancy: `make build`, `make run`, `make test`. See README.md.
SHELL := /bin/bash
GO ?= go
OCB_VERSION := v0.165.0
TOOLS := $(CURDIR)/.tools/bin
OCB := $(TOOLS)/builder
COLLECTOR := bin/otelcol-tenancy
CTL := bin/tenancyctl
# The data sets the benchmarks and evaluations read: the repository's own
# copies with their licences (testdata/README.md); override to use another.
NAB_DIR ?= testdata/nab
PII_DIR ?= testdata/pii
# Short fuzz runs in `make test`; raise for a real fuzzing session. A
# count, not a duration: with a duration, go1.26's fuzz coordinator can
# report "context deadline exceeded" as a failure when the time runs out
# mid-call (golang/go#75804, fixed in go1.27), which turned CI red once.
# 20000 runs take 1-11 s per target here. New coverage is minimized for at
# most 50 runs, else a short run spends most of its time minimizing.
FUZZTIME ?= 20000x

GO_SOURCES := $(shell find . -name '*.go' -not -path './build/*' -not -path './.tools/*') go.mod go.sum

.PHONY: build run run-scaleout bench-scaleout bench-e2e test test-unit test-e2e fuzz bench bench-noisy bench-deadneighbour bench-tenant bench-anomaly eval-redaction bench-redaction bench-retention tools peers clean check-versions dashboards bench-rowdigests drill-continuity

# Real peers the tests start as processes (docs/peers.md); Debian's
# prometheus comes from .ci/run.
TELEMETRYGEN := $(TOOLS)/telemetrygen
VICTORIALOGS := $(TOOLS)/victoria-logs
CORTEX := $(TOOLS)/cortex
KFAKE := $(TOOLS)/kfake
export PATH := $(TOOLS):$(PATH)

build: $(COLLECTOR) $(CTL)

$(OCB):
	GOBIN=$(TOOLS) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)

tools: $(OCB)

$(TELEMETRYGEN):
	GOBIN=$(TOOLS) $(GO) install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v0.161.0

$(VICTORIALOGS):
	GOBIN=$(TOOLS) $(GO) install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1

# Cortex v1.21.1 has replace lines, so no plain go install: the script
# builds it in a throwaway module (a few minutes cold, 142 MB).
$(CORTEX): hack/build-cortex.sh
	GO=$(GO) ./hack/build-cortex.sh $(CORTEX)

# The Kafka test peer: franz-go's kfake, from go.mod, as its own process.
$(KFAKE): hack/kfake/main.go go.mod go.sum
	CGO_ENABLED=0 $(GO) build -o $(KFAKE) ./hack/kfake

peers: $(TELEMETRYGEN) $(VICTORIALOGS) $(CORTEX) $(KFAKE)

$(COLLECTOR): $(OCB) builder-config.yaml $(GO_SOURCES)
	@mkdir -p build bin
	$(OCB) --config builder-config.yaml
	cp build/otelcol-tenancy/otelcol-tenancy $(COLLECTOR).tmp && mv -f $(COLLECTOR).tmp $(COLLECTOR)

$(CTL): $(GO_SOURCES)
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -o $(CTL).tmp ./cmd/tenancyctl && mv -f $(CTL).tmp $(CTL)

# The demo secrets only make `make run` work out of the box; a real
# deployment sets its own (openssl rand -hex 32) and keeps them out of the
# config file. The demo master key is hex of "demo-master-key-change-me-000001".
DEMO_MASTER_KEY := 64656d6f2d6d61737465722d6b65792d6368616e67652d6d652d303030303031
run: build
	@mkdir -p data/tenants
	@if [ -z "$$TENANCY_FINGERPRINT_SECRET" ]; then echo "make run: TENANCY_FINGERPRINT_SECRET is not set: using the demo fingerprint secret; set your own for real use" >&2; fi
	@if [ -z "$$TENANCY_MASTER_KEY" ]; then echo "make run: TENANCY_MASTER_KEY is not set: using the demo master key; set your own (openssl rand -hex 32) for real use" >&2; fi
	TENANCY_POLICY=$${TENANCY_POLICY:-config/tenants.yaml} \
	TENANCY_DATA_DIR=$${TENANCY_DATA_DIR:-data/tenants} \
	TENANCY_FINGERPRINT_SECRET=$${TENANCY_FINGERPRINT_SECRET:-demo-fingerprint-secret-change-me} \
	TENANCY_MASTER_KEY=$${TENANCY_MASTER_KEY:-$(DEMO_MASTER_KEY)} \
	./$(COLLECTOR) --config config/quickstart.yaml

# The two tiers on this machine (README, "Running more than one
# collector"): kfake on 127.0.0.1:9092, two edge and two processing
# collectors, all stopped by Ctrl-C.
run-scaleout: build $(KFAKE)
	@if [ -z "$$TENANCY_FINGERPRINT_SECRET" ]; then echo "make run-scaleout: TENANCY_FINGERPRINT_SECRET is not set: using the demo fingerprint secret" >&2; fi
	@if [ -z "$$TENANCY_MASTER_KEY" ]; then echo "make run-scaleout: TENANCY_MASTER_KEY is not set: using the demo master key" >&2; fi
	TENANCY_FINGERPRINT_SECRET=$${TENANCY_FINGERPRINT_SECRET:-demo-fingerprint-secret-change-me} \
	TENANCY_MASTER_KEY=$${TENANCY_MASTER_KEY:-$(DEMO_MASTER_KEY)} \
	KFAKE=$(KFAKE) COLLECTOR=$(COLLECTOR) ./hack/run-scaleout.sh

# The Kafka hop's cost: CPU-seconds per record through one collector and
# through edge -> kfake -> processing (README, "Running more than one
# collector"). A measurement, kept out of make test by its build tag.
bench-scaleout: build $(KFAKE)
	set -o pipefail; TENANCY_COLLECTOR=$(CURDIR)/$(COLLECTOR) $(GO) test -tags scaleoutbench -count=1 -v -run '^TestBenchScaleOut$$' ./test/e2e/ | grep -E 'records|collector|edge|processing|broker|^(ok|FAIL|---)'

# End-to-end cost (docs/benchmarks.md): records per collector CPU-second
# and peak RSS of the built collector for the pass-through floor and
# Tenancy's pipelines (otlphttp and local store backends, clean and dirty
# loads, 10 to 10,000 tenants, the quickstart), each as a ratio to the
# mean of the floor runs just before and just after it; telemetrygen
# drives it (5 rounds, 8 minutes alone on 2 cores). A measurement,
# kept out of make test by its build tag; BENCH_E2E_* tune it (the test's
# comment); the whole output, with any failure's, is in bench-e2e.out.
bench-e2e: build $(TELEMETRYGEN)
	set -o pipefail; TENANCY_COLLECTOR=$(CURDIR)/$(COLLECTOR) $(GO) test -tags benche2e -count=1 -v -timeout 60m -run '^TestBenchE2E$$' ./test/e2e/ | tee bench-e2e.out | grep -E 'round|records|pipeline|target|^(ok|FAIL|---)|\|'

# Every collector module at one release: core v0.165.0, stable v1.71.0,
# contrib v0.165.1.
check-versions:
	@bad=$$(grep -E 'go.opentelemetry.io/collector|opentelemetry-collector-contrib' go.mod | grep -vE 'v0\.165\.[01]|v1\.71\.0'); \
	if [ -n "$$bad" ]; then echo "collector modules off the release:"; echo "$$bad"; exit 1; fi

test: check-versions build peers test-unit fuzz test-e2e

test-unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /test/e2e)
	$(GO) test -count=1 -timeout 20m -run TestHostileInputIsolation ./test/isolation/
	# allocation bounds, which the race detector's own allocations would break
	$(GO) test -count=1 -run 'Allocate' ./processor/tenantredactprocessor/

test-e2e: build
	TENANCY_COLLECTOR=$(CURDIR)/$(COLLECTOR) $(GO) test -count=1 -v -timeout 15m ./test/e2e/...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./internal/policy
	$(GO) test -run '^$$' -fuzz '^FuzzValidateTenantID$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./internal/policy
	$(GO) test -run '^$$' -fuzz '^FuzzOTLPJSON$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./receiver/tenantgatewayreceiver
	$(GO) test -run '^$$' -fuzz '^FuzzLokiProto$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./receiver/tenantgatewayreceiver
	$(GO) test -run '^$$' -fuzz '^FuzzLokiJSON$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./receiver/tenantgatewayreceiver
	$(GO) test -run '^$$' -fuzz '^FuzzRemoteWrite$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./receiver/tenantgatewayreceiver
	$(GO) test -run '^$$' -fuzz '^FuzzProtoCost$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./receiver/tenantgatewayreceiver
	$(GO) test -run '^$$' -fuzz '^FuzzMatcher$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./internal/redact
	$(GO) test -run '^$$' -fuzz '^FuzzUnescape$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./internal/redact
	$(GO) test -run '^$$' -fuzz '^FuzzRedactString$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./internal/redact
	$(GO) test -run '^$$' -fuzz '^FuzzScan$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./internal/redact
	$(GO) test -run '^$$' -fuzz '^FuzzEncodeMap$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./internal/localstore

BENCHSTAT := $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# Every comparison benchmark: the tenant, redaction and retention
# processors, each against its baseline in the same run.
bench: bench-tenant bench-redaction bench-retention bench-noisy bench-deadneighbour

# The local store's ingest with and without the row digests the audit
# chain covers the data rows with (benchstat -col /digests), six runs.
bench-rowdigests:
	$(GO) test -run '^$$' -bench 'BenchmarkRowDigests$$' -benchmem -count 6 ./internal/localstore/ | tee bench-rowdigests.out
	$(BENCHSTAT) -col /digests bench-rowdigests.out

# Continuity drill: fill a 1 GiB tenant, back it up online, restore it
# into an empty store and verify it; prints the RTO and the backup
# interval the RPO needs, against RPO and RTO (a tier's continuity).
# DRILL_POLICY and DRILL_TENANT take the targets from a policy's
# continuity instead.
DRILL_SIZE ?= 1073741824
DRILL_RPO ?= 1h
DRILL_RTO ?= 15m
drill-continuity:
	$(GO) run ./hack/continuitydrill -size $(DRILL_SIZE) -rpo $(DRILL_RPO) -rto $(DRILL_RTO) $(if $(DRILL_POLICY),-policy $(DRILL_POLICY) -tenant $(DRILL_TENANT))

# One tenant's request latency with its neighbour quiet and flooding at
# 10x its limit, side by side (benchstat -col /neighbour), six runs each.
bench-noisy:
	$(GO) test -run '^$$' -bench 'BenchmarkNoisyNeighbour$$' -count 6 ./receiver/tenantgatewayreceiver/ | tee bench-noisy.out
	$(BENCHSTAT) -col /neighbour bench-noisy.out

# globex's delivery latency through the router alone and while acme's
# backend hangs on every request (acme's queue fills, then refuses).
bench-deadneighbour:
	$(GO) test -run '^$$' -bench 'BenchmarkHealthyTenantBesideDeadOne$$' -count 6 ./exporter/tenantrouterexporter/ | tee bench-deadneighbour.out
	$(BENCHSTAT) -col /neighbour bench-deadneighbour.out

# The retention processor at 10 and 10,000 tenants beside a bare pass that
# reads each resource's tenant and each record's timestamp.
bench-retention:
	$(GO) test -run '^$$' -bench 'BenchmarkRetention$$' -benchmem -count 6 ./processor/tenantretentionprocessor/ | tee bench-retention.out
	$(BENCHSTAT) -col /impl bench-retention.out

# The tenant processor at 10 and 10,000 tenants beside the bare pass, side
# by side (benchstat -col /pass), six runs each.
bench-tenant:
	$(GO) test -run '^$$' -bench 'BenchmarkTenantProcessor$$' -benchmem -count 6 ./processor/tenantprocessor/ | tee bench.out
	$(BENCHSTAT) -col /pass bench.out

# The anomaly detector on NAB v1.1, scored as NAB scores, beside NAB's
# published scoreboard, with per-category scores in sample and
# leave-one-category-out (about 20 s).
bench-anomaly:
	$(GO) run ./cmd/nabbench -data $(NAB_DIR)

# Redaction detectors on Presidio's synthetic PII set (recall/precision per
# class) and on leaky-repo (finds/175, false positives, as its benchmark.py
# scores tools).
eval-redaction:
	$(GO) run ./cmd/redacteval -data $(PII_DIR)

# Redaction per record at 10 to 10,000 tenants: ours, contrib's redaction
# processor (a regex per tenant identifier plus e-mail and card, and the two
# PII regexes alone) and a bare pass, in one run (benchstat -col /impl).
# Contrib at 10,000 tenants takes about a minute per batch, so this runs for
# about ten minutes. cpu-ns/record is the redacting thread's CPU time (wall
# time on a shared machine also counts other jobs). Then the automaton's
# size and build time for 10,000 tenants with four identifiers each, and
# clean records with and without 100 tenant-defined rules. Then the
# end-to-end benchmark's dirty load (every record with a foreign domain and
# an e-mail address) beside its clean twin (benchstat -col /load).
bench-redaction:
	$(GO) test -run '^$$' -bench 'BenchmarkLogRedaction$$' -benchmem -count 6 -timeout 60m ./processor/tenantredactprocessor/ | tee bench-redaction.out
	$(BENCHSTAT) -col /impl bench-redaction.out
	$(GO) test -run 'TestAutomatonSize$$' -v ./internal/redact/ | grep states
	$(GO) test -run '^$$' -bench 'BenchmarkTenantRules$$' -benchmem -count 6 ./internal/redact/ | tee bench-rules.out
	$(BENCHSTAT) -col /impl bench-rules.out
	$(GO) test -run '^$$' -bench 'BenchmarkLogRedactionDirty$$' -benchmem -count 6 ./processor/tenantredactprocessor/ | tee bench-redaction-dirty.out
	$(BENCHSTAT) -col /load bench-redaction-dirty.out

# The dashboards and alert rules are Go code (package dashboards); this
# writes their JSON and YAML, which are committed, and a test fails when
# they differ from what the code generates.
dashboards:
	$(GO) run ./dashboards/gen -out dashboards

clean:
	rm -rf bin build
