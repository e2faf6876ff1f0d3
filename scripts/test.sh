#!/usr/bin/env bash
# The README's second command (and what .ci/run calls): install what is
# missing, build, and run every test layer.
#   1. libFuzzer smoke runs of every fuzz target (clang build)
#   2. ThreadSanitizer build: the net runtime's tests and the multi-shard
#      broker tests (clients on every shard publishing to every shard)
#   3. ASan+UBSan debug build: unit, integration and fuzz-corpus tests (ctest)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test
jobs=$(nproc)

echo "== fuzz smoke (clang, libFuzzer) =="
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"
FUZZ_SECONDS=${FUZZ_SECONDS:-30} tests/fuzz/smoke.sh build/fuzz

echo "== ThreadSanitizer: multi-shard tests =="
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$jobs" --target roadmq unit_net
ctest --preset tsan -R '^(Net|integration\.test_(multishard|shared|sessions|durability)$)'

echo "== debug build with ASan+UBSan =="
cmake --preset debug >/dev/null
cmake --build --preset debug -j "$jobs"
ctest --preset debug "$@"
