#!/usr/bin/env bash
# Installs every Debian 12 package nebu needs, idempotently.
#   scripts/deps.sh          build + run dependencies
#   scripts/deps.sh --test   also what the test suite needs (PostgreSQL, etcd, promtool, Node, nio, clang)
# Runs as root, or through sudo when it is available.
set -euo pipefail

build_pkgs=(
  build-essential g++ cmake ninja-build ccache pkg-config git ca-certificates
  lld  # the linker (CMakeLists.txt: NEBU_USE_LLD)
  librocksdb-dev libboost1.81-dev libboost-json1.81-dev
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libpqxx-dev libflatbuffers-dev flatbuffers-compiler libspdlog-dev libfmt-dev
  prometheus-cpp-dev libssl-dev libargon2-dev
  libvips-dev  # media thumbnails (the binary then needs libvips42)
  libgtest-dev libgmock-dev librapidcheck-dev
)
test_pkgs=(
  clang-14 libclang-rt-14-dev
  postgresql prometheus etcd-server etcd-client openssl
  nodejs npm python3 python3-matrix-nio python3-yaml
  curl procps iproute2
  chromium  # js-sso-browser (with playwright-core from tests/e2e/js/package.json)
  yamllint shellcheck python3-jsonschema  # scripts/lint-deploy.sh (podman & co.: scripts/container-smoke.sh installs them)
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
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# The end-to-end suites pin matrix-js-sdk 37.5.0, which needs Node.js >= 20; Debian
# 12's nodejs is 18. Then Node 20 comes from the npm registry's node-linux-<arch>
# package (the official binary) into ${NEBU_NODE_PREFIX:-/usr/local}/bin, ahead of
# /usr/bin in PATH. Idempotent: does nothing while `node` is 20 or newer.
node_version_pinned=20.20.2
ensure_node20() {
  [[ "${1:-}" == "--test" ]] || return 0
  local major arch prefix=${NEBU_NODE_PREFIX:-/usr/local}
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [[ ${major} -ge 20 ]] && return 0
  case "$(dpkg --print-architecture)" in
    amd64) arch=x64 ;; arm64) arch=arm64 ;; *) echo "deps: no Node 20 package for this arch" >&2; return 1 ;;
  esac
  echo "deps: node ${major} is too old for matrix-js-sdk; installing node ${node_version_pinned} into ${prefix}" >&2
  $SUDO npm install -g --prefix "${prefix}" --no-audit --no-fund --loglevel=error \
    "node-linux-${arch}@${node_version_pinned}"
  hash -r
  "${prefix}/bin/node" --version >/dev/null
}

# media_s3_test's S3 server: s3rver and aws4 (for its SigV4-checking proxy), pinned by
# tests/media/s3rver/package-lock.json. Idempotent: npm ci only when the lock changed.
ensure_s3rver() {
  [[ "${1:-}" == "--test" ]] || return 0
  local dir stamp want
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/media/s3rver"
  stamp="${dir}/node_modules/.nebu-lock.sha256"
  want=$(sha256sum "${dir}/package-lock.json" | cut -d' ' -f1)
  [[ -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]] && return 0
  echo "deps: npm ci in ${dir} (s3rver for media_s3_test)" >&2
  (cd "${dir}" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) || return 1
  echo "${want}" >"${stamp}"
}

if [[ ${#missing[@]} -eq 0 ]]; then ensure_node20 "${1:-}"; ensure_s3rver "${1:-}"; exit; fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
ensure_node20 "${1:-}"
ensure_s3rver "${1:-}"
