#!/usr/bin/env bash
# Short libFuzzer run of every fuzz target of a fuzz build, from its seed
# corpus, into a scratch corpus so the tree stays clean. A crash, leak or
# oracle failure fails the run.
#   tests/fuzz/smoke.sh BUILD_DIR   (FUZZ_SECONDS per target, default 30)
set -euo pipefail
build=${1:?usage: smoke.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
secs=${FUZZ_SECONDS:-30}
work=$(mktemp -d /tmp/roadmq-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

for seeds in "$here"/corpus/*/; do
  name=$(basename "$seeds")
  bin="$build/tests/fuzz/${name}_fuzz"
  [[ -x "$bin" ]] || { echo "fuzz: missing $bin" >&2; exit 1; }
  mkdir -p "$work/$name"
  "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$work/" \
         "$work/$name" "$seeds" >"$work/$name.log" 2>&1 || {
    tail -n 60 "$work/$name.log" >&2
    # The failing input, so a CI log alone is enough to reproduce it.
    for unit in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
      [[ -f "$unit" ]] || continue
      echo "fuzz: input $(basename "$unit") ($(stat -c %s "$unit") bytes), base64:" >&2
      head -c 4096 "$unit" | base64 -w 0 >&2; echo >&2
    done
    echo "fuzz: $name FAILED" >&2
    exit 1
  }
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name.log" | grep -o '[0-9]*$' || echo '?')
  echo "fuzz: $name ok, $runs inputs in ${secs}s"
done
