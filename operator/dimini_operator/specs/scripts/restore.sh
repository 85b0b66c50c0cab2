#!/bin/sh
# dimini restore: load backup $RESTORE_NAME (default: the newest verified one in the target,
# a PVC or S3, see store.sh) into the stack's database (libpq environment). The dump's checksum
# is checked first (and it is decrypted, when encrypted), the restore is one transaction, and the
# result is compared with the manifest (revision, row counts). JSON result: the container's
# termination message, with "intact": whether the database is still what it was before.
#
# RESTORE_MODE=bootstrap (default, `spec.postgres.bootstrap.fromBackup`): into an empty database;
# one that already has a schema is left alone (a retried bootstrap never restores twice).
# RESTORE_MODE=replace (the in-place restore, specs/inplace.py): the live database's contents are
# replaced. The app's role owns the database (the image's POSTGRES_USER), so it can drop and
# recreate the schema `public` -- the app's only schema -- and load the dump, all in ONE
# transaction: any failure rolls back to the old database, never a half-restored one. That is
# why not `DROP DATABASE` (not transactional, needs every connection gone, and the role would
# connect elsewhere) nor `pg_restore --clean` (it drops only what the dump has: a newer
# migration's tables would stay).
set -eu

dir=${BACKUP_DIR:-/backups}
report=${TERMINATION_LOG:-/dev/termination-log}
scripts=$(dirname "$0")
name=${RESTORE_NAME:-}
mode=${RESTORE_MODE:-bootstrap}
intact=true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "dimini-restore: ${name:-?}: $1" >&2
  msg=$(printf '%s' "$1" | tr '\n\t"\\' '    ' | cut -c1-400)
  printf '{"step":"restore","mode":"%s","backup":"%s","intact":%s,"error":"%s"}\n' \
    "$mode" "$name" "$intact" "$msg" >"$report" 2>/dev/null || true
  exit 1
}

. "$scripts/store.sh"
if [ -z "$name" ]; then
  names=$(store_names verified) || fail "cannot list the target: $(rclone_error)"
  name=$(printf '%s\n' "$names" | tail -n1)
fi
[ -n "$name" ] || fail "no verified backup in the target"
manifest=$(store_local "$name.json") || fail "backup $name not found"
open_dump "$name" "$manifest"

present=$(psql -X -q -At -v ON_ERROR_STOP=1 -c "SELECT to_regclass('public.alembic_version') IS NOT NULL" 2>"$work/err") ||
  fail "cannot connect: $(tr '\n' ' ' <"$work/err" | cut -c1-300)"
if [ "$mode" = replace ]; then
  # Large objects' restore opens transactions of its own, which would end ours early.
  toc=$(pg_restore -l "$dump" 2>"$work/restore.err") ||
    fail "pg_restore cannot read the dump: $(tail -n 3 "$work/restore.err" | tr '\n' ' ')"
  if printf '%s\n' "$toc" | grep -q ' BLOB '; then
    fail "the dump has large objects: an in-place restore cannot load them in one transaction"
  fi
  # COMMIT is sent only after pg_restore wrote the whole dump: if it fails midway, psql reaches
  # the end of its input inside the transaction and the server rolls it back.
  {
    printf 'BEGIN;\nDROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n'
    pg_restore --no-owner --no-privileges -f - "$dump" 2>"$work/restore.err" &&
      : >"$work/loaded" && printf 'COMMIT;\n'
  } | psql -X -q -v ON_ERROR_STOP=1 -f - >/dev/null 2>"$work/psql.err" && code=0 || code=$?
  if [ ! -f "$work/loaded" ]; then
    fail "pg_restore failed: $(tail -n 3 "$work/restore.err" | tr '\n' ' '); the database is unchanged"
  fi
  if [ "$code" -ne 0 ]; then
    # 3: a statement failed and the transaction was rolled back. Otherwise the connection broke,
    # perhaps around the COMMIT: whether the old or the backup's database is there is unknown.
    [ "$code" -eq 3 ] || intact=false
    fail "loading the dump failed: $(tail -n 3 "$work/psql.err" | tr '\n' ' ')"
  fi
  intact=false # committed: the database is the backup's now
elif [ "$present" = t ]; then
  printf '{"step":"restore","backup":"%s","skipped":true}\n' "$name" >"$report" 2>/dev/null || true
  echo "dimini-restore: the database already has a schema: nothing restored" >&2
  exit 0
else
  pg_restore --exit-on-error --single-transaction --no-owner --no-privileges -d "$PGDATABASE" "$dump" 2>"$work/restore.err" ||
    fail "pg_restore failed: $(tail -n 3 "$work/restore.err" | tr '\n' ' ')"
fi
actual=$(psql -X -q -At -v ON_ERROR_STOP=1 -f "$scripts/facts.sql") || fail "cannot read the restored database"
diff=$(psql -X -q -At -v ON_ERROR_STOP=1 -v want="$(cat "$manifest")" -v have="$actual" -f "$scripts/compare.sql") ||
  fail "cannot compare the restored database with the manifest"
[ -z "$diff" ] || fail "restored database differs from the manifest: $diff"
body=$(cat "$manifest")
printf '%s, "step": "restore", "mode": "%s", "restoredAt": "%s"}\n' "${body%\}}" "$mode" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$report" 2>/dev/null || true
echo "dimini-restore: restored $name" >&2
