#!/usr/bin/env bash
# Builds kube-network-policies (SIG Network's NetworkPolicy engine on nftables + nfqueue, the one
# kind ships) from the Go module proxy at a pinned version: static, stripped. Prints the binary's
# path on stdout; progress goes to stderr. Used by sandbox/netpol.py for the real node.
#
# Output: $DIMINI_SANDBOX_CACHE/kube-network-policies-<ver>/kube-network-policies (default
# ~/.cache/dimini-sandbox/...), independent of the Kubernetes version of build.sh. A cold build
# downloads ~150 MB of modules and compiles for about 7 minutes on 2 cores; later runs return at once.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

NETPOL_VERSION="${NETPOL_VERSION:-v0.8.0}"
MODULE=sigs.k8s.io/kube-network-policies
# Bumped when the local change below changes (a new cache directory, a new build).
LOCAL_REVISION=xtqueue1
CACHE="${DIMINI_SANDBOX_CACHE:-$HOME/.cache/dimini-sandbox}"
DEST="$CACHE/kube-network-policies-$NETPOL_VERSION-$LOCAL_REVISION"
BIN="$DEST/kube-network-policies"

if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi

# One build per version at a time; a waiter finds the binary when it gets the lock.
mkdir -p "$DEST"
exec 9>"$DEST.lock"
if ! flock -n 9; then
  printf '[netpol build] waiting for another build of %s\n' "$NETPOL_VERSION" >&2
  flock 9
fi
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi

started=$(date +%s)
step() { printf '[netpol build %s +%ss] %s\n' "$(date +%H:%M:%S)" "$(( $(date +%s) - started ))" "$*" >&2; }
step "cold build of $MODULE $NETPOL_VERSION into $DEST (once per version, ~7 min on 2 cores)"
export GOFLAGS="${GOFLAGS:-} -mod=mod" CGO_ENABLED=0
# The module's source, with one local change: its nftables `queue` expression becomes the
# xtables NFQUEUE target (sandbox/netpol_xtqueue.go.txt says why). The main package is ./cmd.
src_dir=$(go mod download -json "$MODULE@$NETPOL_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
rm -rf "$DEST/src"
cp -r "$src_dir" "$DEST/src"
chmod -R u+w "$DEST/src"
ctl="$DEST/src/pkg/networkpolicy/controller.go"
python3 - "$ctl" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
old = re.compile(
    r"queue := &expr\.Queue\{Num: uint16\(c\.config\.QueueID\)\}\n"
    r"\s*if c\.config\.FailOpen \{\n\s*queue\.Flag = expr\.QueueFlagBypass\n\s*\}"
)
text, count = old.subn("queue := queueExpr(uint16(c.config.QueueID), c.config.FailOpen)", text)
if count != 2:
    sys.exit(f"expected the 2 queue expressions of {path}, found {count}")
open(path, "w").write(text)
PY
cp "$HERE/netpol_xtqueue.go.txt" "$DEST/src/pkg/networkpolicy/xtqueue.go"
step "compiling (CGO_ENABLED=0)"
(cd "$DEST/src" && go build -trimpath -ldflags="-s -w" -o "$BIN.tmp" ./cmd)
if readelf -l "$BIN.tmp" | grep -q 'Requesting program interpreter'; then
  step "$BIN.tmp is dynamically linked"; exit 1
fi
mv "$BIN.tmp" "$BIN"
rm -rf "$DEST/src"
step "done in $(( $(date +%s) - started ))s: $BIN"
echo "$BIN"
