#!/usr/bin/env bash
# Installs the Debian packages RoadMQ needs, only those missing; silent when
# everything is already there.
#   scripts/setup.sh          build + run dependencies
#   scripts/setup.sh --test   also what the test suite needs
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config ccache
  libboost1.81-dev libssl-dev librocksdb-dev librdkafka-dev libpq-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
test_pkgs=(
  clang libclang-rt-14-dev
  mosquitto mosquitto-clients python3-paho-mqtt python3-pytest
  iproute2 curl procps
)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${test_pkgs[@]}")
fi

# MQTT.js tests need node and npm; a machine that already has them (any
# source) keeps its own.
if [[ "${1:-}" == "--test" ]] && ! command -v npm >/dev/null 2>&1; then
  want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing packages: ${missing[*]} (run as root or install them)" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
