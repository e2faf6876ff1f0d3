#!/usr/bin/env bash
# The README's first command: install what is missing, build a release build,
# and start the broker on config/roadmq.conf (127.0.0.1:1883).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target roadmq
exec build/release/src/app/roadmq --config config/roadmq.conf "$@"
