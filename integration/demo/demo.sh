#!/usr/bin/env bash
# make demo: the whole system on embedded defaults, on loopback, in a few
# minutes: a GCS emulator, a collector (bbolt under demo-out/), two agents each
# wrapping the simulated sglang-jax server with different labels, a fleet
# capture with the seed's /v1/score workload (1 warm-up, 2 profiled), analysis
# by plugin processes, the backup to the emulator, and a summary. Everything
# it starts is stopped at the end; DEMO_KEEP=1 keeps the collector and its web
# UI running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=${DEMO_OUT:-demo-out}
seed=../shared/testdata/seed-run/inputs
bin=$root/bin
rm -rf "$out"
mkdir -p "$out"/logs
out=$(cd "$out" && pwd)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port VAR sets VAR to a loopback port nobody listens on and no earlier
# call handed out (the processes start listening only later).
used=" "
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    case "$used" in *" $p "*) continue ;; esac
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
      used="$used$p "
      printf -v "$1" '%s' "$p"
      return
    fi
  done
}
# wait_http waits until a URL answers 200.
wait_http() {
  for _ in $(seq 1 200); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "demo: nothing listens on port $1; see $out/logs" >&2
  return 1
}
step() { printf '\n== %s\n' "$*"; }

free_port grpc; free_port http; free_port gcs
export FLEETPROF_COLLECTOR=127.0.0.1:$grpc

step "GCS emulator on 127.0.0.1:$gcs (objects in $out/gcs)"
"$bin"/fleetprof-gcsemu --addr 127.0.0.1:"$gcs" --root "$out"/gcs --bucket fleetprof-demo >"$out"/logs/gcs.log 2>&1 &
pids+=($!)
wait_http "$gcs"

step "collector: gRPC 127.0.0.1:$grpc, web UI http://127.0.0.1:$http, bbolt in $out/collector"
"$bin"/fleetprof-collector --insecure --listen 127.0.0.1:"$grpc" --http 127.0.0.1:"$http" \
  --data "$out"/collector --plugins "$bin"/plugins \
  --gcs-endpoint http://127.0.0.1:"$gcs" --gcs-bucket fleetprof-demo --gcs-prefix demo \
  >"$out"/logs/collector.log 2>&1 &
pids+=($!)
wait_http "$grpc"

for a in a:us-east5-b b:us-east5-c; do
  name=${a%%:*}; zone=${a#*:}; free_port sp; free_port ap
  step "agent demo-$name (zone=$zone) wrapping the simulated sglang-jax server on :$sp"
  "$bin"/fleetprof-agent --collector 127.0.0.1:"$grpc" --insecure --id demo-"$name" \
    --label model=qwen3 --label zone="$zone" --spool "$out"/agent-"$name"/spool \
    --http 127.0.0.1:"$ap" --attach http://127.0.0.1:"$sp" \
    --wrap -- "$bin"/fleetprof-simserver --port "$sp" --hostname t1v-n-demo"$name"-w-0 \
    >"$out"/logs/agent-"$name".log 2>&1 &
  pids+=($!)
done

step "waiting for both agents to register"
for _ in $(seq 1 150); do
  n=$("$bin"/fleetprof agents --selector model=qwen3 --format json 2>/dev/null | grep -c '"agent_id"' || true)
  [ "$n" -ge 2 ] && break
  sleep 0.2
done
"$bin"/fleetprof agents

step "fleet capture on model=qwen3: 1 warm-up + 2 profiled /v1/score requests (the seed run's workload)"
"$bin"/fleetprof capture --selector model=qwen3 --duration 2s --python-tracer-level 1 \
  --workload-body "$seed"/score_request.json --workload-endpoint /v1/score --warmups 1 --requests 2 --wait

step "captures"
"$bin"/fleetprof captures

step "reports (analysed by plugin processes on arrival)"
ids=$("$bin"/fleetprof captures --format json | sed -n 's/.*"capture_id": *"\([^"]*\)".*/\1/p')
want=$(echo "$ids" | wc -w)
for _ in $(seq 1 300); do
  done_n=$("$bin"/fleetprof captures --format json | grep -cE '"status": *"(analyzed|analysis_failed)"' || true)
  [ "$done_n" -ge "$want" ] && break
  sleep 0.2
done
for id in $ids; do
  "$bin"/fleetprof report "$id" --format md -o "$out"/reports/"$id" >/dev/null
  "$bin"/fleetprof report "$id" --format html -o "$out"/reports/"$id" >/dev/null
  "$bin"/fleetprof report "$id" --format json -o "$out"/reports/"$id" >/dev/null
  "$bin"/fleetprof export "$id" -o "$out"/reports/"$id"/trace.json.gz >/dev/null
done
"$bin"/fleetprof summary

step "backup to the GCS emulator"
for _ in $(seq 1 100); do
  "$bin"/fleetprof captures --format json | grep -q '"backup_status": *"done"' && \
    ! "$bin"/fleetprof captures --format json | grep -q '"backup_status": *"pending"' && break
  sleep 0.2
done
find "$out"/gcs -name checksums.txt | sed "s|^$root/||" | head

step "done"
for id in $ids; do echo "report: $out/reports/$id/report.md   page: $out/reports/$id/report.html"; done
echo "trimmed traces: $out/reports/*/trace.json.gz (open in https://ui.perfetto.dev)"
echo "logs: $out/logs/"
if [ "${DEMO_KEEP:-0}" = 1 ]; then
  echo
  echo "web UI: http://127.0.0.1:$http/   (collector $FLEETPROF_COLLECTOR; Ctrl-C stops everything)"
  wait "${pids[1]}"
fi
