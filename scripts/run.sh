#!/usr/bin/env bash
# Builds nebu and runs one node: installs the Debian packages (scripts/deps.sh),
# configures build/ (RelWithDebInfo, Ninja, ccache), builds the nebu binary, then
# replaces itself with `build/app/nebu serve`. Configuration is the NEBU_* environment
# (README.md); with none, nebu serves 127.0.0.1:8008 and 127.0.0.1:8080 with data in
# ./nebu-data relative to the repository root.
#
#   sudo scripts/run.sh                                # or as root; from any directory
#   sudo NEBU_SERVER_NAME=example.org scripts/run.sh   # sudo drops the caller's variables
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

phase() {  # phase NAME COMMAND...: runs COMMAND and prints how long it took
  local name="$1" start=${SECONDS}
  shift
  echo "==> ${name}"
  "$@"
  echo "<== ${name}: $((SECONDS - start))s"
}

configure() {
  # A build/ made by another generator cannot be reused; start it afresh.
  if [[ -f build/CMakeCache.txt ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' build/CMakeCache.txt; then
    rm -rf build
  fi
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
}

phase deps bash scripts/deps.sh
phase configure configure
phase build cmake --build build --target nebu
echo "==> serve: build/app/nebu serve (SIGINT or SIGTERM stops it)"
exec build/app/nebu serve
