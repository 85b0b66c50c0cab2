#!/bin/sh
# The official postgres image's contract, the part the Dimini operator relies on:
#   empty $PGDATA -> initdb (scram-sha-256, $POSTGRES_PASSWORD), create $POSTGRES_DB, listen on *
#   existing data -> just start.
# postgres is exec'd, so it is PID 1 and gets the runtime's stop signal itself.
set -eu

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

# `docker-entrypoint.sh -c fsync=off` means postgres with those options; anything else runs as is.
if [ "${1#-}" != "${1:-}" ]; then
  set -- postgres "$@"
fi
if [ "${1:-}" != postgres ]; then
  exec "$@"
fi

log() { echo "docker-entrypoint: $*" >&2; }

init_database() {
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    log "error: the data directory $PGDATA is empty and POSTGRES_PASSWORD is not set"
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  pwfile=$(umask 077 && mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  log "initialising $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >&2
  rm -f "$pwfile"
  printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  if [ "$POSTGRES_DB" != postgres ]; then
    # A server on a private socket only, so nothing can connect before the database exists.
    sockdir=$(mktemp -d)
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=$sockdir" start >&2
    echo 'CREATE DATABASE :"db";' | PGPASSWORD="$POSTGRES_PASSWORD" psql -X -q \
      -v ON_ERROR_STOP=1 -v db="$POSTGRES_DB" -h "$sockdir" -U "$POSTGRES_USER" -d postgres
    pg_ctl -D "$PGDATA" -w -m fast stop >&2
    rmdir "$sockdir" 2>/dev/null || true
  fi
  log "initialisation complete"
}

if [ -s "$PGDATA/PG_VERSION" ]; then
  log "existing data directory $PGDATA: starting without initialisation"
  # A kubelet applying the pod's fsGroup opens the directory to the group; postgres refuses to
  # start on that (as the official image does, put the owner-only mode back on every start).
  chmod 700 "$PGDATA"
else
  init_database
fi
exec "$@"
