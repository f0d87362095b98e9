#!/usr/bin/env bash
# The collector's load test: one fleetprof-collector (built-in analyzers on,
# fsync on, loopback, plain text) holding AGENTS simulated agents with
# heartbeats while bursts of BURST concurrent ~1 MB uploads arrive, for
# DURATION. Prints a Markdown table (see BENCHMARKS.md, "Collector load").
#
#   bash integration/bench/load.sh                  # 2,000 agents, 2 minutes
#   DURATION=20s AGENTS=200 bash integration/bench/load.sh   # a quick look
#
# Needs `make build` first (bin/fleetprof-collector, bin/fleetprof-gen,
# bin/fleetprof, bin/plugins). Exits non-zero if any capture was lost or
# duplicated or any upload failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
AGENTS=${AGENTS:-2000}
BURST=${BURST:-50}
DURATION=${DURATION:-2m}
INTERVAL=${INTERVAL:-5s}
HEARTBEAT=${HEARTBEAT:-5s}
PLUGINS=${PLUGINS:-bin/plugins}
OUT=${OUT:-bench-out/load}

rm -rf "$OUT" && mkdir -p "$OUT"
go build -o "$OUT/loadgen" ./integration/bench/loadgen

# A realistic capture of about 1 MB: a generated single-device profile,
# trimmed to its busy windows.
bin/fleetprof-gen -q -o "$OUT/gen.xplane.pb" -events 60000 -devices 1 -bursts 5 -seed 7
bin/fleetprof trim -q "$OUT/gen.xplane.pb" -o "$OUT/capture.fpcap"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
GRPC=127.0.0.1:$(port)
HTTP=127.0.0.1:$(port)
bin/fleetprof-collector --data "$OUT/data" --insecure --listen "$GRPC" --http "$HTTP" \
  --heartbeat "$HEARTBEAT" --plugins "$PLUGINS" --snapshot-interval 0 --log-level warn \
  2>"$OUT/collector.log" &
COLLECTOR=$!
trap 'kill $COLLECTOR 2>/dev/null; wait $COLLECTOR 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/${GRPC%:*}/${GRPC#*:}") 2>/dev/null && break
  sleep 0.1
done

echo "collector load: $AGENTS agents (heartbeat $HEARTBEAT), bursts of $BURST uploads every $INTERVAL, for $DURATION; $(nproc) cores" >&2
echo "| measure | value |"
echo "|---|---|"
"$OUT/loadgen" --collector "$GRPC" --collector-pid "$COLLECTOR" --agents "$AGENTS" --burst "$BURST" \
  --burst-interval "$INTERVAL" --duration "$DURATION" --capture "$OUT/capture.fpcap"
curl -s "http://$HTTP/metrics" | grep -E '^fleetprof_collector_(agents_connected|ingest_captures_total|ingest_rejected_total|ingest_commit_seconds_(sum|count))' >"$OUT/metrics.txt" || true
