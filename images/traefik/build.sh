#!/usr/bin/env bash
# Builds the Traefik binary from the Go module proxy at a pinned version: static (CGO_ENABLED=0),
# stripped, with the version stamped in. Prints the binary's path on stdout; progress goes to stderr.
#
# Output: $DIMINI_IMAGES_CACHE/traefik-<ver>/traefik (default ~/.cache/dimini-images/...).
# A cold build downloads ~400 MB of modules and compiles for several minutes on 2 cores; later runs
# find the binary and return at once.
set -euo pipefail

# The newest v3 release whose whole module graph the Go module proxy serves. The proxy lists
# v3.7.11-v3.7.13 too, but refuses (403) the go-http-auth fork pseudo-version and a dozen lego v5
# DNS-provider SDKs they need, so `go get` cannot resolve them.
TRAEFIK_VERSION="${TRAEFIK_VERSION:-v3.6.12}"
MODULE=github.com/traefik/traefik/v3
CACHE="${DIMINI_IMAGES_CACHE:-$HOME/.cache/dimini-images}"
DEST="$CACHE/traefik-$TRAEFIK_VERSION"
BIN="$DEST/traefik"

if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi

# One build per version at a time (tests and `python -m images` may both ask); a waiter finds the
# binary when it gets the lock.
mkdir -p "$CACHE"
exec 9>"$CACHE/traefik-$TRAEFIK_VERSION.lock"
if ! flock -n 9; then
  printf '[traefik build] waiting for another build of %s\n' "$TRAEFIK_VERSION" >&2
  flock 9
fi
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi

started=$(date +%s)
step() { printf '[traefik build %s +%ss] %s\n' "$(date +%H:%M:%S)" "$(( $(date +%s) - started ))" "$*" >&2; }
step "cold build of Traefik $TRAEFIK_VERSION into $DEST (once per version)"
mkdir -p "$DEST/src/ext"
export GOFLAGS="${GOFLAGS:-} -mod=mod" CGO_ENABLED=0

# Traefik's go.mod has replace/exclude directives, which Go ignores in a dependency, so
# `go install module@version` refuses it. Build from a small module that requires Traefik and
# repeats them.
step "resolving $MODULE@$TRAEFIK_VERSION"
info=$(go mod download -json "$MODULE@$TRAEFIK_VERSION")
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$info" "$1"; }
upstream_mod=$(field GoMod)
release_time=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Time"])' "$(field Info)")

# From v3.7 on, the one local replace is the dynamic-config extension point
# `github.com/traefik/traefik/dynamic/ext` (./pkg/config/dynamic/ext): a nested module, so it is
# neither in Traefik's module zip nor on the proxy. In open-source Traefik its types are empty
# structs embedded in dynamic.HTTP and dynamic.Router; recreate exactly that. Any other local
# replace is new and must be looked at.
EXT=github.com/traefik/traefik/dynamic/ext
local_replaces=$(grep -E '=> \./' "$upstream_mod" | sed -E 's/^replace //; s/^\s+//' | awk '{print $1}' || true)
ext_replace=""
for r in $local_replaces; do
  [ "$r" = "$EXT" ] || { step "unexpected local replace in Traefik's go.mod: $r"; exit 1; }
  ext_replace="replace $EXT => ./ext"
  printf 'module %s\n\ngo 1.24.0\n' "$EXT" > "$DEST/src/ext/go.mod"
  cat > "$DEST/src/ext/ext.go" <<'EOF'
// Package ext is Traefik's dynamic-configuration extension point; empty in open-source Traefik.
package ext

// HTTP extends dynamic.HTTP.
type HTTP struct{}

// Router extends dynamic.Router.
type Router struct{}

// RouterIng extends the ingress provider's router annotations.
type RouterIng struct{}

// ToRouter converts RouterIng to a Router.
func (r RouterIng) ToRouter() Router { return Router{} }
EOF
done

cd "$DEST/src"
if [ ! -f go.mod ] || ! grep -q "$MODULE $TRAEFIK_VERSION" go.mod; then
  go_line=$(grep -m1 -E '^go ' "$upstream_mod")
  {
    echo "module dimini.local/traefik-build"
    echo
    echo "$go_line"
    echo
    echo "require $MODULE $TRAEFIK_VERSION"
    echo
    echo "$ext_replace"
    echo
    # Remote replaces (Containous forks) and excludes, copied verbatim.
    awk '
      /^replace \(/ { block = "replace"; print; next }
      /^exclude \(/ { block = "exclude"; print; next }
      block != "" && /^\)/ { print; block = ""; next }
      block == "replace" && !/=> \.\// { print; next }
      block == "exclude" { print; next }
      /^replace / && !/=> \.\// { print; next }
      /^exclude / { print; next }
    ' "$upstream_mod"
  } > go.mod
  step "downloading modules (go get)"
  go get "$MODULE/cmd/traefik@$TRAEFIK_VERSION" >&2
fi

step "compiling traefik (CGO_ENABLED=0)"
pkg=$MODULE/pkg/version
go build -trimpath \
  -ldflags="-s -w -X $pkg.Version=${TRAEFIK_VERSION#v} -X $pkg.BuildDate=$release_time" \
  -o "$BIN.tmp.$$" "$MODULE/cmd/traefik"
# A static binary has no program interpreter; FROM scratch depends on that.
if readelf -l "$BIN.tmp.$$" | grep -q 'Requesting program interpreter'; then
  step "$BIN.tmp.$$ is dynamically linked"; exit 1
fi
mv "$BIN.tmp.$$" "$BIN"
took=$(( $(date +%s) - started ))
step "done in ${took}s: $BIN ($("$BIN" version | awk '/^Version:/ {print $2}'))"
echo "$BIN"
