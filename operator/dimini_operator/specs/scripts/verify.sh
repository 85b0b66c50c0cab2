#!/bin/sh
# dimini verify: restore backup $1 (default: the one named in $BACKUP_DIR/.current) into a
# throwaway Postgres started here (same image, so the same major version), and compare it with
# its manifest: checksum of the dump, Alembic revision, row count of every table. Only a backup
# that passes gets <name>.verified; one that fails gets <name>.failed. Then retention runs:
# the oldest beyond $RETENTION_COUNT and those older than $RETENTION_MAX_AGE_DAYS go, never the
# newest verified one. The result, as JSON, is the container's termination message.
set -eu

dir=${BACKUP_DIR:-/backups}
report=${TERMINATION_LOG:-/dev/termination-log}
scripts=$(dirname "$0")
name=${1:-$(cat "$dir/.current" 2>/dev/null || true)}
work=$(mktemp -d)
pgdata="$work/pgdata"

cleanup() {
  if [ -f "$pgdata/postmaster.pid" ]; then
    pg_ctl -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Retention: names sort by time (dimini-<UTC timestamp>...).
retain() {
  keep=${RETENTION_COUNT:-7}
  days=${RETENTION_MAX_AGE_DAYS:-}
  names=$(find "$dir" -maxdepth 1 -name 'dimini-*.json' | sed 's|.*/||; s|\.json$||' | sort)
  total=$(printf '%s\n' "$names" | grep -c . || true)
  newest_verified=""
  for n in $names; do
    if [ -f "$dir/$n.verified" ]; then newest_verified=$n; fi
  done
  cutoff=""
  if [ -n "$days" ]; then
    cutoff=$(date -u -d "@$(($(date -u +%s) - days * 86400))" +%Y%m%dT%H%M%SZ)
  fi
  i=0
  for n in $names; do
    i=$((i + 1))
    [ "$n" = "$newest_verified" ] && continue
    ts=$(printf '%s' "$n" | sed 's/^dimini-\([0-9]\{8\}T[0-9]\{6\}Z\).*/\1/')
    if [ $((total - i)) -ge "$keep" ] || { [ -n "$cutoff" ] && expr "x$ts" \< "x$cutoff" >/dev/null; }; then
      rm -f "$dir/$n.dump" "$dir/$n.json" "$dir/$n.verified" "$dir/$n.failed"
      echo "dimini-verify: retention removed $n" >&2
    fi
  done
  find "$dir" -maxdepth 1 -name 'dimini-*.json' | grep -c . || true
}

field() { # field NAME FILE: a string or number field of a flat manifest
  sed -n "s/.*\"$1\" *: *\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" "$2" | head -n1
}

fail() {
  echo "dimini-verify: $name: $1" >&2
  msg=$(printf '%s' "$1" | tr '\n"\\' '   ' | cut -c1-400)
  if [ -n "$name" ] && [ -f "$dir/$name.json" ]; then
    printf '{"backup":"%s","failedAt":"%s","error":"%s"}\n' "$name" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$msg" >"$dir/$name.failed"
  fi
  count=$(retain)
  printf '{"step":"verify","backup":"%s","verified":false,"error":"%s","count":%s}\n' \
    "$name" "$msg" "${count:-0}" >"$report" 2>/dev/null || true
  exit 1
}

[ -n "$name" ] || fail "no backup to verify"
manifest="$dir/$name.json"
dump="$dir/$name.dump"
[ -f "$manifest" ] || fail "manifest $name.json not found"
[ -f "$dump" ] || fail "dump $name.dump not found"

want=$(field sha256 "$manifest")
have=$(sha256sum "$dump" | cut -d' ' -f1)
[ "$want" = "$have" ] || fail "checksum mismatch: the dump is not what was written"

# A private server: no TCP, socket in the work directory, nothing to persist.
initdb -D "$pgdata" -U verify --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$work/initdb.log" 2>&1 ||
  initdb -D "$pgdata" -U verify --auth=trust --encoding=UTF8 --no-sync >"$work/initdb.log" 2>&1 ||
  fail "initdb failed: $(tail -n 3 "$work/initdb.log")"
pg_ctl -D "$pgdata" -l "$work/server.log" -w -t 120 \
  -o "-c listen_addresses='' -k $work -c fsync=off -c full_page_writes=off" start >/dev/null 2>&1 ||
  fail "throwaway postgres did not start: $(tail -n 3 "$work/server.log")"
export PGHOST="$work" PGUSER=verify PGPORT=5432
unset PGPASSWORD PGDATABASE PGSSLMODE
psql -X -q -d postgres -c 'CREATE DATABASE restored' || fail "cannot create the scratch database"
pg_restore --exit-on-error --no-owner --no-privileges -d restored "$dump" 2>"$work/restore.err" ||
  fail "pg_restore failed: $(tail -n 3 "$work/restore.err")"

actual=$(psql -X -q -At -v ON_ERROR_STOP=1 -d restored -f "$scripts/facts.sql") ||
  fail "cannot read the restored database"
# Postgres compares the two JSON documents; the output names what differs.
diff=$(psql -X -q -At -v ON_ERROR_STOP=1 -d restored -v want="$(cat "$manifest")" -v have="$actual" -f "$scripts/compare.sql") || fail "cannot compare the restored database with the manifest"
[ -z "$diff" ] || fail "restored copy differs from the manifest: $diff"

verified=$(date -u +%Y-%m-%dT%H:%M:%SZ)
body=$(cat "$manifest")
printf '%s, "verifiedAt": "%s"}\n' "${body%\}}" "$verified" >"$dir/$name.verified"
count=$(retain)
printf '%s, "step": "verify", "verified": true, "verifiedAt": "%s", "count": %s}\n' \
  "${body%\}}" "$verified" "${count:-0}" >"$report" 2>/dev/null || true
echo "dimini-verify: $name verified (revision $(field revision "$manifest"))" >&2
