#!/usr/bin/env bash
# Installs every Debian 12 package nebu needs, idempotently.
#   scripts/deps.sh          build + run dependencies
#   scripts/deps.sh --test   also what the test suite needs (PostgreSQL, promtool, Node, nio, clang)
# Runs as root, or through sudo when it is available.
set -euo pipefail

build_pkgs=(
  build-essential g++ cmake ninja-build ccache pkg-config git ca-certificates
  librocksdb-dev libboost1.81-dev libboost-json1.81-dev
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libpqxx-dev libflatbuffers-dev flatbuffers-compiler libspdlog-dev libfmt-dev
  prometheus-cpp-dev libssl-dev libargon2-dev
  libgtest-dev libgmock-dev librapidcheck-dev
)
test_pkgs=(
  clang-14 libclang-rt-14-dev
  postgresql prometheus
  nodejs npm python3 python3-matrix-nio
  curl procps iproute2
)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # A name may be satisfied by something providing it (e.g. nodejs from another source).
    case "$p" in
      nodejs) command -v node >/dev/null 2>&1 && continue ;;
      npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
