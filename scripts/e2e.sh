#!/usr/bin/env bash
# End-to-end suites with real clients against a real nebu (scripts/test.sh runs this
# after ctest). Builds nothing: it needs the built binary (build/app/nebu, or
# NEBU_E2E_BIN), Node.js >= 20 with npm, and Debian's python3-matrix-nio
# (scripts/deps.sh --test installs them).
#
#   scripts/e2e.sh                 # every suite
#   NEBU_E2E_SUITES="js-chat nio-chat" scripts/e2e.sh
#   NEBU_E2E_URL=http://127.0.0.1:8008 scripts/e2e.sh   # against a nebu you started
#   NEBU_E2E_URLS=http://127.0.0.1:P1,...,P3 NEBU_E2E_SUITES=js-cluster scripts/e2e.sh
#                                  # js-cluster against a three-node cluster you started
#   scripts/e2e.sh --install       # only the npm packages, then exit (scripts/test.sh
#                                  # runs this in the background during the build)
#
# It starts nebu on free loopback ports with a temporary NEBU_DATA_DIR, open
# registration and rate limits off, waits for /health, installs the pinned npm
# packages of tests/e2e/js (npm ci, skipped while package-lock.json is unchanged),
# runs each suite with a time limit, stops nebu and prints one line per suite.
# The js-cluster suite gets its own cluster instead: a three-member etcd
# (scripts/etcd.sh start --members=3, under the temporary directory) and three nebu
# nodes joined to it (NEBU_ETCD_ENDPOINTS, own data directories and ports), all
# stopped at exit; the single nebu is started only when another suite needs it.
# Exit status: 0 when every suite passed, 1 otherwise (2 when it cannot start).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
root=$(pwd)

read -r -a suites <<<"${NEBU_E2E_SUITES:-js-chat js-crypto js-backup js-notify js-pusher js-search js-spaces js-threads js-upgrade js-refresh js-media js-sso js-sso-browser nio-chat nio-media js-cluster js-restore}"
suite_seconds_max=${NEBU_E2E_SUITE_SECONDS:-600}  # one suite's wall-clock limit
health_seconds_max=30                              # nebu's start-up limit
cluster_nodes=3                                    # js-cluster's nebu nodes
cluster_secret="e2e-cluster-secret-0123456789abcdef"  # NEBU_INTERNAL_SECRET (>= 32 chars)
nebu_bin=${NEBU_E2E_BIN:-build/app/nebu}
python=/usr/bin/python3  # Debian's, which has python3-matrix-nio

die() { echo "e2e: $*" >&2; exit 2; }

tmp=$(mktemp -d /tmp/nebu-e2e.XXXXXX) || die "mktemp failed"
nebu_pid=""
cluster_pids=()
etcd_started=0
stop_pids() {  # stop_pids PID...: SIGTERM to all, up to 10 s, then SIGKILL
  local pid alive
  for pid in "$@"; do kill -TERM "${pid}" 2>/dev/null; done
  for _ in $(seq 1 100); do
    alive=0
    for pid in "$@"; do kill -0 "${pid}" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "$@"; do kill -KILL "${pid}" 2>/dev/null; done
  return 0
}
cleanup() {
  local started=${SECONDS}
  [[ -z "${nebu_pid}" ]] || stop_pids "${nebu_pid}"
  ((${#cluster_pids[@]} == 0)) || stop_pids "${cluster_pids[@]}"
  if ((etcd_started)); then scripts/etcd.sh destroy "${tmp}/etcd" >/dev/null 2>&1; fi
  echo "e2e: stopped in $((SECONDS - started)) s"
  rm -rf "${tmp}"
}
trap cleanup EXIT

# ---- tools ----
command -v node >/dev/null || die "node is missing (scripts/deps.sh --test installs it)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[[ ${node_major} -ge 20 ]] || die "node $(node --version) is too old: matrix-js-sdk 37.5.0 needs >= 20"
command -v npm >/dev/null || die "npm is missing"
"${python}" -c 'import nio' 2>/dev/null || die "${python} cannot import nio (apt-get install python3-matrix-nio)"

# ---- npm packages (pinned by tests/e2e/js/package-lock.json) ----
npm_install() {
  local dir=tests/e2e/js stamp=tests/e2e/js/node_modules/.nebu-lock.sha256
  local want
  want=$(sha256sum "${dir}/package-lock.json" | cut -d' ' -f1)
  if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]]; then
    echo "e2e: npm packages up to date"
    return 0
  fi
  echo "e2e: npm ci in ${dir}"
  (cd "${dir}" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) || return 1
  echo "${want}" >"${stamp}"
}
npm_install || die "npm ci failed"
if [[ "${1:-}" == "--install" ]]; then
  trap - EXIT
  rm -rf "${tmp}"
  exit 0
fi

# ---- nebu ----
free_port() {
  "${python}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts one nebu (extra VAR=value settings after the log name) on free ports, waits
# for /health; sets started_pid and started_url. Returns 1 (log shown) on failure.
start_nebu() {  # start_nebu NAME [VAR=value ...]
  local name=$1 client_port ops_port healthy=0
  shift
  client_port=$(free_port) || return 1
  ops_port=$(free_port) || return 1
  [[ ${client_port} != "${ops_port}" ]] || ops_port=$(free_port)
  started_url="http://127.0.0.1:${client_port}"
  # nebu gets exactly the configuration below: every other NEBU_* variable (this
  # script's NEBU_E2E_*, the test database URL of scripts/test.sh, a caller's
  # NEBU_*_FILE) is removed from its environment.
  mapfile -t own_vars < <(compgen -e | grep '^NEBU_' | sed 's/^/-u/')
  env "${own_vars[@]}" NEBU_DATA_DIR="${tmp}/${name}" NEBU_CLIENT_ADDR="127.0.0.1:${client_port}" \
    NEBU_OPS_ADDR="127.0.0.1:${ops_port}" NEBU_SERVER_NAME=localhost \
    NEBU_REGISTRATION=open NEBU_RATE_LIMIT=off NEBU_PUSH_PRIVATE_GATEWAYS=on NEBU_LOG_LEVEL="${NEBU_E2E_LOG_LEVEL:-info}" \
    "$@" "${nebu_bin}" serve >"${tmp}/${name}.log" 2>&1 &
  started_pid=$!
  echo "e2e: nebu ${name} (pid ${started_pid}) on ${started_url}, ops 127.0.0.1:${ops_port}, log ${tmp}/${name}.log"
  for _ in $(seq 1 $((health_seconds_max * 10))); do
    if curl -fsS "http://127.0.0.1:${ops_port}/health" >/dev/null 2>&1; then healthy=1; break; fi
    kill -0 "${started_pid}" 2>/dev/null || break
    sleep 0.1
  done
  if [[ ${healthy} -ne 1 ]]; then
    echo "e2e: nebu ${name} did not become healthy within ${health_seconds_max}s; its log:" >&2
    tail -n 40 "${tmp}/${name}.log" >&2
    return 1
  fi
}

# js-cluster's cluster: a three-member etcd and three nebu nodes joined to it; sets
# cluster_urls (comma-separated client URLs, node 1 first).
start_cluster() {
  local endpoints n
  endpoints=$(scripts/etcd.sh start --members=3 "${tmp}/etcd" | tail -n 1) || return 1
  etcd_started=1
  echo "e2e: etcd (3 members) at ${endpoints}"
  cluster_urls=""
  for n in $(seq 1 "${cluster_nodes}"); do
    start_nebu "node${n}" NEBU_ETCD_ENDPOINTS="${endpoints}" NEBU_ETCD_PREFIX=/nebu-e2e \
      NEBU_NODE_ID="node${n}" NEBU_GRPC_ADDR="127.0.0.1:$(free_port)" \
      NEBU_INTERNAL_SECRET="${cluster_secret}" || return 1
    cluster_pids+=("${started_pid}")
    cluster_urls+="${cluster_urls:+,}${started_url}"
  done
}

needs_single=0
for name in "${suites[@]}"; do [[ ${name} == js-cluster ]] || needs_single=1; done

if [[ -n "${NEBU_E2E_URL:-}" ]]; then
  url=${NEBU_E2E_URL}
  echo "e2e: using the nebu at ${url}"
elif ((needs_single)); then
  [[ -x "${nebu_bin}" ]] || die "${nebu_bin} is not built (cmake --build build)"
  start_nebu data || exit 2
  nebu_pid=${started_pid}
  url=${started_url}
fi

# ---- suites ----
run_suite() {  # run_suite NAME: runs one suite, bounded by suite_seconds_max
  local name=$1
  case "${name}" in
    js-chat) (cd tests/e2e/js && NEBU_E2E_URL=${url} timeout "${suite_seconds_max}" node chat.mjs) ;;
    js-crypto) (cd tests/e2e/js && NEBU_E2E_URL=${url} timeout "${suite_seconds_max}" node crypto.mjs) ;;
    js-search) (cd tests/e2e/js && NEBU_E2E_URL=${url} timeout "${suite_seconds_max}" node search.mjs) ;;
    js-spaces) (cd tests/e2e/js && NEBU_E2E_URL=${url} timeout "${suite_seconds_max}" node spaces.mjs) ;;
    js-notify) (cd tests/e2e/js && NEBU_E2E_URL=${url} timeout "${suite_seconds_max}" node notify.mjs) ;;
    js-backup) (cd tests/e2e/js && NEBU_E2E_URL=${url} timeout "${suite_seconds_max}" node backup.mjs) ;;
    js-upgrade) (cd tests/e2e/js && NEBU_E2E_URL=${url} timeout "${suite_seconds_max}" node upgrade.mjs) ;;
    js-threads) (cd tests/e2e/js && NEBU_E2E_URL=${url} timeout "${suite_seconds_max}" node threads.mjs) ;;
    nio-chat) NEBU_E2E_URL=${url} timeout "${suite_seconds_max}" "${python}" tests/e2e/nio/chat.py ;;
    nio-media) NEBU_E2E_URL=${url} timeout "${suite_seconds_max}" "${python}" tests/e2e/nio/media.py ;;
    js-refresh) start_nebu refresh NEBU_ACCESS_TOKEN_LIFETIME_MS=3000 && { (cd tests/e2e/js && NEBU_E2E_URL=${started_url} NEBU_E2E_TOKEN_LIFETIME_MS=3000 timeout "${suite_seconds_max}" node refresh.mjs); local rc=$?; kill "${started_pid}"; wait "${started_pid}" 2>/dev/null; return ${rc}; } ;;
    js-media) (cd tests/e2e/js && NEBU_E2E_URL=${url} timeout "${suite_seconds_max}" node media.mjs) ;;
    js-pusher) (cd tests/e2e/js && NEBU_E2E_URL=${url} timeout "${suite_seconds_max}" node pusher.mjs) ;;
    js-restore) NEBU_E2E_BIN=${nebu_bin} timeout "${suite_seconds_max}" bash scripts/restore_drill.sh ;;
    js-sso|js-sso-browser) local cp op; cp=$(free_port) && op=$(free_port) && start_nebu "${name}" NEBU_CLIENT_ADDR="127.0.0.1:${cp}" NEBU_PUBLIC_BASEURL="http://127.0.0.1:${cp}" NEBU_OIDC_ISSUER="http://127.0.0.1:${op}" NEBU_OIDC_CLIENT_ID=nebu-e2e NEBU_OIDC_CLIENT_SECRET=e2e-oidc-secret NEBU_PASSWORD_LOGIN=off NEBU_SSO_CLIENT_WHITELIST="http://127.0.0.1:9/client/" && { (cd tests/e2e/js && NEBU_E2E_URL="http://127.0.0.1:${cp}" NEBU_E2E_OIDC_PORT=${op} timeout "${suite_seconds_max}" node "$([[ ${name} == js-sso ]] && echo sso.mjs || echo sso_browser.mjs)"); local rc=$?; kill "${started_pid}"; wait "${started_pid}" 2>/dev/null; return ${rc}; } ;;
    js-cluster)
      local urls=${NEBU_E2E_URLS:-}
      if [[ -z "${urls}" ]]; then
        [[ -x "${nebu_bin}" ]] || { echo "e2e: ${nebu_bin} is not built" >&2; return 2; }
        start_cluster || return 2
        urls=${cluster_urls}
      fi
      (cd tests/e2e/js && NEBU_E2E_URLS=${urls} timeout "${suite_seconds_max}" node cluster.mjs) ;;
    *) echo "e2e: unknown suite ${name}" >&2; return 2 ;;
  esac
}

declare -A results
passed=0 failed=0
for name in "${suites[@]}"; do
  echo "==> e2e ${name}"
  start=${SECONDS}
  rc=0
  run_suite "${name}" || rc=$?
  [[ ${rc} -eq 124 ]] && echo "e2e: ${name} killed after ${suite_seconds_max}s"
  if [[ ${rc} -eq 0 ]]; then
    results[${name}]="passed ($((SECONDS - start))s)"
    passed=$((passed + 1))
  else
    results[${name}]="FAILED (exit ${rc}, $((SECONDS - start))s)"
    failed=$((failed + 1))
  fi
done

if [[ -n "${nebu_pid}" ]]; then
  if ! kill -0 "${nebu_pid}" 2>/dev/null; then
    echo "e2e: nebu exited during the suites" >&2
    failed=$((failed + 1))
  fi
  if [[ ${failed} -gt 0 ]]; then
    echo "e2e: last lines of the nebu log (warnings and errors):"
    grep -E '\[(warning|error|critical)\]' "${tmp}/data.log" | tail -n 20
  fi
fi
for n in "${!cluster_pids[@]}"; do
  node="node$((n + 1))"
  if ! kill -0 "${cluster_pids[${n}]}" 2>/dev/null; then
    echo "e2e: nebu ${node} exited during js-cluster" >&2
    failed=$((failed + 1))
  fi
  if [[ ${failed} -gt 0 ]]; then
    echo "e2e: last lines of the ${node} log (warnings and errors):"
    grep -E '\[(warning|error|critical)\]' "${tmp}/${node}.log" | tail -n 20
  fi
done

echo "e2e summary (${root}):"
for name in "${suites[@]}"; do printf '  %-10s %s\n' "${name}" "${results[${name}]}"; done
echo "e2e: ${passed} passed, ${failed} failed"
[[ ${failed} -eq 0 ]]
