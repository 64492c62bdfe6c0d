# sessiond — see README.md. `make run` starts a node, `make test` runs every test.
GO        ?= go
BIN       := bin/sessiond
PORT      ?= 6379
DIR       ?= ./data
FUZZTIME  ?= 10s
# Debian packages the tests drive: redis-server (differential tests and
# benchmarks), redis-tools (redis-cli, redis-benchmark), python3-redis.
DEB_PKGS  := redis-server redis-tools python3-redis

.PHONY: all build run test unit fuzz vet fmt-check deps-check deps bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/sessiond

run: build
	mkdir -p $(DIR)
	./$(BIN) --port $(PORT) --bind 127.0.0.1 --dir $(DIR)

# deps installs the Debian packages the tests need, when missing.
deps:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="yes"; \
	command -v redis-benchmark >/dev/null 2>&1 || missing="yes"; \
	/usr/bin/python3 -c 'import redis' >/dev/null 2>&1 || missing="yes"; \
	if [ -n "$$missing" ]; then \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		echo "installing $(DEB_PKGS)"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_PKGS) >/dev/null; \
	fi

test: deps fmt-check vet deps-check unit fuzz

# unit runs every package's tests; on a failure it prints a summary last
# (.ci/failsummary: failed tests, a timeout's running tests, the stacks
# of goroutines blocked for minutes), as CI shows only a log's tail.
unit:
	@log=$$(mktemp); { $(GO) test -race -count=1 -timeout 15m ./...; echo $$? > $$log.rc; } 2>&1 | tee $$log; \
	rc=$$(cat $$log.rc); [ "$$rc" = 0 ] || .ci/failsummary $$log; rm -f $$log $$log.rc; exit $$rc

# fuzz runs each fuzz target briefly; the seed corpora also run in `unit`.
fuzz:
	GO=$(GO) .ci/fuzz ./server FuzzReader $(FUZZTIME)
	GO=$(GO) .ci/fuzz ./server FuzzCommands $(FUZZTIME)
	GO=$(GO) .ci/fuzz ./shard FuzzOps $(FUZZTIME)
	GO=$(GO) .ci/fuzz ./shard FuzzDecode $(FUZZTIME)
	GO=$(GO) .ci/fuzz ./shard FuzzSmallIntScore $(FUZZTIME)
	GO=$(GO) .ci/fuzz ./replication FuzzEntry $(FUZZTIME)

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# deps-check asserts the one direction of imports (see ARCHITECTURE.md):
# shard and ttl never import server or replication, replication never
# imports server or redcon, and each third-party library is imported by
# one package only.
deps-check:
	@$(GO) run ./internal/depscheck

# image builds a static binary and the FROM scratch image $(IMAGE)
# (Dockerfile); docker-compose.yml runs three of them as a cluster.
IMAGE ?= sessiond:local
.PHONY: image
image:
	CGO_ENABLED=0 $(GO) build -o bin/sessiond-static ./cmd/sessiond
	docker build -t $(IMAGE) .

# cluster starts a local three-node cluster (ports 7001-7003, data in
# ./cluster-data); cluster-stop stops it and keeps the data.
# CLUSTER_FLAGS="--cluster-enabled yes" starts it in cluster mode;
# CLUSTER_NODES=5 starts five nodes (7001-7005; each shard group then has
# three of them, --replicas).
.PHONY: cluster cluster-stop
cluster: build
	NODES="$(CLUSTER_NODES)" CLUSTER_FLAGS="$(CLUSTER_FLAGS)" ./scripts/cluster.sh start

cluster-stop:
	./scripts/cluster.sh stop

bench: build deps
	$(GO) run ./bench/cmd/sessiond-bench $(BENCHFLAGS)

# bench-repl: sessiond single node and 3-node cluster (Raft, everysec) vs
# redis-server with appendonly yes, appendfsync everysec (bench/README.md).
.PHONY: bench-repl
bench-repl: build deps
	$(GO) run ./bench/cmd/sessiond-bench -suite replication $(BENCHFLAGS)

# bench-cluster: 3-node sessiond cluster (cluster-enabled yes, --shards 3)
# vs 3-node Redis Cluster, both appendfsync everysec, with
# redis-benchmark --cluster (bench/README.md).
.PHONY: bench-cluster
bench-cluster: build deps
	$(GO) run ./bench/cmd/sessiond-bench -suite cluster $(BENCHFLAGS)

# bench-types: issue 5's workloads (ZADD, SADD, LPUSH, LPOP, an EVALSHA
# lock) on a single node and a 3-node cluster vs redis-server with the AOF.
.PHONY: bench-types
bench-types: build deps
	$(GO) run ./bench/cmd/sessiond-bench -suite replication -workloads ZADD,SADD,LPUSH,LPOP,LOCK $(BENCHFLAGS)

clean:
	rm -rf bin
