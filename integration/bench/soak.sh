#!/usr/bin/env bash
# The collector's kill -9 and corruption run (issue 13; see BENCHMARKS.md,
# "Soak"): uploads resuming across random SIGKILLs of a real
# fleetprof-collector backed up to the GCS emulator, then every capture
# listed once with its bytes, every backup folder verified, the store
# checked, damaged copies refused by name and a restore served; and the
# collector's peak RSS on a 16 MB capture of empty events.
#
#   bash integration/bench/soak.sh                     # 2 minutes of kills
#   DURATION=20s bash integration/bench/soak.sh        # a quick look
#   OLD=path/to/old/fleetprof-collector bash integration/bench/soak.sh   # also measure an older build
#
# Needs `make build` first. Exits non-zero on any loss, corruption or damage
# let through.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-2m}
UPLOADERS=${UPLOADERS:-8}
OUT=${OUT:-bench-out/soak}

mkdir -p "$OUT/bin"
go build -o "$OUT/soak" ./integration/bench/soak
# Copies: a `make build` meanwhile must not change the binaries under test.
cp bin/fleetprof-collector bin/fleetprof-gcsemu "$OUT/bin/"
# A ~300 KB capture: a generated single-device profile, trimmed (small, so
# that the store and its snapshots stay under a GB in a 2-minute run).
bin/fleetprof-gen -q -o "$OUT/gen.xplane.pb" -events 20000 -devices 1 -bursts 5 -seed 11
bin/fleetprof trim -q "$OUT/gen.xplane.pb" -o "$OUT/capture.fpcap" >/dev/null

echo "## kill -9 at random moments during uploads, then damaged databases ($DURATION, $UPLOADERS uploads in flight, $(nproc) cores)"
"$OUT/soak" -bin "$OUT/bin" -out "$OUT/run" -capture "$OUT/capture.fpcap" -duration "$DURATION" -uploaders "$UPLOADERS"
echo
echo "## a 16 MB .fpcap of empty events (this build)"
"$OUT/soak" -costly -bin "$OUT/bin" -out "$OUT/costly"
if [[ -n "${OLD:-}" ]]; then
  echo
  echo "## a 16 MB .fpcap of empty events ($OLD)"
  "$OUT/soak" -costly -bin "$OUT/bin" -collector "$OLD" -out "$OUT/costly-old"
fi
