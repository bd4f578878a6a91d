#!/usr/bin/env bash
# Runs the two-tier shape on this machine (README, "Running more than one
# collector"): the kfake broker on 127.0.0.1:9092, two edge collectors
# (OTLP on 4317/4318 and 4327/4328) and two processing collectors, until
# Ctrl-C, which stops them all. What `make run-scaleout` runs.
#
# Environment: TENANCY_POLICY (default config/tenants.yaml),
# TENANCY_FINGERPRINT_SECRET and TENANCY_MASTER_KEY (the Makefile passes
# the demo ones when unset), SCALEOUT_DIR (default data/scaleout: the
# broker's data, each processing instance's stores, each edge's
# journal).
set -euo pipefail
cd "$(dirname "$0")/.."
COLLECTOR=${COLLECTOR:-bin/otelcol-tenancy}
KFAKE=${KFAKE:-.tools/bin/kfake}
DIR=${SCALEOUT_DIR:-data/scaleout}
export TENANCY_POLICY=${TENANCY_POLICY:-config/tenants.yaml}
export TENANCY_KAFKA_BROKERS=127.0.0.1:9092
: "${TENANCY_FINGERPRINT_SECRET:?set it (make run-scaleout sets the demo one)}"
: "${TENANCY_MASTER_KEY:?set it (make run-scaleout sets the demo one)}"
mkdir -p "$DIR"

pids=()
stop() {
	trap - INT TERM EXIT
	# Collectors first, so they flush to a broker still up; then the broker.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	echo "run-scaleout: stopped" >&2
}
trap stop INT TERM EXIT

wait_ready() { # url name
	for _ in $(seq 1 150); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	echo "run-scaleout: $2 not ready at $1 (see $DIR/$2.log)" >&2
	exit 1
}

"$KFAKE" -listen 127.0.0.1:9092 -ready 127.0.0.1:9095 -data-dir "$DIR/kafka" >"$DIR/kafka.log" 2>&1 &
pids+=($!)
wait_ready http://127.0.0.1:9095/ready kafka

# Processing first: the group is there when the first records arrive.
for i in 1 2; do
	TENANCY_DATA_DIR="$DIR/processing$i/tenants" \
		TENANCY_HEALTH_ENDPOINT=127.0.0.1:1314$i TENANCY_METRICS_PORT=889$i \
		"$COLLECTOR" --config config/processing.yaml >"$DIR/processing$i.log" 2>&1 &
	pids+=($!)
	wait_ready "http://127.0.0.1:1314$i/" "processing$i"
done
for i in 1 2; do
	TENANCY_EDGE_STATE="$DIR/edge$i/state" TENANCY_HEALTH_ENDPOINT=127.0.0.1:1313$i \
		TENANCY_OTLP_GRPC_ENDPOINT=127.0.0.1:43${i}7 TENANCY_OTLP_HTTP_ENDPOINT=127.0.0.1:43${i}8 TENANCY_METRICS_PORT=888$i \
		"$COLLECTOR" --config config/edge.yaml >"$DIR/edge$i.log" 2>&1 &
	pids+=($!)
	wait_ready "http://127.0.0.1:1313$i/" "edge$i"
done
cat >&2 <<MSG
run-scaleout: broker 127.0.0.1:9092; edge OTLP on 127.0.0.1:4317/4318 and 127.0.0.1:4327/4328;
stores under $DIR/processing{1,2}/tenants (bin/tenancyctl query --data DIR --tenant T "SELECT ...");
logs in $DIR/*.log. Ctrl-C stops everything.
MSG
# Until Ctrl-C, a process of ours exits, or whoever started us (make) is
# gone: then the trap stops the rest.
parent=$PPID
while kill -0 "$parent" 2>/dev/null; do
	for p in "${pids[@]}"; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "run-scaleout: process $p exited; stopping the others" >&2
			exit 1
		fi
	done
	sleep 1
done
echo "run-scaleout: $parent is gone; stopping" >&2
