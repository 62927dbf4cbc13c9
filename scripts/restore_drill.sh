#!/usr/bin/env bash
# The restore drill (issue 13): backups that restore, run for real.
#
#   scripts/restore_drill.sh            # after building build/app/nebu; CI runs it as
#                                       # the e2e suite js-restore (scripts/e2e.sh)
#
#  1. a node with a PostgreSQL projection; matrix-js-sdk (tests/e2e/js/restore.mjs
#     before) syncs and saves its sync token; NEBU_DRILL_EVENTS (default 3000) events
#     are sent over HTTP, every acknowledged event ID recorded;
#  2. `nebu backup create` while a sender keeps sending; `nebu backup verify`;
#  3. the node stops; `nebu backup restore` into a new directory; then, in this order,
#     `nebu projection rebuild` and `nebu projection verify` on it (the node stopped:
#     both open the data directory), and the node starts on it;
#  4. every event acknowledged before the backup was asked for is there with the same
#     ID; restore.mjs after: the SDK with its old token re-syncs (an initial sync),
#     then syncs incrementally.
# PostgreSQL: a new database in the test cluster of NEBU_TEST_PG_ADMIN_URL (scripts/test.sh
# exports it), else a throwaway cluster of scripts/pg.sh in the drill's directory.
# Every wait is bounded; exit 0 when everything held, 1 otherwise.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
nebu=${NEBU_E2E_BIN:-build/app/nebu}
events=${NEBU_DRILL_EVENTS:-3000}
parallel=8            # concurrent senders while loading
during_max=20000      # bound of the sends during the backup
health_seconds_max=30
python=/usr/bin/python3

die() { echo "drill: $*" >&2; exit 1; }
[[ -x ${nebu} ]] || die "${nebu} is not built"
tmp=$(mktemp -d /tmp/nebu-drill.XXXXXX) || die "mktemp failed"
pids=()
own_pg=0
pg_dir="/tmp/nebu-drill-pg.$$"  # outside ${tmp} (0700): the postgres user must reach it
drill_db=""
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "${pid}" 2>/dev/null; wait "${pid}" 2>/dev/null; done
  if [[ -n ${drill_db} ]]; then psql "${NEBU_TEST_PG_ADMIN_URL}" -qc "DROP DATABASE IF EXISTS ${drill_db}" >/dev/null 2>&1; fi
  ((own_pg)) && NEBU_PG_DIR="${pg_dir}" bash scripts/pg.sh destroy >/dev/null 2>&1
  rm -rf "${tmp}"
}
trap cleanup EXIT

if [[ -n ${NEBU_TEST_PG_ADMIN_URL:-} ]]; then
  drill_db="nebu_drill_$$"
  psql "${NEBU_TEST_PG_ADMIN_URL}" -qc "CREATE DATABASE ${drill_db} OWNER nebu" || die "cannot create ${drill_db}"
  db_url="${NEBU_TEST_PG_URL%/*}/${drill_db}"
else
  own_pg=1
  db_url=$(NEBU_PG_DIR="${pg_dir}" bash scripts/pg.sh start | tail -n 1) || die "no PostgreSQL (scripts/pg.sh)"
fi

free_port() { "${python}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
client_port=$(free_port); ops_port=$(free_port)
url="http://127.0.0.1:${client_port}"
nebu_env() {  # nebu_env [--exec] DATA_DIR CMD...: runs CMD with the drill's configuration
  local run=() data
  [[ $1 == --exec ]] && { run=(exec); shift; }
  data=$1; shift
  mapfile -t own_vars < <(compgen -e | grep '^NEBU_' | sed 's/^/-u/')
  "${run[@]}" env "${own_vars[@]}" NEBU_DATA_DIR="${data}" NEBU_CLIENT_ADDR="127.0.0.1:${client_port}" \
    NEBU_OPS_ADDR="127.0.0.1:${ops_port}" NEBU_REGISTRATION=open NEBU_RATE_LIMIT=off \
    NEBU_LOG_LEVEL=warn NEBU_DB_URL="${db_url}" "$@"
}
start_node() {  # start_node DATA_DIR
  (nebu_env --exec "$1" "${nebu}" serve >>"${tmp}/nebu.log" 2>&1) &
  node_pid=$!  # the subshell exec'd env, which exec'd nebu: nebu's pid
  pids+=("${node_pid}")
  for _ in $(seq 1 $((health_seconds_max * 10))); do
    curl -fsS "http://127.0.0.1:${ops_port}/health" >/dev/null 2>&1 && return 0
    kill -0 "${node_pid}" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 30 "${tmp}/nebu.log" >&2
  die "nebu did not start on $1"
}
stop_node() {
  kill -TERM "${node_pid}"
  wait "${node_pid}" || die "nebu exited with $? on SIGTERM"
}
api() {  # api METHOD PATH [BODY]: the JSON answer (curl fails on >= 400)
  curl -fsS -X "$1" -H "Authorization: Bearer ${token}" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "${url}/_matrix/client/v3$2"
}
# drill_http load N PREFIX | check FILE: one Python process with `parallel` threads over
# keep-alive connections (a process per request would cost more CPU than the node).
drill_http() {
  "${python}" - "$@" <<'PY'
import http.client, json, os, sys, threading, urllib.parse
port = int(os.environ["DRILL_PORT"]); token = os.environ["DRILL_TOKEN"]
room = urllib.parse.quote(os.environ["DRILL_ROOM"], safe="")
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
def call(conn, method, path, body=None):
    conn.request(method, "/_matrix/client/v3" + path, body=body, headers=headers)
    r = conn.getresponse(); data = r.read()
    return r.status, data
def worker(items, out, fail):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    stop = os.environ.get("DRILL_STOP", "")
    for item in items:
        if stop and os.path.exists(stop): break
        try:
            if sys.argv[1] == "load":
                status, data = call(conn, "PUT", "/rooms/%s/send/m.room.message/%s" % (room, item),
                                    json.dumps({"msgtype": "m.text", "body": item}))
                if status == 200: out.append(json.loads(data)["event_id"])
                else: fail.append("%s: %d %s" % (item, status, data[:200]))
            else:
                status, data = call(conn, "GET", "/rooms/%s/event/%s" % (room, urllib.parse.quote(item, safe="")))
                if status != 200 or json.loads(data)["event_id"] != item: fail.append(item)
        except Exception as e:  # a reset connection: note it, reconnect
            fail.append("%s: %s" % (item, e)); conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
if sys.argv[1] == "load":
    items = ["%s%d" % (sys.argv[3], i) for i in range(int(sys.argv[2]))]
else:
    items = [l.strip() for l in open(sys.argv[2]) if l.strip()]
n = int(os.environ.get("DRILL_PARALLEL", "8")); out = []; fail = []
threads = [threading.Thread(target=worker, args=(items[i::n], out, fail)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
for line in out: print(line)
for f in fail[:20]: print("drill: failed " + f, file=sys.stderr)
sys.exit(1 if fail else 0)
PY
}
js() { (cd tests/e2e/js && NEBU_E2E_URL=${url} NEBU_E2E_STATE_FILE="${tmp}/js-state.json" timeout 300 node restore.mjs "$1"); }

echo "drill: 1. a node with a projection into PostgreSQL, ${events} events"
start_node "${tmp}/data"
js before || die "restore.mjs before failed"
token=$(curl -fsS -X POST "${url}/_matrix/client/v3/register" -H 'Content-Type: application/json' \
  --data '{"username":"loader","password":"loader-password","auth":{"type":"m.login.dummy"}}' |
  "${python}" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') || die "register failed"
room=$(api POST /createRoom '{"name":"drill"}' | "${python}" -c 'import json,sys; print(json.load(sys.stdin)["room_id"])')
export DRILL_PORT=${client_port} DRILL_TOKEN=${token} DRILL_ROOM=${room} DRILL_PARALLEL=${parallel}
started=${SECONDS}
drill_http load "${events}" load >"${tmp}/acked" || die "a send failed"
[[ $(wc -l <"${tmp}/acked") -eq ${events} ]] || die "only $(wc -l <"${tmp}/acked") sends acknowledged"
echo "drill:    ${events} events acknowledged in $((SECONDS - started)) s"

echo "drill: 2. backup while sends continue"
DRILL_STOP="${tmp}/stop" DRILL_PARALLEL=1 drill_http load "${during_max}" during >/dev/null 2>&1 &
sender=$!
nebu_env "${tmp}/data" "${nebu}" backup create "${tmp}/backups" || die "backup create failed"
touch "${tmp}/stop"; wait "${sender}"
nebu_env "${tmp}/data" "${nebu}" backup verify "${tmp}/backups" || die "backup verify failed"

echo "drill: 3. restore into a new directory, projection rebuild + verify, start"
stop_node
nebu_env "${tmp}/restored" "${nebu}" backup restore "${tmp}/backups" --data-dir "${tmp}/restored" || die "restore failed"
nebu_env "${tmp}/restored" "${nebu}" projection rebuild || die "projection rebuild failed"
nebu_env "${tmp}/restored" "${nebu}" projection verify || die "projection verify failed"
start_node "${tmp}/restored"

echo "drill: 4. every acknowledged event, the same IDs; the SDK with its old token"
drill_http check "${tmp}/acked" || die "acknowledged events missing after the restore"
echo "drill:    all ${events} events there"
js after || die "restore.mjs after failed"
stop_node
echo "drill: passed"
