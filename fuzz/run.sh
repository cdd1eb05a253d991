#!/usr/bin/env bash
# Builds the fuzz targets on stable the way cargo-fuzz does (`-s none`: libFuzzer with
# SanitizerCoverage, no sanitizer) and runs each for <seconds>, from its committed corpus.
# Prints per target: executions, coverage, crashes. Exits non-zero if any target crashed.
# Usage: fuzz/run.sh <seconds> [target...]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:?usage: fuzz/run.sh <seconds> [target...]}"
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(jcs credential multibase envelope candidate csv)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR_FUZZ:-$HOME/.cache/cplds-fuzz-target}"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares"
# An explicit --target keeps these flags off build scripts and proc macros (as cargo-fuzz does).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --locked --target "$host" ${CARGO_BUILD_JOBS:+-j "$CARGO_BUILD_JOBS"} \
  $(printf -- '--bin %s ' "${targets[@]}")

out="$CARGO_TARGET_DIR/fuzz-runs"
mkdir -p "$out"
failed=0
printf '%-12s %12s %8s %8s %8s\n' target executions cov ft crashes
for t in "${targets[@]}"; do
  # Artifacts are this run's crashes only: an old one must not fail a later run.
  rm -rf "$out/$t/artifacts"
  mkdir -p "corpus/$t" "$out/$t/corpus" "$out/$t/artifacts"
  # New inputs go to a scratch corpus; the committed one stays small (merge by hand to grow it).
  status=0
  "$CARGO_TARGET_DIR/$host/release/$t" "$out/$t/corpus" "corpus/$t" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$out/$t/artifacts/" >"$out/$t/log" 2>&1 || status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t/log" | grep -o '[0-9]*$' || true)
  cov=$(grep -o 'cov: [0-9]*' "$out/$t/log" | tail -n1 | grep -o '[0-9]*' || true)
  ft=$(grep -o 'ft: [0-9]*' "$out/$t/log" | tail -n1 | grep -o '[0-9]*' || true)
  crashes=$(find "$out/$t/artifacts" -type f | wc -l)
  printf '%-12s %12s %8s %8s %8s\n' "$t" "${runs:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    echo "-- $t failed (exit $status); its log, last lines:"
    tail -n 30 "$out/$t/log"
    find "$out/$t/artifacts" -type f
  fi
done
exit "$failed"
