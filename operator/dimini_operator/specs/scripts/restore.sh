#!/bin/sh
# dimini restore: load backup $RESTORE_NAME (default: the newest verified one in the target,
# a PVC or S3, see store.sh) into the stack's database (libpq environment), for
# `spec.postgres.bootstrap.fromBackup`. The dump's checksum is checked first (and it is
# decrypted, when encrypted), the restore is one transaction, and the result is compared with
# the manifest (revision, row counts). A database that already has a schema is left alone (a
# retried or repeated bootstrap never restores twice). JSON result: the container's termination
# message.
set -eu

dir=${BACKUP_DIR:-/backups}
report=${TERMINATION_LOG:-/dev/termination-log}
scripts=$(dirname "$0")
name=${RESTORE_NAME:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "dimini-restore: ${name:-?}: $1" >&2
  msg=$(printf '%s' "$1" | tr '\n\t"\\' '    ' | cut -c1-400)
  printf '{"step":"restore","backup":"%s","error":"%s"}\n' "$name" "$msg" >"$report" 2>/dev/null || true
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
if [ "$present" = t ]; then
  printf '{"step":"restore","backup":"%s","skipped":true}\n' "$name" >"$report" 2>/dev/null || true
  echo "dimini-restore: the database already has a schema: nothing restored" >&2
  exit 0
fi
pg_restore --exit-on-error --single-transaction --no-owner --no-privileges -d "$PGDATABASE" "$dump" 2>"$work/restore.err" ||
  fail "pg_restore failed: $(tail -n 3 "$work/restore.err" | tr '\n' ' ')"
actual=$(psql -X -q -At -v ON_ERROR_STOP=1 -f "$scripts/facts.sql") || fail "cannot read the restored database"
diff=$(psql -X -q -At -v ON_ERROR_STOP=1 -v want="$(cat "$manifest")" -v have="$actual" -f "$scripts/compare.sql") ||
  fail "cannot compare the restored database with the manifest"
[ -z "$diff" ] || fail "restored database differs from the manifest: $diff"
body=$(cat "$manifest")
printf '%s, "step": "restore", "restoredAt": "%s"}\n' "${body%\}}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$report" 2>/dev/null || true
echo "dimini-restore: restored $name" >&2
