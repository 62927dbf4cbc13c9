#!/bin/bash
# Entry point of the PostgreSQL stand-in (postgres.Containerfile): on an empty data
# directory, initdb with POSTGRES_USER as the superuser and the password from
# POSTGRES_PASSWORD_FILE, create POSTGRES_DB; then run the server on every address,
# password (scram-sha-256) authentication over TCP, as user postgres.
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
data=/var/lib/postgresql/data
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-${user}}
install -d -o postgres -g postgres -m 0700 "${data}"
install -d -o postgres -g postgres -m 0775 /var/run/postgresql
as_postgres() { runuser -u postgres -- "$@"; }
if [[ ! -s "${data}/PG_VERSION" ]]; then
  pwfile=$(mktemp)
  cat "${POSTGRES_PASSWORD_FILE:?POSTGRES_PASSWORD_FILE is required}" >"${pwfile}"
  chown postgres "${pwfile}"
  as_postgres "${bin}/initdb" -D "${data}" -U "${user}" --pwfile="${pwfile}" \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "${pwfile}"
  echo "host all all 0.0.0.0/0 scram-sha-256" >>"${data}/pg_hba.conf"
  as_postgres "${bin}/pg_ctl" -D "${data}" -o "-c listen_addresses=''" -w start >/dev/null
  if [[ "${db}" != postgres ]]; then
    as_postgres "${bin}/psql" -U "${user}" -d postgres -q -c "CREATE DATABASE \"${db}\""
  fi
  as_postgres "${bin}/pg_ctl" -D "${data}" -m fast -w stop >/dev/null
  echo "postgres-entrypoint: initialized ${data} (user ${user}, database ${db})"
fi
exec runuser -u postgres -- "${bin}/postgres" -D "${data}" -c listen_addresses='*'
