#!/usr/bin/env bash
# Runs the MQTT.js suite (ctest test integration.mqttjs). Installs the
# pinned dependencies from package-lock.json on first use, then runs every
# *.test.mjs with node's built-in test runner. ROADMQ_BIN selects the daemon.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi
exec node --test --test-reporter=spec ./*.test.mjs
