#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests and benchmarks (Debian's postgresql-15).
#
#   scripts/pg.sh start       # initdb (first time) + start; prints the runtime URL
#   scripts/pg.sh url         # postgresql://nebu@127.0.0.1:PORT/nebu (runtime role)
#   scripts/pg.sh admin-url   # postgresql://postgres@127.0.0.1:PORT/postgres (superuser)
#   scripts/pg.sh stop        # stops the cluster (its files stay for the next start)
#   scripts/pg.sh destroy     # stops it and removes its directory
#
# NEBU_PG_OPTS adds server options at start (e.g. "-c shared_buffers=1GB" for a benchmark).
#
# The cluster lives in $NEBU_PG_DIR (default /tmp/nebu-pg-<hash of this checkout>), owned
# by the postgres OS user (initdb refuses root), listens only on 127.0.0.1 on a free
# port chosen at the first start (kept in $NEBU_PG_DIR/port) and trusts local
# connections: it is for tests, never for data. The role `nebu` is the runtime role
# (LOGIN, CREATEDB, not a superuser, no CREATEROLE), like a managed database's app user;
# it owns the database `nebu`. `start` is idempotent: a running cluster is left alone.
set -euo pipefail

PG_BIN=${NEBU_PG_BIN:-/usr/lib/postgresql/15/bin}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${NEBU_PG_DIR:-/tmp/nebu-pg-$(printf '%s' "${repo}" | sha256sum | cut -c1-8)}
DATA="${DIR}/data"
PORT_FILE="${DIR}/port"
LOG="${DIR}/server.log"

as_postgres() {  # runs a command as the postgres OS user (we may already be it)
  if [[ $(id -u) -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")  # from /: the caller's directory may be closed to it
  else
    "$@"
  fi
}

port_in_use() {  # something accepts connections on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Below the kernel's ephemeral range (ip_local_port_range, 32768 by default): a port
# there can be the local end of some client connection at the moment we start, and
# then the server cannot bind it.
free_port() {
  local p low=32768
  if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  fi
  if ((low <= 20100)); then low=40000; fi
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % (low - 20000)))
    if ! port_in_use "${p}"; then
      echo "${p}"
      return 0
    fi
  done
  echo "pg.sh: no free port found" >&2
  return 1
}

running() { [[ -f "${DATA}/postmaster.pid" ]] && as_postgres "${PG_BIN}/pg_ctl" -D "${DATA}" status >/dev/null 2>&1; }

url() { echo "postgresql://nebu@127.0.0.1:$(cat "${PORT_FILE}")/nebu"; }
admin_url() { echo "postgresql://postgres@127.0.0.1:$(cat "${PORT_FILE}")/postgres"; }

psql_admin() { "${PG_BIN}/psql" -X -q -v ON_ERROR_STOP=1 "$(admin_url)" "$@"; }

init() {
  if [[ ! -x "${PG_BIN}/initdb" ]]; then
    echo "pg.sh: ${PG_BIN}/initdb not found; install postgresql-15 (scripts/deps.sh --test)" >&2
    exit 1
  fi
  mkdir -p "${DIR}"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "${DIR}"; fi
  as_postgres "${PG_BIN}/initdb" -D "${DATA}" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >"${DIR}/initdb.log" 2>&1 ||
    { cat "${DIR}/initdb.log" >&2; exit 1; }
  free_port >"${PORT_FILE}"
}

start() {
  if [[ ! -f "${DATA}/PG_VERSION" ]]; then init; fi
  if running; then url; return 0; fi
  local port attempt
  port=$(cat "${PORT_FILE}")
  for attempt in 1 2 3; do
    if port_in_use "${port}"; then  # taken by someone else since the last start
      port=$(free_port)
      echo "${port}" >"${PORT_FILE}"
    fi
    # Tuned for tests: durability is not what they check, so no fsync.
    if as_postgres "${PG_BIN}/pg_ctl" -D "${DATA}" -l "${LOG}" -w -t 60 \
      -o "-p ${port} -k ${DIR} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 ${NEBU_PG_OPTS:-}" \
      start >/dev/null 2>&1; then
      break
    fi
    # A port that could not be bound (e.g. the local end of a client connection, which
    # port_in_use cannot see): another one. Any other failure: give up.
    if ((attempt == 3)) || ! tail -20 "${LOG}" | grep -q "could not bind"; then
      tail -20 "${LOG}" >&2
      exit 1
    fi
    port=$(free_port)
    echo "${port}" >"${PORT_FILE}"
  done
  if ! psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'nebu'" | grep -q 1; then
    psql_admin -c "CREATE ROLE nebu LOGIN CREATEDB" -c "CREATE DATABASE nebu OWNER nebu"
  fi
  url
}

stop() {
  if running; then as_postgres "${PG_BIN}/pg_ctl" -D "${DATA}" -m fast -w stop >/dev/null; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  admin-url) admin_url ;;
  destroy) stop; rm -rf "${DIR}" ;;
  *) echo "usage: $0 start|stop|url|admin-url|destroy" >&2; exit 2 ;;
esac
