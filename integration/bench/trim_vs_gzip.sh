#!/usr/bin/env bash
# trim_vs_gzip.sh: how fast `fleetprof trim` and `fleetprof inspect` read a
# large capture, next to what merely decompressing it costs (`gzip -dc`) and
# what a plain Python json.load costs, all timed in the same run, the
# commands interleaved so a busy machine slows them alike. See BENCHMARKS.md.
#
# Needs bin/fleetprof and bin/fleetprof-gen (make build), python3 and
# /usr/bin/time (installed with apt-get when missing and run as root).
#
# Environment:
#   RUNS=5         runs of each command (the median and the minimum are reported)
#   EVENTS=4000000 size of the generated capture (X events)
#   SEED=1         its seed
#   PYTHON=1       also time python3 json.load once (slow: ~20 s, ~3 GB); 0 skips it
#   BENCH_OUT=bench-out
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-5}
EVENTS=${EVENTS:-4000000}
SEED=${SEED:-1}
PYTHON=${PYTHON:-1}
OUT=${BENCH_OUT:-bench-out}

die() { echo "trim_vs_gzip: $*" >&2; exit 1; }

for b in bin/fleetprof bin/fleetprof-gen; do
  [ -x "$b" ] || die "$b is missing: run 'make build' first"
done
command -v python3 >/dev/null || die "python3 is needed for the summary"
if [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing GNU time (apt-get install -y time)" >&2
    (apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y time >/dev/null 2>&1; }) ||
      die "could not install GNU time"
  else
    die "GNU time (/usr/bin/time) is missing: apt-get install time"
  fi
fi

# The capture, generated once and kept while the generator and its
# arguments stay the same.
dir=$OUT/gen-$EVENTS-seed$SEED
json=$dir/capture.trace.json.gz
xplane=$dir/capture.xplane.pb
stamp="$(sha256sum bin/fleetprof-gen | cut -d' ' -f1) events=$EVENTS seed=$SEED"
if [ ! -s "$json" ] || [ ! -s "$xplane" ] || [ ! -s "$dir/truth.json" ] || [ "$(cat "$dir/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "generating the capture into $dir (once; about 20 s)" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  bin/fleetprof-gen -q -events "$EVENTS" -seed "$SEED" -o "$json" -o "$xplane"
  echo "$stamp" > "$dir/stamp"
fi
events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events_total"])' "$dir/truth.json")

results=$OUT/trim_vs_gzip.results
: > "$results"
timing=$(mktemp)
errlog=$OUT/trim_vs_gzip.stderr
trap 'rm -f "$timing"' EXIT

# measure LABEL CMD...: runs CMD with stdout to /dev/null, appends
# "LABEL wall_s peak_rss_kb user_s sys_s" to the results.
measure() {
  local label=$1
  shift
  if ! /usr/bin/time -f '%e %M %U %S' -o "$timing" "$@" > /dev/null 2> "$errlog"; then
    cat "$errlog" >&2
    die "$label failed: $*"
  fi
  echo "$label $(tail -n 1 "$timing")" >> "$results"
  printf '  %-22s %s\n' "$label" "$(tail -n 1 "$timing")" >&2
}

# Check first that both readers find the truth, so the figures are for a
# correct result.
for f in "$json" "$xplane"; do
  bin/fleetprof inspect "$f" -q --format json > "$OUT/inspect.json" || die "inspect $f failed"
  python3 - "$OUT/inspect.json" "$dir/truth.json" "$f" <<'EOF' || die "inspect disagrees with truth.json on $f"
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
done

load_start=$(cut -d' ' -f1 /proc/loadavg)
echo "timing $RUNS runs of each, interleaved (wall s, peak RSS KB, user s, sys s):" >&2
for r in $(seq "$RUNS"); do
  echo " run $r" >&2
  measure gzip-dc gzip -dc "$json"
  measure trim-json bin/fleetprof trim "$json" -o "$OUT/out.trace.json.gz" -q
  measure inspect-json bin/fleetprof inspect "$json" -q
  measure trim-xplane bin/fleetprof trim "$xplane" -o "$OUT/out-xplane.trace.json.gz" -q
  measure inspect-xplane bin/fleetprof inspect "$xplane" -q
done
if [ "$PYTHON" != 0 ]; then
  echo " python3 json.load (once)" >&2
  measure python-json.load python3 -c 'import json, gzip, sys; json.load(gzip.open(sys.argv[1]))' "$json"
fi

python3 - "$results" "$events" "$json" "$xplane" "$load_start" <<'EOF'
import os, statistics, sys
path, events, json_path, xplane_path, load_start = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rows = {}
for line in open(path):
    label, wall, rss, user, sys_ = line.split()
    rows.setdefault(label, []).append((float(wall), int(rss), float(user), float(sys_)))
def med(label, i=0): return statistics.median(r[i] for r in rows[label])
def mn(label, i=0): return min(r[i] for r in rows[label])
def peak(label): return max(r[1] for r in rows[label]) / 1024
def cpu(label): return statistics.median(r[2] + r[3] for r in rows[label])
size = lambda p: os.path.getsize(p) / 1e6
cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"capture: {events:,} events; {json_path} {size(json_path):.1f} MB; {xplane_path} {size(xplane_path):.1f} MB")
print(f"machine: {os.cpu_count()} CPUs, {cpu_model}; load average {load_start} at the start, {os.getloadavg()[0]:.2f} at the end")
print()
print(f"{'command':<20} {'runs':>4} {'median s':>9} {'min s':>7} {'cpu s':>6} {'peak RSS MB':>11}")
for label in rows:
    print(f"{label:<20} {len(rows[label]):>4} {med(label):>9.2f} {mn(label):>7.2f} {cpu(label):>6.2f} {peak(label):>11.1f}")
print()
g = med("gzip-dc")
checks = [
    ("trim JSON wall / gzip -dc wall (median)", med("trim-json") / g, "<= 0.8", med("trim-json") / g <= 0.8),
    ("trim JSON wall / gzip -dc wall (min/min)", mn("trim-json") / mn("gzip-dc"), "<= 0.8", mn("trim-json") / mn("gzip-dc") <= 0.8),
    ("inspect JSON wall / gzip -dc wall (median)", med("inspect-json") / g, "", None),
    ("trim JSON peak RSS MB", peak("trim-json"), "< 100", peak("trim-json") < 100),
    ("trim XPlane peak RSS MB", peak("trim-xplane"), "< 100", peak("trim-xplane") < 100),
    ("trim XPlane M events/s (median)", events / med("trim-xplane") / 1e6, ">= 5", events / med("trim-xplane") / 1e6 >= 5),
    ("inspect XPlane M events/s (median)", events / med("inspect-xplane") / 1e6, "", None),
    ("trim JSON M events/s (median)", events / med("trim-json") / 1e6, "", None),
]
if "python-json.load" in rows:
    checks.append(("python json.load wall / trim JSON wall", med("python-json.load") / med("trim-json"), "", None))
for name, value, goal, ok in checks:
    verdict = "" if ok is None else ("ok" if ok else "MISSED")
    print(f"{name:<44} {value:>8.2f}  {('goal ' + goal) if goal else '':<10} {verdict}")
EOF
