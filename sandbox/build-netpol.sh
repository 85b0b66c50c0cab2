#!/usr/bin/env bash
# Builds kube-network-policies (SIG Network's NetworkPolicy engine on nftables + nfqueue, the one
# kind ships) from the Go module proxy at a pinned version: static, stripped. Prints the binary's
# path on stdout; progress goes to stderr. Used by sandbox/netpol.py for the real node.
#
# Output: $DIMINI_SANDBOX_CACHE/kube-network-policies-<ver>/kube-network-policies (default
# ~/.cache/dimini-sandbox/...), independent of the Kubernetes version of build.sh. A cold build
# downloads ~150 MB of modules and compiles for about 7 minutes on 2 cores; later runs return at once.
set -euo pipefail

NETPOL_VERSION="${NETPOL_VERSION:-v0.8.0}"
MODULE=sigs.k8s.io/kube-network-policies
CACHE="${DIMINI_SANDBOX_CACHE:-$HOME/.cache/dimini-sandbox}"
DEST="$CACHE/kube-network-policies-$NETPOL_VERSION"
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
# The main package is the module's ./cmd, so `go install` names the binary "cmd".
GOBIN="$DEST/gobin" go install -trimpath -ldflags="-s -w" "$MODULE/cmd@$NETPOL_VERSION"
if readelf -l "$DEST/gobin/cmd" | grep -q 'Requesting program interpreter'; then
  step "$DEST/gobin/cmd is dynamically linked"; exit 1
fi
mv "$DEST/gobin/cmd" "$BIN"
rmdir "$DEST/gobin" 2>/dev/null || true
step "done in $(( $(date +%s) - started ))s: $BIN"
echo "$BIN"
