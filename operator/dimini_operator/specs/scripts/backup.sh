#!/bin/sh
# dimini backup: a consistent pg_dump (custom format, compressed) of $PGDATABASE into $BACKUP_DIR,
# with a manifest <name>.json: size, sha256, Alembic revision, Postgres version, row counts.
# Connection from the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE).
# The name goes to $BACKUP_DIR/.current for the verify step of the same pod.
# Uses only what both the official and the Dimini Postgres images have (POSIX sh, coreutils or
# busybox, the Postgres client tools).
set -eu

dir=${BACKUP_DIR:-/backups}
name=${BACKUP_NAME:-dimini-$(date -u +%Y%m%dT%H%M%SZ)}
report=${TERMINATION_LOG:-/dev/termination-log}
scripts=$(dirname "$0")
work=$(mktemp -d)
trap 'rm -rf "$work"; rm -f "$dir/.$name.partial"' EXIT

fail() {
  echo "dimini-backup: $1" >&2
  # The operator reads this (the container's termination message); no secrets in it.
  printf '{"step":"backup","backup":"%s","error":"%s"}\n' "$name" "$1" >"$report" 2>/dev/null || true
  exit 1
}

# One REPEATABLE READ transaction exports its snapshot; pg_dump dumps exactly that snapshot and
# the manifest's revision and row counts are read in it, so they match the dump under writes.
mkfifo "$work/in"
# Created here, not by psql's redirection: that opens only once the FIFO has a writer, so the
# wait loop below could read a missing file, end at once and dump with an empty snapshot id.
: >"$work/out"
psql -X -q -At -v ON_ERROR_STOP=1 <"$work/in" >"$work/out" 2>"$work/err" &
psql_pid=$!
exec 3>"$work/in"
cat >&3 <<'SQL'
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT pg_export_snapshot();
SQL
cat "$scripts/facts.sql" >&3
# Wait for the two result lines (snapshot id, manifest) or for psql to die.
while [ "$(wc -l <"$work/out")" -lt 2 ]; do
  kill -0 "$psql_pid" 2>/dev/null || fail "cannot read the database: $(tr '\n"' ' ' <"$work/err" | cut -c1-300)"
  sleep 0.2
done
snapshot=$(sed -n 1p "$work/out")
facts=$(sed -n 2p "$work/out")

mkdir -p "$dir"
if ! pg_dump --format=custom --compress=6 --snapshot="$snapshot" --no-password \
  --file="$dir/.$name.partial" 2>"$work/dump-err"; then
  echo "COMMIT;" >&3 || true
  fail "pg_dump failed: $(tr '\n"' ' ' <"$work/dump-err" | cut -c1-300)"
fi
echo "COMMIT;" >&3
exec 3>&-
wait "$psql_pid" || fail "the snapshot transaction failed"

size=$(wc -c <"$dir/.$name.partial" | tr -d ' ')
sum=$(sha256sum "$dir/.$name.partial" | cut -d' ' -f1)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
mv "$dir/.$name.partial" "$dir/$name.dump"
# The server's JSON object, with the file's facts appended.
printf '%s, "name": "%s", "createdAt": "%s", "size": %s, "sha256": "%s", "format": "custom"}\n' \
  "${facts%\}}" "$name" "$created" "$size" "$sum" >"$dir/.$name.json"
mv "$dir/.$name.json" "$dir/$name.json"
printf '%s\n' "$name" >"$dir/.current"
cp "$dir/$name.json" "$report" 2>/dev/null || true
echo "dimini-backup: wrote $name ($size bytes)" >&2
