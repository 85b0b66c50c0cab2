#!/bin/sh
# dimini backup: a consistent pg_dump (custom format, compressed) of $PGDATABASE to the target
# (store.sh: files in $BACKUP_DIR, or objects in S3), with a manifest <name>.json: size and
# sha256 of what is stored, Alembic revision, Postgres version, row counts. With
# $AGE_IDENTITY_FILE the dump is encrypted with age (to that identity's recipient) before it is
# stored as <name>.dump.age, and the manifest also records the plaintext's size and sha256.
# Connection from the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE).
# The name goes to $BACKUP_DIR/.current for the verify step of the same pod.
# A PVC target uses only what both the official and the Dimini Postgres images have (POSIX sh,
# coreutils or busybox, the Postgres client tools); S3 and encryption need rclone and age.
set -eu

dir=${BACKUP_DIR:-/backups}
name=${BACKUP_NAME:-dimini-$(date -u +%Y%m%dT%H%M%SZ)}
report=${TERMINATION_LOG:-/dev/termination-log}
scripts=$(dirname "$0")
work=$(mktemp -d)
published=""
cleanup() {
  rm -f "$dir/.$name.partial"
  # An upload without its manifest is no backup: remove what was stored of it.
  if [ -n "$published" ]; then store_remove "$name" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "dimini-backup: $1" >&2
  # The operator reads this (the container's termination message); no secrets in it.
  msg=$(printf '%s' "$1" | tr '\n\t"\\' '    ' | cut -c1-400)
  printf '{"step":"backup","backup":"%s","error":"%s"}\n' "$name" "$msg" >"$report" 2>/dev/null || true
  exit 1
}

. "$scripts/store.sh"
recipient=""
if [ -n "${AGE_IDENTITY_FILE:-}" ]; then
  # The first identity's recipient: a file may hold more (a rotation keeps the old ones below
  # the new one, to verify and restore the older backups).
  recipient=$(age-keygen -y "$AGE_IDENTITY_FILE" 2>/dev/null) || fail "cannot read the age identity"
  recipient=$(printf '%s\n' "$recipient" | head -n1)
fi

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
# On a PVC straight to the volume (no second copy); else to the pod's scratch space.
out="$work/$name.dump"
[ "$target" = pvc ] && [ -z "$recipient" ] && out="$dir/.$name.partial"
if ! pg_dump --format=custom --compress=6 --snapshot="$snapshot" --no-password \
  --file="$out" 2>"$work/dump-err"; then
  echo "COMMIT;" >&3 || true
  fail "pg_dump failed: $(tr '\n"' ' ' <"$work/dump-err" | cut -c1-300)"
fi
echo "COMMIT;" >&3
exec 3>&-
wait "$psql_pid" || fail "the snapshot transaction failed"

stored=$out
object="$name.dump"
extra='"encryption": "none"'
if [ -n "$recipient" ]; then
  plain_size=$(wc -c <"$out" | tr -d ' ')
  plain_sum=$(sha256sum "$out" | cut -d' ' -f1)
  stored="$work/$name.dump.age"
  object="$name.dump.age"
  age -e -r "$recipient" -o "$stored" "$out" 2>"$work/age.err" ||
    fail "encryption failed: $(tr '\n"' ' ' <"$work/age.err" | cut -c1-200)"
  rm -f "$out"
  extra=$(printf '"encryption": "age", "recipient": "%s", "plaintextSize": %s, "plaintextSha256": "%s"' \
    "$recipient" "$plain_size" "$plain_sum")
fi
size=$(wc -c <"$stored" | tr -d ' ')
sum=$(sha256sum "$stored" | cut -d' ' -f1)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
published=yes
store_put "$stored" "$object"
# The server's JSON object, with the stored file's facts appended.
printf '%s, "name": "%s", "createdAt": "%s", "dumpFile": "%s", "size": %s, "sha256": "%s", "format": "custom", %s}\n' \
  "${facts%\}}" "$name" "$created" "$object" "$size" "$sum" "$extra" >"$work/$name.json"
store_put "$work/$name.json" "$name.json"
published=""
printf '%s\n' "$name" >"$dir/.current"
cp "$work/$name.json" "$report" 2>/dev/null || true
echo "dimini-backup: wrote $name ($size bytes${recipient:+, encrypted})" >&2
