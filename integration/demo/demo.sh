#!/usr/bin/env bash
# make demo: the whole system on embedded defaults, on loopback, in a few
# minutes: a GCS emulator, a collector (bbolt under demo-out/), three agents
# each wrapping the simulated sglang-jax server with different labels (demo-c's
# server is 40 % slower on attention), a fleet capture with the seed's
# /v1/score workload (1 warm-up, 2 profiled), analysis by plugin processes, the
# fleet report with demo-c flagged, the backup to the emulator, then demo-a's
# server restarted slower and a second capture of it, which the collector
# reports as a regression. Everything it starts is stopped at the end;
# DEMO_KEEP=1 keeps the collector, its web UI, the agents and their servers
# running until Ctrl-C (which then ends the demo with status 0).
# The collector's address is written to $DEMO_OUT/env (default demo-out/env)
# as `export FLEETPROF_COLLECTOR=…`; the fleetprof CLI run from the checkout
# finds it there while the demo runs. DEMO_BIN picks the binaries (default bin/).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=${DEMO_OUT:-demo-out}
seed=../shared/testdata/seed-run/inputs
bin=${DEMO_BIN:-$root/bin}
rm -rf "$out"
mkdir -p "$out"/logs
out=$(cd "$out" && pwd)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -f "$out"/env
}
trap cleanup EXIT
keeping=0
# Ctrl-C while DEMO_KEEP=1 keeps the system up is how the demo is meant to
# end: exit 0 so make does not report an error.
trap 'if [ "$keeping" = 1 ]; then exit 0; fi; exit 130' INT TERM

# free_port VAR sets VAR to a loopback port nobody listens on and no earlier
# call handed out (the processes start listening only later). It is taken
# below the kernel's ephemeral range, so that no outgoing connection can
# take it in between (seen with two test suites at once).
used=" "
eph_low=32768
read -r eph_low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
[ "$eph_low" -gt 12000 ] 2>/dev/null || eph_low=32768
free_port() {
  local p
  while :; do
    p=$((10000 + RANDOM % (eph_low - 10000)))
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
  local until=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$until" ]; do
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
{
  echo "export FLEETPROF_COLLECTOR=$FLEETPROF_COLLECTOR"
  echo "export FLEETPROF_WEB=http://127.0.0.1:$http/"
} >"$out"/env
echo "export FLEETPROF_COLLECTOR=$FLEETPROF_COLLECTOR   # also in $out/env"

# start_agent NAME ZONE SERVER_PORT AGENT_PORT [simserver flags...] starts
# agent demo-NAME wrapping a simulated server; its pid goes in agent_pid_NAME.
start_agent() {
  local name=$1 zone=$2 sp=$3 ap=$4
  shift 4
  "$bin"/fleetprof-agent --collector 127.0.0.1:"$grpc" --insecure --id demo-"$name" --host t1v-n-demo"$name"-w-0 \
    --label model=qwen3 --label zone="$zone" --work-dir "$out"/agent-"$name" \
    --http 127.0.0.1:"$ap" --attach http://127.0.0.1:"$sp" \
    --wrap -- "$bin"/fleetprof-simserver --port "$sp" --hostname t1v-n-demo"$name"-w-0 "$@" \
    >>"$out"/logs/agent-"$name".log 2>&1 &
  pids+=($!)
  printf -v "agent_pid_$name" '%s' "$!"
}
# wait_agents N waits until N agents are connected with a healthy server,
# for up to 120 s (a loaded machine starts three servers slowly).
wait_agents() {
  local until=$((SECONDS + 120)) n=0
  while [ "$SECONDS" -lt "$until" ]; do
    n=$("$bin"/fleetprof agents --selector model=qwen3 --format json 2>/dev/null | grep -c '"server_healthy": *true' || true)
    [ "$n" -ge "$1" ] && return 0
    sleep 0.2
  done
  echo "demo: only $n of $1 agents are ready after 120 s; see $out/logs" >&2
  return 1
}
# wait_analyzed waits until every capture is analyzed.
wait_analyzed() {
  local want done_n
  want=$("$bin"/fleetprof captures --format json | grep -c '"capture_id"' || true)
  local until=$((SECONDS + 120))
  while [ "$SECONDS" -lt "$until" ]; do
    done_n=$("$bin"/fleetprof captures --format json | grep -cE '"status": *"(analyzed|analysis_failed)"' || true)
    [ "$done_n" -ge "$want" ] && return 0
    sleep 0.2
  done
}

for a in a:us-east5-b b:us-east5-c c:us-east5-a; do
  name=${a%%:*}; zone=${a#*:}; free_port sp; free_port ap
  slow=()
  if [ "$name" = c ]; then slow=(--slowdown attention=1.4); fi
  step "agent demo-$name (zone=$zone) wrapping the simulated sglang-jax server on :$sp ${slow[*]}"
  start_agent "$name" "$zone" "$sp" "$ap" "${slow[@]}"
  printf -v "ports_$name" '%s %s' "$sp" "$ap"
done

step "waiting for the three agents to register"
wait_agents 3
"$bin"/fleetprof agents

# capture SELECTOR runs a fleet capture with the seed run's workload and
# sets fleet_id.
capture() {
  local res
  res=$("$bin"/fleetprof capture --selector "$1" --duration 2s --python-tracer-level 1 \
    --workload-body "$seed"/score_request.json --workload-endpoint /v1/score --warmups 1 --requests 2 \
    --wait --format json)
  fleet_id=$(printf '%s' "$res" | sed -n 's/^ *"fleet_id": *"\([^"]*\)".*/\1/p' | head -1)
}

step "fleet capture on model=qwen3: 1 warm-up + 2 profiled /v1/score requests (the seed run's workload)"
capture model=qwen3
first_fleet=$fleet_id
echo "fleet capture $first_fleet"

step "captures"
"$bin"/fleetprof captures

step "reports (analysed by plugin processes on arrival)"
ids=$("$bin"/fleetprof captures --format json | sed -n 's/.*"capture_id": *"\([^"]*\)".*/\1/p')
wait_analyzed
for id in $ids; do
  "$bin"/fleetprof report "$id" --format md -o "$out"/reports/"$id" >/dev/null
  "$bin"/fleetprof report "$id" --format html -o "$out"/reports/"$id" >/dev/null
  "$bin"/fleetprof report "$id" --format json -o "$out"/reports/"$id" >/dev/null
  "$bin"/fleetprof export "$id" -o "$out"/reports/"$id"/trace.json.gz >/dev/null
done
"$bin"/fleetprof summary

step "fleet report: demo-c (attention 40 % slower) is the outlier"
for _ in $(seq 1 100); do
  [ "$("$bin"/fleetprof fleet "$first_fleet" --format json 2>/dev/null | grep -c '"agent_id"' || true)" -ge 3 ] && break
  sleep 0.2
done
"$bin"/fleetprof fleet "$first_fleet"
"$bin"/fleetprof fleet "$first_fleet" --format json >"$out"/fleet.json
"$bin"/fleetprof fleet "$first_fleet" --format md -o "$out"/fleet >/dev/null 2>&1
echo "fleet report: $out/fleet/fleet.md  json: $out/fleet.json  page: http://127.0.0.1:$http/fleets/$first_fleet"

step "demo-a's server restarted 50 % slower on attention, then a second capture of demo-a"
kill -TERM "$agent_pid_a"
wait "$agent_pid_a" 2>/dev/null || true
read -r sp ap <<<"$ports_a"
start_agent a us-east5-b "$sp" "$ap" --slowdown attention=1.5
wait_agents 3
capture zone=us-east5-b
wait_analyzed
for _ in $(seq 1 100); do
  "$bin"/fleetprof regressions --format json | grep -q '"capture_id"' && break
  sleep 0.2
done

step "regressions: demo-a against its baseline (its earlier capture with the same options)"
"$bin"/fleetprof regressions
"$bin"/fleetprof regressions --format json >"$out"/regressions.json
echo "regressions: $out/regressions.json  page: http://127.0.0.1:$http/regressions"

step "backup to the GCS emulator"
for _ in $(seq 1 100); do
  "$bin"/fleetprof captures --format json | grep -q '"backup_status": *"done"' && \
    ! "$bin"/fleetprof captures --format json | grep -q '"backup_status": *"pending"' && break
  sleep 0.2
done
find "$out"/gcs -name checksums.txt | sed "s|^$root/||" | head
echo "summary rows for analytics engines (docs/fleet.md):"
find "$out"/gcs -path '*summaries*' -name '*.ndjson' | sed "s|^$root/||" | head

step "done"
for id in $ids; do echo "report: $out/reports/$id/report.md   page: $out/reports/$id/report.html"; done
echo "trimmed traces: $out/reports/*/trace.json.gz (open in https://ui.perfetto.dev)"
echo "logs: $out/logs/"
if [ "${DEMO_KEEP:-0}" = 1 ]; then
  echo
  echo "web UI: http://127.0.0.1:$http/   (the collector, the agents and their servers stay up)"
  echo "export FLEETPROF_COLLECTOR=$FLEETPROF_COLLECTOR   # or run bin/fleetprof from this folder: it reads $out/env"
  echo "Ctrl-C stops everything"
  keeping=1
  wait "${pids[1]}" || true
fi
