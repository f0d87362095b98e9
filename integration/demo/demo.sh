#!/usr/bin/env bash
# make demo: the main job on embedded defaults. Until the daemons land it
# reads the seed replica capture, trims it and analyzes it, into demo-out/.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=demo-out
mkdir -p "$out"
seed=../shared/testdata/seed-replica
if [ ! -d "$seed" ]; then
  echo "demo: $seed not found (it sits beside the checkout)" >&2
  exit 1
fi
for f in "$seed"/*.xplane.pb "$seed"/*.trace.json.gz; do
  echo "== fleetprof inspect $f"
  bin/fleetprof inspect "$f"
  echo
done
echo "== fleetprof trim (XPlane → trimmed Chrome trace, XSpace and .fpcap)"
bin/fleetprof trim "$seed"/t1v-n-3d21a6bb-w-0.xplane.pb -o "$out/seed.trimmed.trace.json.gz"
bin/fleetprof trim "$seed"/t1v-n-3d21a6bb-w-0.xplane.pb -o "$out/seed.trimmed.xplane.pb"
bin/fleetprof trim "$seed"/t1v-n-3d21a6bb-w-0.trace.json.gz -o "$out/seed.fpcap"
if bin/fleetprof analyze --help >/dev/null 2>&1; then
  echo "== fleetprof analyze"
  bin/fleetprof analyze "$out/seed.fpcap" -o "$out/report" --plugins bin/plugins
  echo "report: $out/report/report.md"
fi
echo
echo "open $out/seed.trimmed.trace.json.gz in https://ui.perfetto.dev"
