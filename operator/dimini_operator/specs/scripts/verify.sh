#!/bin/sh
# dimini verify: restore backup $1 (default: the one named in $BACKUP_DIR/.current) into a
# throwaway Postgres started here (same image, so the same major version), and compare it with
# its manifest: checksum of the stored dump (downloaded from S3 and decrypted first, see
# store.sh), Alembic revision, row count of every table. Only a backup that passes gets
# <name>.verified; one that fails gets <name>.failed. Then retention runs: the oldest beyond
# $RETENTION_COUNT and those older than $RETENTION_MAX_AGE_DAYS go, never the newest verified
# one (nor $RETENTION_KEEP, the backup an in-place restore loads). The result, as JSON, is the
# container's termination message.
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

# Retention: names sort by time (dimini-<UTC timestamp>...). Prints the count left; returns 1
# when the target cannot be listed or cleaned (a failure, not a count).
retain() {
  keep=${RETENTION_COUNT:-7}
  days=${RETENTION_MAX_AGE_DAYS:-}
  names=$(store_names json) || return 1
  total=$(printf '%s\n' "$names" | grep -c . || true)
  newest_verified=$(store_names verified) || return 1
  newest_verified=$(printf '%s\n' "$newest_verified" | tail -n1)
  cutoff=""
  if [ -n "$days" ]; then
    cutoff=$(date -u -d "@$(($(date -u +%s) - days * 86400))" +%Y%m%dT%H%M%SZ)
  fi
  i=0
  left=$total
  for n in $names; do
    i=$((i + 1))
    [ "$n" = "$newest_verified" ] && continue
    # The backup an in-place restore is about to load (its safety backup runs this).
    [ "$n" = "${RETENTION_KEEP:-}" ] && continue
    ts=$(printf '%s' "$n" | sed 's/^dimini-\([0-9]\{8\}T[0-9]\{6\}Z\).*/\1/')
    if [ $((total - i)) -ge "$keep" ] || { [ -n "$cutoff" ] && expr "x$ts" \< "x$cutoff" >/dev/null; }; then
      store_remove "$n" || return 1
      left=$((left - 1))
      echo "dimini-verify: retention removed $n" >&2
    fi
  done
  echo "$left"
}

fail() {
  # Once: a failure while recording a failure (the target is unreachable) must not recurse.
  [ -z "${failing:-}" ] || exit 1
  failing=yes
  echo "dimini-verify: $name: $1" >&2
  msg=$(printf '%s' "$1" | tr '\n\t"\\' '    ' | cut -c1-400)
  if [ -n "$name" ] && [ -n "${manifest:-}" ]; then
    printf '{"backup":"%s","failedAt":"%s","error":"%s"}\n' "$name" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$msg" |
      store_write "$name.failed" || true
  fi
  count=$(retain) || count=0
  printf '{"step":"verify","backup":"%s","verified":false,"error":"%s","count":%s}\n' \
    "$name" "$msg" "${count:-0}" >"$report" 2>/dev/null || true
  exit 1
}

. "$scripts/store.sh"
[ -n "$name" ] || fail "no backup to verify"
manifest=""
manifest=$(store_local "$name.json") || fail "manifest $name.json not found"
open_dump "$name" "$manifest"

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
printf '%s, "verifiedAt": "%s"}\n' "${body%\}}" "$verified" | store_write "$name.verified"
count=$(retain) || fail "retention failed: $(rclone_error)"
printf '%s, "step": "verify", "verified": true, "verifiedAt": "%s", "count": %s}\n' \
  "${body%\}}" "$verified" "${count:-0}" >"$report" 2>/dev/null || true
echo "dimini-verify: $name verified (revision $(field revision "$manifest"))" >&2
