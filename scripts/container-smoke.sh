#!/usr/bin/env bash
# The container smoke test (scripts/test.sh runs it as the phase container-smoke; `make
# container-smoke`). With podman, on loopback:
#   1. the runtime image from the ALREADY BUILT build/app/nebu (deploy/Containerfile,
#      NEBU_BINARY_FROM=prebuilt: no compile), with --format docker (HEALTHCHECK kept);
#   2. deploy/compose.yaml (nebu + PostgreSQL + one etcd member, and the profile element:
#      nginx with the seed's routing table in front of nebu and Element) through docker-compose
#      1.29 against podman's Docker API socket; waits until every container is healthy;
#      a real client (matrix-nio, tests/deploy/smoke.py) registers, creates a room, sends
#      and syncs, directly and through nginx; each route of the routing table reaches
#      nebu, / reaches Element; the event's row appears in PostgreSQL; uid 10001;
#      `make dev-reset-db` empties PostgreSQL and the row comes back (re-projected);
#   3. deploy/compose.scale.yaml on top (three nodes, three etcd members): a message sent
#      on node1 is synced on node2; node3 is killed (SIGKILL); a send on node2 reaches
#      node1 and PostgreSQL, and node1's /health lists two nodes;
#   4. tears everything down (containers, volumes, network, API service).
#
#   sudo scripts/container-smoke.sh      # as root (rootful podman)
#   NEBU_CONTAINER_SMOKE=0 ...           # skip
#
# This machine kind (see deploy/README.md): no registry, so the Debian 12 base image is
# made with `debootstrap --variant=minbase bookworm` + `podman import`, the tarball cached
# in NEBU_CONTAINER_CACHE (default /var/cache/nebu-container); PostgreSQL and etcd run from
# stand-in images built from Debian packages (tests/deploy/images/); podman runs with
# runtime runc and raised ulimits (a containers.conf given through CONTAINERS_CONF); there
# is no systemd, so health checks are driven by `podman healthcheck run` in a loop.
# Image layers are cached by podman: a second run builds in seconds.
#
# Exit: 0 passed or skipped (no podman and none installable, not root, NEBU_CONTAINER_SMOKE=0:
# a message says why), 1 a check failed, 2 it could not set up.
# shellcheck disable=SC2317  # the functions below run through timed "$@" and traps
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

project=nebusmoke                       # Compose project (container and volume names)
net_prefix=${NEBU_SMOKE_NET_PREFIX:-172.30.213}  # the Compose network, a /24
cache=${NEBU_CONTAINER_CACHE:-/var/cache/nebu-container}
base_image=localhost/nebu-base/debian:bookworm
nebu_image=localhost/nebu/core:smoke
pg_image=localhost/nebu-smoke/postgres:15
etcd_image=localhost/nebu-smoke/etcd:3.4
nginx_image=localhost/nebu-smoke/nginx:debian
healthy_seconds_max=240                 # one stack's bound to become healthy
projection_seconds_max=60               # bound for an event's row in PostgreSQL
cluster_seconds_max=60                  # bound for /health's node list to change
python=/usr/bin/python3                 # Debian's, with python3-matrix-nio
container_pkgs=(podman buildah runc iptables netavark aardvark-dns docker-compose debootstrap)

say() { echo "container-smoke: $*"; }
skip() { say "SKIPPED: $*"; exit 0; }
die() { say "cannot run: $*" >&2; exit 2; }

[[ "${NEBU_CONTAINER_SMOKE:-1}" != 0 ]] || skip "NEBU_CONTAINER_SMOKE=0"
[[ $(id -u) -eq 0 ]] || skip "needs root (rootful podman); run it with sudo"
[[ -x build/app/nebu ]] || die "build/app/nebu is missing (cmake --build build --target nebu)"

# ---- podman: installed, or installable, or skip -------------------------------------
install_container_pkgs() {
  local missing=() p
  for p in "${container_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "${p}" 2>/dev/null | grep -q "install ok installed" || missing+=("${p}")
  done
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null || return 1
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >/dev/null 2>&1; }
}
install_container_pkgs || skip "podman is not installable here (apt-get install ${container_pkgs[*]} failed)"
if ! command -v podman >/dev/null || ! command -v docker-compose >/dev/null; then
  skip "podman or docker-compose missing"
fi

tmp=$(mktemp -d /tmp/nebu-container-smoke.XXXXXX) || die "mktemp failed"
export CONTAINERS_CONF="${tmp}/containers.conf"
cat >"${CONTAINERS_CONF}" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
podman info >/dev/null 2>&1 || skip "podman does not work here: $(podman info 2>&1 | tail -1)"

# ---- clean-up at exit --------------------------------------------------------------
api_pid=""
health_pid=""
compose_files=(-f deploy/compose.yaml)
compose() { docker-compose -p "${project}" "${compose_files[@]}" "$@"; }
cleanup() {
  local started=${SECONDS}
  [[ -z "${health_pid}" ]] || kill "${health_pid}" 2>/dev/null
  if [[ -n "${api_pid}" ]]; then
    compose_files=(-f deploy/compose.yaml -f deploy/compose.scale.yaml)
    COMPOSE_PROFILES=element compose down -v --remove-orphans -t 10 >/dev/null 2>&1
    kill "${api_pid}" 2>/dev/null
    wait "${api_pid}" 2>/dev/null
  fi
  rm -rf "${tmp}"
  say "torn down in $((SECONDS - started)) s"
}
trap cleanup EXIT

timed() {  # timed WHAT COMMAND...: runs it, prints its time
  local what=$1 start=${SECONDS} rc=0
  shift
  "$@" || rc=$?
  say "${what}: $((SECONDS - start)) s$([[ ${rc} -ne 0 ]] && echo ", FAILED (exit ${rc})")"
  return "${rc}"
}

# ---- images ------------------------------------------------------------------------
make_base_image() {
  podman image exists "${base_image}" && return 0
  local tarball="${cache}/bookworm-minbase.tar.gz"
  if [[ ! -s "${tarball}" ]]; then
    say "debootstrap --variant=minbase bookworm (cached in ${tarball})"
    mkdir -p "${cache}" && rm -rf "${tmp}/rootfs" || return 1
    debootstrap --variant=minbase bookworm "${tmp}/rootfs" http://deb.debian.org/debian \
      >"${tmp}/debootstrap.log" 2>&1 || { tail -5 "${tmp}/debootstrap.log"; return 1; }
    tar -C "${tmp}/rootfs" -c . | gzip -1 >"${tarball}.tmp" && mv "${tarball}.tmp" "${tarball}" || return 1
    rm -rf "${tmp}/rootfs"
  fi
  podman import --change 'CMD ["/bin/bash"]' "${tarball}" "${base_image}" >/dev/null
}

build() {  # build LOG ARGS...: podman build, its output in LOG (shown on failure)
  local log=$1
  shift
  nice -n 10 podman build --format docker --build-arg BASE_IMAGE="${base_image}" "$@" \
    >"${log}" 2>&1 || { tail -20 "${log}"; return 1; }
}

make_images() {
  mkdir -p build/container || return 1
  strip --strip-debug -o build/container/nebu build/app/nebu || return 1
  build "${tmp}/build-nebu.log" -f deploy/Containerfile \
    --ignorefile deploy/Containerfile.dockerignore \
    --build-arg NEBU_BINARY_FROM=prebuilt --build-arg NEBU_BINARY=build/container/nebu \
    -t "${nebu_image}" . || return 1
  build "${tmp}/build-pg.log" -f tests/deploy/images/postgres.Containerfile \
    -t "${pg_image}" tests/deploy/images || return 1
  build "${tmp}/build-etcd.log" -f tests/deploy/images/etcd.Containerfile \
    -t "${etcd_image}" tests/deploy/images || return 1
  build "${tmp}/build-nginx.log" -f tests/deploy/images/nginx.Containerfile \
    -t "${nginx_image}" tests/deploy/images
}

timed "base image" make_base_image || die "no base image"
# Whether this machine can run a container at all (user namespaces, cgroups, the
# runtime): if even the plain base image cannot run `true`, the environment is missing,
# not something of ours; skip rather than fail.
podman run --rm --network none "${base_image}" true >/dev/null 2>&1 ||
  skip "podman cannot run a container here (podman run ${base_image} true failed)"
timed "images (nebu from build/app/nebu; PostgreSQL, etcd, nginx stand-ins)" make_images || die "image build failed"
# The image keeps its health check only in the docker format.
[[ "$(podman image inspect --format '{{.Config.Healthcheck.Test}}' "${nebu_image}" 2>/dev/null)" == *nebu-healthcheck* ]] ||
  die "the image lost its HEALTHCHECK"

# ---- the Docker API for docker-compose, and the health check driver -------------------
podman system service --time=0 "unix://${tmp}/podman.sock" >"${tmp}/api.log" 2>&1 &
api_pid=$!
export DOCKER_HOST="unix://${tmp}/podman.sock"
for _ in $(seq 1 100); do [[ -S "${tmp}/podman.sock" ]] && break; sleep 0.1; done
[[ -S "${tmp}/podman.sock" ]] || die "podman system service did not start"

drive_health() {  # no systemd here: podman runs no health check by itself
  local id
  while true; do
    for id in $(podman ps -q --filter "label=com.docker.compose.project=${project}"); do
      podman healthcheck run "${id}" >/dev/null 2>&1
    done
    sleep 2
  done
}
drive_health &
health_pid=$!

free_port() { "${python}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
secrets="${tmp}/secrets"
mkdir -m 0700 "${secrets}" || die "mkdir failed"
for name in internal_secret registration_shared_secret pg_password s3_secret_key \
  oidc_client_secret minio_root_password; do
  head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"${secrets}/${name}"
done
printf minio-root >"${secrets}/minio_root_user"
printf 'postgresql://nebu_app:%s@postgres:5432/nebu' "$(cat "${secrets}/pg_password")" >"${secrets}/db_url"
chmod 0644 "${secrets}"/*
export NEBU_SECRETS_DIR="${secrets}" NEBU_NET_PREFIX="${net_prefix}" \
  NEBU_IMAGE="${nebu_image}" NEBU_POSTGRES_IMAGE="${pg_image}" NEBU_ETCD_IMAGE="${etcd_image}" \
  NEBU_NGINX_IMAGE="${nginx_image}" NEBU_ELEMENT_IMAGE="${nginx_image}" \
  NEBU_REGISTRATION=open NEBU_RATE_LIMIT=off
for var in NEBU_CLIENT_PORT NEBU_OPS_PORT NEBU_DEX_PORT NEBU_WEB_PORT NEBU2_CLIENT_PORT NEBU2_OPS_PORT \
  NEBU3_CLIENT_PORT NEBU3_OPS_PORT; do
  export "${var}=$(free_port)"
done

# ---- checks ------------------------------------------------------------------------
failures=()
fail() { say "FAIL: $*"; failures+=("$*"); }

wait_healthy() {  # wait_healthy SERVICE...: every container of them healthy, bounded
  local deadline=$((SECONDS + healthy_seconds_max)) service status pending
  while ((SECONDS < deadline)); do
    pending=()
    for service in "$@"; do
      status=$(podman inspect --format '{{.State.Health.Status}}' "${project}_${service}_1" 2>/dev/null)
      [[ "${status}" == healthy ]] || pending+=("${service}:${status:-absent}")
    done
    ((${#pending[@]} == 0)) && return 0
    sleep 1
  done
  say "not healthy within ${healthy_seconds_max} s: ${pending[*]}"
  return 1
}

up() {  # up: docker-compose up -d (it waits for the dependencies' health itself)
  timeout 600 docker-compose -p "${project}" "${compose_files[@]}" up -d >"${tmp}/up.log" 2>&1 ||
    { tail -20 "${tmp}/up.log"; return 1; }
}

smoke_client() {  # smoke_client ARGS...: tests/deploy/smoke.py; sets event_id
  local out
  out=$("${python}" tests/deploy/smoke.py "$@") || { echo "${out}"; return 1; }
  echo "${out}" | grep -v '^event_id \|^room_id '
  event_id=$(echo "${out}" | sed -n 's/^event_id //p')
  [[ -n "${event_id}" ]]
}

projected() {  # projected EVENT_ID: its row is in PostgreSQL's events table, bounded
  local deadline=$((SECONDS + projection_seconds_max)) n
  while ((SECONDS < deadline)); do
    n=$(podman exec "${project}_postgres_1" psql -U nebu_app -d nebu -Atc \
      "SELECT count(*) FROM events WHERE event_id = '$1'" 2>/dev/null)
    [[ "${n}" == 1 ]] && return 0
    sleep 1
  done
  return 1
}

cluster_nodes() {  # cluster_nodes OPS_PORT: the number of nodes in /health
  curl -fsS "http://127.0.0.1:$1/health" 2>/dev/null |
    "${python}" -c 'import json,sys; print(len(json.load(sys.stdin).get("cluster_nodes", [])))' 2>/dev/null
}

wait_cluster_nodes() {  # wait_cluster_nodes OPS_PORT N
  local deadline=$((SECONDS + cluster_seconds_max))
  while ((SECONDS < deadline)); do
    [[ "$(cluster_nodes "$1")" == "$2" ]] && return 0
    sleep 1
  done
  return 1
}

dump_logs() {
  local c
  for c in $(podman ps -a --format '{{.Names}}' --filter "label=com.docker.compose.project=${project}"); do
    echo "---- ${c}"
    podman logs --tail 15 "${c}" 2>&1
  done
}

web_routes() {  # the nginx routing table of deploy/nginx/nebu.conf, through the proxy
  local web="http://127.0.0.1:${NEBU_WEB_PORT}" rc=0 route want body
  for route in "/_matrix/client/versions|\"versions\"" "/.well-known/matrix/client|m.homeserver" \
    "/_synapse/admin/v1/server_version|M_MISSING_TOKEN" "/api/v1/audit|M_MISSING_TOKEN" \
    "/_nebu/sso/callback|errcode" "/admin/|errcode" "/|element stand-in" "/config.json|disable_custom_urls"; do
    want=${route#*|}
    body=$(curl -s --max-time 10 "${web}${route%%|*}")
    [[ "${body}" == *"${want}"* ]] || { say "nginx ${route%%|*}: no ${want} in: ${body:0:200}"; rc=1; }
  done
  return "${rc}"
}

single_stack() {
  compose_files=(-f deploy/compose.yaml)
  export COMPOSE_PROFILES=element
  timed "compose up (nebu, PostgreSQL, etcd; profile element: nginx, Element stand-in)" up ||
    { dump_logs; return 1; }
  timed "healthy" wait_healthy postgres etcd1 nebu element nginx || { dump_logs; return 1; }
  timed "nginx routing table (nebu routes, Element last)" web_routes || fail "nginx routing table"
  timed "client through nginx: register, room, send, sync" smoke_client \
    --url "http://127.0.0.1:${NEBU_WEB_PORT}" --user dave || fail "client through nginx"
  local ready uid
  ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${NEBU_OPS_PORT}/ready")
  [[ "${ready}" == 200 ]] || fail "/ready answered ${ready}"
  uid=$(podman exec "${project}_nebu_1" id -u)
  [[ "${uid}" == 10001 ]] || fail "nebu runs as uid ${uid}, not 10001"
  timed "client: register, room, send, sync" smoke_client \
    --url "http://127.0.0.1:${NEBU_CLIENT_PORT}" --user alice || fail "single node: client smoke"
  if [[ -n "${event_id:-}" ]]; then
    timed "event ${event_id} projected into PostgreSQL" projected "${event_id}" ||
      fail "single node: ${event_id} not in PostgreSQL within ${projection_seconds_max} s"
    timed "make dev-reset-db, then the event projected again" reset_db "${event_id}" ||
      fail "single node: make dev-reset-db did not bring ${event_id} back"
  fi
  compose down -v -t 30 >/dev/null 2>&1
  unset COMPOSE_PROFILES
}

reset_db() {  # reset_db EVENT_ID: the Makefile's dev-reset-db; the log projects again
  timed "  make dev-reset-db" reset_make || return 1
  timed "  nebu healthy again" wait_healthy nebu && timed "  projected again" projected "$1"
}

reset_make() {
  make -s dev-reset-db COMPOSE="docker-compose -p ${project}" >"${tmp}/reset.log" 2>&1 ||
    { tail -20 "${tmp}/reset.log"; return 1; }
}

scale_stack() {
  compose_files=(-f deploy/compose.yaml -f deploy/compose.scale.yaml)
  timed "compose up (three nodes, three etcd members)" up || { dump_logs; return 1; }
  timed "healthy" wait_healthy postgres etcd1 etcd2 etcd3 nebu nebu2 nebu3 || { dump_logs; return 1; }
  timed "node1 /health lists three nodes" wait_cluster_nodes "${NEBU_OPS_PORT}" 3 ||
    fail "scale: /health lists $(cluster_nodes "${NEBU_OPS_PORT}") nodes, not 3"
  timed "client: send on node1, sync on node2" smoke_client \
    --url "http://127.0.0.1:${NEBU_CLIENT_PORT}" --read-url "http://127.0.0.1:${NEBU2_CLIENT_PORT}" \
    --user bob || fail "scale: node1 -> node2"
  podman kill --signal KILL "${project}_nebu3_1" >/dev/null || fail "scale: cannot kill node3"
  say "killed node3 (SIGKILL)"
  timed "client: send on node2, sync on node1 (node3 dead)" smoke_client \
    --url "http://127.0.0.1:${NEBU2_CLIENT_PORT}" --read-url "http://127.0.0.1:${NEBU_CLIENT_PORT}" \
    --user carol || fail "scale: node2 -> node1 with node3 dead"
  if [[ -n "${event_id:-}" ]]; then
    timed "event ${event_id} projected into PostgreSQL" projected "${event_id}" ||
      fail "scale: ${event_id} not in PostgreSQL within ${projection_seconds_max} s"
  fi
  timed "node1 /health lists two nodes" wait_cluster_nodes "${NEBU_OPS_PORT}" 2 ||
    fail "scale: /health lists $(cluster_nodes "${NEBU_OPS_PORT}") nodes after the kill, not 2"
  compose down -v -t 30 >/dev/null 2>&1
}

compose_files=(-f deploy/compose.yaml -f deploy/compose.scale.yaml)
compose down -v --remove-orphans -t 5 >/dev/null 2>&1  # a crashed earlier run's leftovers
event_id=""
timed "single node stack" single_stack || fail "single node stack did not come up"
event_id=""
timed "three node stack" scale_stack || fail "three node stack did not come up"

if ((${#failures[@]} > 0)); then
  say "FAILED: ${#failures[@]} check(s)"
  exit 1
fi
say "passed"
exit 0
