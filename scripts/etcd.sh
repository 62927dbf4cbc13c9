#!/usr/bin/env bash
# A throwaway etcd 3.4 cluster (Debian's etcd-server) on loopback, for the tests and
# benchmarks of the cluster code (replication/).
#
#   scripts/etcd.sh start [--members=1|3] [--auth] [--tls] [DIR]
#                                                # a fresh cluster; prints its client endpoints
#   scripts/etcd.sh endpoints [DIR]              # http://127.0.0.1:P1,http://127.0.0.1:P2,...
#   scripts/etcd.sh pid N [DIR]                  # the pid of member N (1-based), for kill tests
#   scripts/etcd.sh start-member N [DIR]         # restarts member N (after a kill) with its data
#   scripts/etcd.sh stop [DIR]                   # stops every member (files stay)
#   scripts/etcd.sh destroy [DIR]                # stops and removes DIR
#
# DIR defaults to $NEBU_ETCD_DIR or /tmp/nebu-etcd-<hash of this checkout>. `start`
# stops a cluster already running there and wipes its data: every start is a new,
# empty cluster (new cluster token). The endpoints are also written to DIR/endpoints.
# Members listen on 127.0.0.1 only, on free ports below the ephemeral range, and are
# tuned for tests: heartbeat 50 ms / election timeout 500 ms (a killed leader is
# replaced in about a second), --max-request-bytes 1.5 MiB (etcd's default; a bigger
# Put is refused with "request is too large"), 256 MiB backend quota, snapshot every
# 10,000 writes, warnings-only logs in DIR/member-N.log. Installs etcd-server and
# etcd-client with apt when etcd is missing.
#
# --auth enables etcd's authentication: users root (password $AUTH_ROOT_PASSWORD) and
# nebu (password $AUTH_PASSWORD, read-write on keys under /nebu-test/ only), simple
# tokens that expire after 1 s unused (so tests see a token expire).
#
# --tls serves clients over TLS only (https:// endpoints) and requires a client
# certificate: a throwaway CA, server and client certificates are made in DIR/tls
# (ca.pem, client.pem, client-key.pem) with openssl.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ETCD_BIN=${NEBU_ETCD_BIN:-/usr/bin/etcd}
HEARTBEAT_MS=50
ELECTION_MS=500
MAX_REQUEST_BYTES=1572864
QUOTA_BYTES=268435456
SNAPSHOT_COUNT=10000
HEALTH_WAIT_TRIES=150  # x 0.1 s
AUTH_ROOT_PASSWORD=nebu-test-root
AUTH_PASSWORD=nebu-test-password
AUTH_TOKEN_TTL_S=1

default_dir() { echo "${NEBU_ETCD_DIR:-/tmp/nebu-etcd-$(printf '%s' "${repo}" | sha256sum | cut -c1-8)}"; }

ensure_etcd() {
  if [[ -x "${ETCD_BIN}" ]]; then return 0; fi
  echo "etcd.sh: installing etcd-server etcd-client" >&2
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq --no-install-recommends \
    etcd-server etcd-client >/dev/null
  # Debian's package starts a system etcd on 2379; ours must not depend on it.
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Below the kernel's ephemeral range (see scripts/pg.sh for why).
free_port() {
  local p low=32768
  if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  fi
  if ((low <= 20100)); then low=40000; fi
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % (low - 20000)))
    if ! port_in_use "${p}" && ! grep -qsx "${p}" "${DIR}/ports.taken"; then
      echo "${p}" >>"${DIR}/ports.taken"
      echo "${p}"
      return 0
    fi
  done
  echo "etcd.sh: no free port found" >&2
  return 1
}

member_pid() { cat "${DIR}/member-$1.pid" 2>/dev/null || true; }
alive() { local pid; pid=$(member_pid "$1"); [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null; }
members() { cat "${DIR}/members" 2>/dev/null || echo 0; }

# Runs member N from its saved command line, in the background, detached.
launch() {
  local n=$1
  # The args file holds one argument per line.
  mapfile -t args <"${DIR}/member-${n}.args"
  setsid "${ETCD_BIN}" "${args[@]}" >>"${DIR}/member-${n}.log" 2>&1 </dev/null &
  echo $! >"${DIR}/member-${n}.pid"
}

healthy() {  # member N answers /health with a leader
  local port
  port=$(sed -n "$1p" "${DIR}/client-ports")
  if [[ -f "${DIR}/tls/ca.pem" ]]; then
    curl -sf --max-time 1 --cacert "${DIR}/tls/ca.pem" --cert "${DIR}/tls/client.pem" \
      --key "${DIR}/tls/client-key.pem" "https://127.0.0.1:${port}/health" 2>/dev/null |
      grep -q '"health":"true"'
  else
    curl -sf --max-time 1 "http://127.0.0.1:${port}/health" 2>/dev/null | grep -q '"health":"true"'
  fi
}

make_tls() {  # a CA, a server certificate for 127.0.0.1 and a client certificate
  local t="${DIR}/tls"
  mkdir -p "${t}"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nebu-test-ca" \
      -keyout "${t}/ca-key.pem" -out "${t}/ca.pem"
    local who
    for who in server client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=nebu-test-${who}" \
        -keyout "${t}/${who}-key.pem" -out "${t}/${who}.csr"
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' \
        >"${t}/${who}.ext"
      openssl x509 -req -in "${t}/${who}.csr" -CA "${t}/ca.pem" -CAkey "${t}/ca-key.pem" \
        -CAcreateserial -days 2 -extfile "${t}/${who}.ext" -out "${t}/${who}.pem"
    done
  } >"${t}/openssl.log" 2>&1 || { cat "${t}/openssl.log" >&2; return 1; }
}

wait_healthy() {
  local n i
  for ((i = 0; i < HEALTH_WAIT_TRIES; i++)); do
    local ok=1
    for n in "$@"; do
      if ! alive "${n}"; then return 1; fi
      if ! healthy "${n}"; then ok=0; fi
    done
    if ((ok)); then return 0; fi
    sleep 0.1
  done
  return 1
}

stop() {
  local n pid
  for ((n = 1; n <= $(members); n++)); do
    pid=$(member_pid "${n}")
    if [[ -n "${pid}" ]]; then kill -CONT "${pid}" 2>/dev/null || true; kill "${pid}" 2>/dev/null || true; fi
  done
  for ((n = 1; n <= $(members); n++)); do
    pid=$(member_pid "${n}")
    [[ -n "${pid}" ]] || continue
    for _ in $(seq 1 50); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pid}" 2>/dev/null || true
    rm -f "${DIR}/member-${n}.pid"
  done
}

write_config() {  # the ports and each member's command line
  local count=$1 tls=$2 n token cluster="" scheme=http
  if ((tls)); then scheme=https; fi
  : >"${DIR}/ports.taken"
  : >"${DIR}/client-ports"
  : >"${DIR}/peer-ports"
  for ((n = 1; n <= count; n++)); do
    free_port >>"${DIR}/client-ports"
    free_port >>"${DIR}/peer-ports"
    cluster+="${cluster:+,}m${n}=http://127.0.0.1:$(sed -n "${n}p" "${DIR}/peer-ports")"
  done
  token="nebu-test-$$-${RANDOM}"
  for ((n = 1; n <= count; n++)); do
    local cp pp
    cp=$(sed -n "${n}p" "${DIR}/client-ports")
    pp=$(sed -n "${n}p" "${DIR}/peer-ports")
    printf '%s\n' --name "m${n}" --data-dir "${DIR}/data/m${n}" \
      --listen-client-urls "${scheme}://127.0.0.1:${cp}" --advertise-client-urls "${scheme}://127.0.0.1:${cp}" \
      --listen-peer-urls "http://127.0.0.1:${pp}" --initial-advertise-peer-urls "http://127.0.0.1:${pp}" \
      --initial-cluster "${cluster}" --initial-cluster-token "${token}" \
      --initial-cluster-state new \
      --heartbeat-interval "${HEARTBEAT_MS}" --election-timeout "${ELECTION_MS}" \
      --max-request-bytes "${MAX_REQUEST_BYTES}" --quota-backend-bytes "${QUOTA_BYTES}" \
      --snapshot-count "${SNAPSHOT_COUNT}" --logger zap --log-level warn \
      --auth-token-ttl "${AUTH_TOKEN_TTL_S}" \
      >"${DIR}/member-${n}.args"
    if ((tls)); then
      printf '%s\n' --cert-file "${DIR}/tls/server.pem" --key-file "${DIR}/tls/server-key.pem" \
        --trusted-ca-file "${DIR}/tls/ca.pem" --client-cert-auth >>"${DIR}/member-${n}.args"
    fi
  done
  echo "${count}" >"${DIR}/members"
  sed "s|^|${scheme}://127.0.0.1:|" "${DIR}/client-ports" | paste -sd, >"${DIR}/endpoints"
}

enable_auth() {
  local ctl=(env ETCDCTL_API=3 etcdctl --endpoints="$(cat "${DIR}/endpoints")")
  {
    "${ctl[@]}" user add "root:${AUTH_ROOT_PASSWORD}"
    "${ctl[@]}" role add root
    "${ctl[@]}" user grant-role root root
    "${ctl[@]}" user add "nebu:${AUTH_PASSWORD}"
    "${ctl[@]}" role add nebu
    "${ctl[@]}" role grant-permission nebu --prefix=true readwrite /nebu-test/
    "${ctl[@]}" user grant-role nebu nebu
    "${ctl[@]}" auth enable
  } >"${DIR}/auth.log" 2>&1 || { cat "${DIR}/auth.log" >&2; return 1; }
}

start() {
  local count=1 n attempt auth=0 tls=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --auth) auth=1 ;;
      --tls) tls=1 ;;
      --members=1) count=1 ;;
      --members=3) count=3 ;;
      --members=*) echo "etcd.sh: --members is 1 or 3" >&2; exit 2 ;;
      *) DIR=$1 ;;
    esac
    shift
  done
  ensure_etcd
  mkdir -p "${DIR}"
  stop
  for attempt in 1 2 3; do
    rm -rf "${DIR}/data" "${DIR}"/member-*.log "${DIR}/tls"
    mkdir -p "${DIR}/data"
    if ((tls)); then make_tls; fi
    write_config "${count}" "${tls}"
    for ((n = 1; n <= count; n++)); do launch "${n}"; done
    # shellcheck disable=SC2046  # one argument per member
    if wait_healthy $(seq 1 "${count}"); then
      if ((auth)); then enable_auth; fi
      cat "${DIR}/endpoints"
      return 0
    fi
    stop
    # A port taken since we picked it: other ports. Any other failure: give up.
    if ((attempt == 3)) || ! grep -qs "address already in use" "${DIR}"/member-*.log; then
      tail -n 20 "${DIR}"/member-*.log >&2 || true
      echo "etcd.sh: etcd did not become healthy" >&2
      exit 1
    fi
  done
}

start_member() {
  local n=$1
  if alive "${n}"; then return 0; fi
  sed -i 's/^new$/existing/' "${DIR}/member-${n}.args"
  launch "${n}"
  if ! wait_healthy "${n}"; then
    tail -n 20 "${DIR}/member-${n}.log" >&2
    exit 1
  fi
}

cmd=${1:-}
shift || true
DIR=$(default_dir)
case "${cmd}" in
  start) start "$@" ;;
  stop) DIR=${1:-${DIR}}; stop ;;
  endpoints) DIR=${1:-${DIR}}; cat "${DIR}/endpoints" ;;
  pid) DIR=${2:-${DIR}}; member_pid "${1:?member number}" ;;
  start-member) DIR=${2:-${DIR}}; start_member "${1:?member number}" ;;
  destroy) DIR=${1:-${DIR}}; stop; rm -rf "${DIR}" ;;
  *) echo "usage: $0 start [--members=1|3] [--auth] [--tls] [DIR] | endpoints|stop|destroy [DIR] | pid|start-member N [DIR]" >&2; exit 2 ;;
esac
