#!/usr/bin/env bash
# trim_vs_gzip.sh: how fast `fleetprof trim` reads large captures, next to
# what merely decompressing them costs (`gzip -dc`), all in one run, the
# commands interleaved so that a busy machine slows them alike. See
# BENCHMARKS.md ("Reading captures").
#
# Cases (generated once by fleetprof-gen, cached in $BENCH_OUT/gen-*):
#   json-default  the BENCHMARKS.md capture: -events 4000000 -seed 1
#                 (532 MB of trace JSON, 4 TPUs, 3 bursts, 121,888 kept events)
#   json-busy     -events 4200000 -seed 1 -devices 1 -bursts 100 -steps 1
#                 (62,000 device op events in 100 bursts)
#   json-idle     -events 4200000 -seed 1 -bursts 3 -steps 1
#                 (idle-dominated: 7,440 device op events in 3 bursts)
#   xplane-default  the json-default capture as an XSpace (.xplane.pb)
#   xplane-seed     ../shared/testdata/seed-replica/*.xplane.pb (356,442 events)
# Each JSON case is timed against `gzip -dc` of the same file; each XPlane
# case in events per second of the whole `fleetprof trim` process.
#
# Needs $BIN/fleetprof and $BIN/fleetprof-gen (make build) and python3.
#
# Environment:
#   RUNS=5          rounds; every command runs once per round (median and minimum reported)
#   BIN=bin         where the binaries are
#   BENCH_OUT=bench-out
#   CASES="json-default json-busy json-idle xplane-default xplane-seed"
#   MAXLOAD=        if set (e.g. 1.0), wait (up to 30 min) for the 1-minute load
#                   average to fall below it before timing
#   PYTHON=0        1 also times python3 json.load once on json-default (~20 s, ~3 GB)
#   SEED_REPEAT=3   times xplane-seed runs per round: a 60 ms process is far noisier
#                   than the 1 s ones on a shared VM, and its median wants more samples
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-5}
BIN=${BIN:-bin}
OUT=${BENCH_OUT:-bench-out}
CASES=${CASES:-json-default json-busy json-idle xplane-default xplane-seed}
MAXLOAD=${MAXLOAD:-}
PYTHON=${PYTHON:-0}

die() { echo "trim_vs_gzip: $*" >&2; exit 1; }

for b in "$BIN/fleetprof" "$BIN/fleetprof-gen"; do
  [ -x "$b" ] || die "$b is missing: run 'make build' first"
done
command -v python3 >/dev/null || die "python3 is needed for the timing and the summary"
command -v gzip >/dev/null || die "gzip is needed"
mkdir -p "$OUT"

# gen NAME ARGS...: generates a capture into $OUT/gen-NAME once, kept while
# the generator and its arguments stay the same.
gen() {
  local name=$1
  shift
  local dir=$OUT/gen-$name
  local stamp
  stamp="$(sha256sum "$BIN/fleetprof-gen" | cut -d' ' -f1) $*"
  if [ ! -s "$dir/capture.trace.json.gz" ] || [ ! -s "$dir/truth.json" ] || [ "$(cat "$dir/stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "generating $name into $dir (once; about 10 s)" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    "$BIN/fleetprof-gen" -q "$@" -o "$dir/capture.trace.json.gz" -o "$dir/capture.xplane.pb"
    echo "$stamp" > "$dir/stamp"
  fi
}

# check FILE TRUTH: fleetprof inspect must agree with the generator's truth.
check() {
  "$BIN/fleetprof" inspect "$1" -q --format json > "$OUT/inspect.json" || die "inspect $1 failed"
  python3 - "$OUT/inspect.json" "$2" "$1" <<'EOF' || die "inspect disagrees with truth.json on $1"
import json, sys
got, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bad = [k for k in ("events_total", "events_kept", "device_op_events") if got[k] != want[k]]
if len(got["windows"]) != len(want["windows"]) or any(
        abs(a - b) > 1 for g, w in zip(got["windows"], want["windows"]) for a, b in zip(g, w)):
    bad.append("windows")
for d, w in want["devices"].items():
    if abs(got["devices"][d]["busy_us"] - w["busy_us"]) > 0.01 or got["devices"][d]["op_events"] != w["op_events"]:
        bad.append(d)
if bad:
    sys.exit(f"{sys.argv[3]}: {bad} differ from truth.json")
print(f"inspect {sys.argv[3]}: agrees with truth.json", file=sys.stderr)
EOF
}

gen default -events 4000000 -seed 1
gen busy -events 4200000 -seed 1 -devices 1 -bursts 100 -steps 1
gen idle -events 4200000 -seed 1 -bursts 3 -steps 1
seed=$(ls ../shared/testdata/seed-replica/*.xplane.pb 2>/dev/null | head -n 1 || true)

# The plan: one line per timed command, "case label events command...".
plan=$OUT/trim_vs_gzip.plan
: > "$plan"
for c in $CASES; do
  case $c in
    json-*)
      dir=$OUT/gen-${c#json-}
      f=$dir/capture.trace.json.gz
      check "$f" "$dir/truth.json"
      events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events_total"])' "$dir/truth.json")
      echo "$c gzip-dc $events gzip -dc $f" >> "$plan"
      echo "$c trim $events $BIN/fleetprof trim $f -o $OUT/out-$c.trace.json.gz -q" >> "$plan"
      ;;
    xplane-default)
      dir=$OUT/gen-default
      f=$dir/capture.xplane.pb
      check "$f" "$dir/truth.json"
      events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events_total"])' "$dir/truth.json")
      echo "$c trim $events $BIN/fleetprof trim $f -o $OUT/out-$c.trace.json.gz -q" >> "$plan"
      ;;
    xplane-seed)
      [ -n "$seed" ] || { echo "no ../shared/testdata/seed-replica: skipping xplane-seed" >&2; continue; }
      events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events_total"])' "$(dirname "$seed")/truth.json")
      echo "$c trim $events $BIN/fleetprof trim $seed -o $OUT/out-$c.trace.json.gz -q" >> "$plan"
      ;;
    *) die "unknown case $c" ;;
  esac
done
if [ "$PYTHON" != 0 ]; then
  f=$OUT/gen-default/capture.trace.json.gz
  echo "python json.load 4000000 PYJSON $f" >> "$plan"
fi

if [ -n "$MAXLOAD" ]; then
  for _ in $(seq 180); do
    python3 -c 'import os,sys; sys.exit(0 if os.getloadavg()[0] < float(sys.argv[1]) else 1)' "$MAXLOAD" && break
    echo "waiting for the load average ($(cut -d' ' -f1 /proc/loadavg)) to fall below $MAXLOAD" >&2
    sleep 10
  done
fi

# Time the plan: RUNS rounds, every command once per round in plan order;
# wall time from perf_counter, CPU and peak RSS from wait4's rusage.
python3 - "$plan" "$RUNS" "$OUT/trim_vs_gzip.results" <<'EOF'
import os, statistics, subprocess, sys, time

plan, runs, results = sys.argv[1], int(sys.argv[2]), sys.argv[3]
steps = []
for line in open(plan):
    case, label, events, *cmd = line.split()
    if cmd[0] == "PYJSON":
        cmd = ["python3", "-c", "import json, gzip, sys; json.load(gzip.open(sys.argv[1]))", cmd[1]]
    steps.append((case, label, int(events), cmd))
# GNU time reports the peak RSS of the command itself; wait4's would count
# the pages of this python process the child had before it exec'd.
gnu_time = os.access("/usr/bin/time", os.X_OK)
timing = results + ".time"
rows = {}
load_start = os.getloadavg()[0]
print(f"timing {runs} rounds of {len(steps)} commands, interleaved", file=sys.stderr)
repeat = {"xplane-seed": max(1, int(os.environ.get("SEED_REPEAT", "3")))}
for r in range(runs):
    for case, label, events, cmd in [s for s in steps for _ in range(repeat.get(s[0], 1))]:
        if case == "python" and r > 0:
            continue
        run = ["/usr/bin/time", "-f", "%M %U %S", "-o", timing] + cmd if gnu_time else cmd
        t = time.perf_counter()
        p = subprocess.Popen(run, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        err = p.stderr.read().decode(errors="replace")
        p.stderr.close()
        if status != 0:
            sys.exit(f"{case} {label} failed ({status}): {' '.join(cmd)}\n{err}")
        cpu, rss = ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024
        if gnu_time:
            kb, user, sys_ = open(timing).read().split()[-3:]
            cpu, rss = float(user) + float(sys_), int(kb) / 1024
        rows.setdefault((case, label, events), []).append((wall, cpu, rss))
        print(f"  round {r + 1} {case:<15} {label:<8} {wall:7.3f} s  cpu {cpu:6.3f} s  {rss:6.1f} MB", file=sys.stderr)
load_end = os.getloadavg()[0]
if gnu_time:
    os.remove(timing)

with open(results, "w") as f:
    for (case, label, events), v in rows.items():
        for wall, cpu, rss in v:
            f.write(f"{case} {label} {events} {wall:.4f} {cpu:.4f} {rss:.1f}\n")

cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"machine: {os.cpu_count()} CPUs, {cpu_model}; load average {load_start:.2f} at the start, {load_end:.2f} at the end; {runs} rounds")
print()
print(f"{'case':<15} {'command':<9} {'runs':>4} {'median s':>9} {'min s':>7} {'cpu s':>6} {'peak RSS MB':>11}")
med = {}
for (case, label, events), v in rows.items():
    m = statistics.median(x[0] for x in v)
    med[(case, label)] = (m, min(x[0] for x in v), events)
    print(f"{case:<15} {label:<9} {len(v):>4} {m:>9.3f} {min(x[0] for x in v):>7.3f} "
          f"{statistics.median(x[1] for x in v):>6.2f} {max(x[2] for x in v):>11.1f}")
print()
print(f"{'goal':<52} {'median':>7} {'min/min':>8}")
for case in dict.fromkeys(c for c, _ in med):
    if case.startswith("json-") and (case, "gzip-dc") in med:
        t, g = med[(case, "trim")], med[(case, "gzip-dc")]
        ok = "ok" if t[0] / g[0] <= 0.8 else "MISSED"
        print(f"{'trim ' + case + ' wall / gzip -dc wall (<= 0.8)':<52} {t[0] / g[0]:>7.2f} {t[1] / g[1]:>8.2f}  {ok}")
    if case.startswith("xplane-"):
        t = med[(case, "trim")]
        rate, best = t[2] / t[0] / 1e6, t[2] / t[1] / 1e6
        ok = "ok" if rate >= 5 else "MISSED"
        print(f"{'trim ' + case + ' M events/s (>= 5)':<52} {rate:>7.2f} {best:>8.2f}  {ok}")
EOF
