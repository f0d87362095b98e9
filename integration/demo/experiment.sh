#!/usr/bin/env bash
# make demo-experiment: an experiment on the simulated sglang-jax server, on
# loopback, in about half a minute once built: a collector (bbolt under
# demo-out/experiment/), one agent wrapping the simulated server, and
#   fleetprof experiment --vary input_len=128,512,2048 --vary batch=1,4
#       --endpoints /v1/score,/generate --wait
# with the seed run's /v1/score body: one capture per cell, each analysed
# (the requests section among them), then the scaling report: device time per
# request by component, the fits, charts of time against input length, score
# and generate side by side. It ends by comparing the fitted attention
# exponent with the simulated server's cost model (attention grows as L²,
# integration/internal/simserver/cost.go) and fails if they differ by more
# than 10 %. Everything it starts is stopped at the end; DEMO_KEEP=1 keeps the
# collector and its web UI running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=${DEMO_OUT:-demo-out}/experiment
seed=../shared/testdata/seed-run/inputs
bin=$root/bin
model_exponent=2 # simserver.AttentionExponent
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
# call handed out.
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
# wait_port waits until something listens on a loopback port.
wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "demo-experiment: nothing listens on port $1; see $out/logs" >&2
  return 1
}
step() { printf '\n== %s\n' "$*"; }

free_port grpc; free_port http; free_port sp; free_port ap
export FLEETPROF_COLLECTOR=127.0.0.1:$grpc

step "collector: gRPC 127.0.0.1:$grpc, web UI http://127.0.0.1:$http, bbolt in $out/collector"
"$bin"/fleetprof-collector --insecure --listen 127.0.0.1:"$grpc" --http 127.0.0.1:"$http" \
  --data "$out"/collector --plugins "$bin"/plugins >"$out"/logs/collector.log 2>&1 &
pids+=($!)
wait_port "$grpc"

step "agent demo-x wrapping the simulated sglang-jax server on :$sp (its kernels follow the cost model)"
"$bin"/fleetprof-agent --collector 127.0.0.1:"$grpc" --insecure --id demo-x \
  --label model=qwen3 --label demo=experiment --spool "$out"/agent/spool \
  --http 127.0.0.1:"$ap" --attach http://127.0.0.1:"$sp" \
  --wrap -- "$bin"/fleetprof-simserver --port "$sp" --hostname t1v-n-demox-w-0 \
  >>"$out"/logs/agent.log 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do
  "$bin"/fleetprof agents --selector demo=experiment --format json 2>/dev/null | grep -q '"server_healthy": *true' && break
  sleep 0.2
done
"$bin"/fleetprof agents --selector demo=experiment

step "experiment: input_len 128, 512, 2048 × batch 1, 4 on /v1/score and /generate, the seed's /v1/score body"
"$bin"/fleetprof experiment --selector demo=experiment --name "demo scaling" \
  --workload-body "$seed"/score_request.json \
  --vary input_len=128,512,2048 --vary batch=1,4 --endpoints /v1/score,/generate \
  --wait -o "$out"/report --report-format md | tee "$out"/experiment.txt
id=$("$bin"/fleetprof experiment list --format json | sed -n 's/.*"experiment_id": *"\([^"]*\)".*/\1/p' | head -1)
"$bin"/fleetprof experiment show "$id" --format json >"$out"/experiment.json
"$bin"/fleetprof experiment report "$id" --format html -o "$out"/report >/dev/null 2>&1

step "the fits recover the cost model: attention against input_len (model exponent $model_exponent)"
# The fits table: endpoint param fixed metric points slope intercept r2 exponent r2_log.
awk -v want="$model_exponent" '
  $2 == "input_len" && $4 == "component:attention" {
    n++; d = ($9 - want) / want; if (d < 0) d = -d
    printf "  %-10s %-8s fitted exponent %s (model %s, off by %.1f %%)\n", $1, $3, $9, want, 100 * d
    if (d > 0.10) bad++
  }
  END { if (n == 0) { print "  no attention fit found"; exit 1 } if (bad > 0) exit 1 }' "$out"/experiment.txt

step "done"
echo "report: $out/report/experiment.md (charts in $out/report/images/), $out/report/experiment.html"
echo "json:   $out/experiment.json"
echo "page:   http://127.0.0.1:$http/experiments/$id"
echo "logs:   $out/logs/"
if [ "${DEMO_KEEP:-0}" = 1 ]; then
  echo
  echo "web UI: http://127.0.0.1:$http/   (collector $FLEETPROF_COLLECTOR; Ctrl-C stops everything)"
  wait "${pids[0]}"
fi
