# Sourced by backup.sh, verify.sh and restore.sh: where backups are stored, and the checked,
# decrypted dump. BACKUP_TARGET=pvc: files in $BACKUP_DIR. BACKUP_TARGET=s3: objects under
# $S3_BUCKET/$S3_PREFIX through rclone's remote `dimini`, configured only by the environment
# (RCLONE_CONFIG_DIMINI_*, credentials included): no secret is ever an argument, so none shows in
# `ps`, and rclone runs without -v, so none reaches a log. The caller sets $work (a private temp
# directory) and defines fail().

target=${BACKUP_TARGET:-pvc}
dir=${BACKUP_DIR:-/backups}
if [ "$target" = s3 ]; then
  remote="dimini:${S3_BUCKET:?S3_BUCKET is not set}${S3_PREFIX:+/$S3_PREFIX}"
  # No config file: the environment is the configuration. A CA bundle variable meant for other
  # tools would make rclone's S3 client refuse to start.
  export RCLONE_CONFIG=/dev/null
  unset AWS_CA_BUNDLE
  command -v rclone >/dev/null ||
    fail "this image has no rclone: an S3 target needs an image with rclone and age (the Dimini Postgres image)"
fi
if [ -n "${AGE_IDENTITY_FILE:-}" ] && ! command -v age >/dev/null; then
  fail "this image has no age: encrypted backups need an image with age (the Dimini Postgres image)"
fi

# rclone, its errors kept for the failure message (they name objects, never credentials).
rc() {
  rclone --retries 3 --low-level-retries 5 --stats 0 "$@" 2>>"$work/rclone.err"
}

rclone_error() { # the last error line, without its time stamp and the HTTP details
  grep -v 'status code:' "$work/rclone.err" 2>/dev/null | tail -n 1 | sed 's/^[0-9/]* [0-9:]* //' |
    tr '\n\t"\\' '    ' | cut -c1-240
}

field() { # field NAME FILE: a string or number field of a flat manifest
  sed -n "s/.*\"$1\" *: *\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" "$2" | head -n1
}

# The names of the backups that have an object <name>.$1, oldest first (names sort by time).
# Returns 1 when the bucket cannot be listed (rclone_error says why).
store_names() {
  if [ "$target" = s3 ]; then
    rc lsf --files-only --max-depth 1 --include "/dimini-*.$1" "$remote/" >"$work/names" || return 1
  else
    find "$dir" -maxdepth 1 -name "dimini-*.$1" | sed 's|.*/||' >"$work/names"
  fi
  sed "s|\.$1\$||" "$work/names" | sort
}

# Store file $1 as object $2 (a manifest is stored last: a backup without one is incomplete).
store_put() {
  if [ "$target" = s3 ]; then
    # S3Proxy, and some other servers, reject the signature of a Content-Type with parameters.
    rc copyto --header-upload "Content-Type: application/octet-stream" "$1" "$remote/$2" ||
      fail "cannot upload $2: $(rclone_error)"
  else
    case $1 in
    "$dir"/*) mv "$1" "$dir/$2" ;;
    *) cp "$1" "$dir/.$2.partial" && mv "$dir/.$2.partial" "$dir/$2" ;;
    esac
  fi
}

# Store standard input as object $1.
store_write() {
  cat >"$work/.write"
  store_put "$work/.write" "$1"
}

# A local path of object $1 (downloaded into $work from S3); fails when it does not exist.
store_local() {
  if [ "$target" = s3 ]; then
    [ -n "$(rc lsf --files-only "$remote/$1")" ] || return 1
    rc copyto "$remote/$1" "$work/$1" || return 1
    printf '%s\n' "$work/$1"
  else
    [ -f "$dir/$1" ] || return 1
    printf '%s\n' "$dir/$1"
  fi
}

# Delete every object of backup $1 (dump, manifest, markers); returns 1 when that failed.
store_remove() {
  if [ "$target" = s3 ]; then
    rc delete --max-depth 1 --include "/$1.*" "$remote/"
  else
    rm -f "$dir/$1.dump" "$dir/$1.dump.age" "$dir/$1.json" "$dir/$1.verified" "$dir/$1.failed"
  fi
}

# The dump of backup $1 with manifest $2 (a local file), checked and decrypted: its path in
# $dump, or fail() says why. The manifest's sha256 is of the stored object (the ciphertext when
# encrypted), plaintextSha256 of the decrypted dump.
open_dump() {
  object=$(field dumpFile "$2")
  object=${object:-$1.dump}
  stored=$(store_local "$object") || fail "dump $object not found"
  [ "$(field sha256 "$2")" = "$(sha256sum "$stored" | cut -d' ' -f1)" ] ||
    fail "checksum mismatch: the dump is not what was written"
  dump=$stored
  [ "$(field encryption "$2")" = age ] || return 0
  [ -r "${AGE_IDENTITY_FILE:-}" ] || fail "the backup is encrypted and no age identity is mounted"
  if ! age -d -i "$AGE_IDENTITY_FILE" -o "$work/$1.plain" "$stored" 2>"$work/age.err"; then
    if grep -q "no identity matched" "$work/age.err"; then
      fail "cannot decrypt: the age identity is not the key this backup was encrypted to"
    fi
    fail "cannot decrypt: $(tr '\n"\\' '   ' <"$work/age.err" | cut -c1-200)"
  fi
  case $stored in "$work"/*) rm -f "$stored" ;; esac
  [ "$(field plaintextSha256 "$2")" = "$(sha256sum "$work/$1.plain" | cut -d' ' -f1)" ] ||
    fail "checksum mismatch after decryption: the dump is not what was written"
  dump="$work/$1.plain"
}
