#!/usr/bin/env bash
# Builds the sandbox's control-plane binaries from the Go module proxy, once per pinned version.
#
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   kubelet, kube-proxy and pause (C, gcc -static) for the real node        (k8s.io/kubernetes)
#   coredns (the real node's cluster DNS)                                   (github.com/coredns/coredns)
#   kwok                                                                    (sigs.k8s.io/kwok)
#   helm (for the chart tests)                                              (helm.sh/helm/v4)
#
# Output: $DIMINI_SANDBOX_CACHE/k8s-<ver>-kwok-<ver>/bin (default ~/.cache/dimini-sandbox/...).
# A cold build downloads ~1 GB of modules and compiles for several minutes (10-25 min on 2 cores);
# later runs find the binaries and return at once.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v4.3.1}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
CACHE="${DIMINI_SANDBOX_CACHE:-$HOME/.cache/dimini-sandbox}"
DEST="$CACHE/k8s-$K8S_VERSION-kwok-$KWOK_VERSION"
BIN="$DEST/bin"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm
          kubelet kube-proxy pause coredns)

helm_current() { [ -x "$BIN/helm" ] && "$BIN/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; }
# Kubernetes binaries report their version (helm checks a chart's kubeVersion against it); early
# builds of this cache lacked it and are rebuilt.
k8s_versioned() { [ -x "$BIN/kube-apiserver" ] && "$BIN/kube-apiserver" --version 2>/dev/null | grep -qx "Kubernetes $K8S_VERSION"; }
have_all() {
  for b in "${BINARIES[@]}"; do [ -x "$BIN/$b" ] || return 1; done
  helm_current && k8s_versioned
}
if have_all; then echo "$BIN"; exit 0; fi

# One build per version at a time: two at once (a CI run and a test, or two terminals) wrote the
# same `.tmp` outputs and one failed on a vanished file. A waiter finds the binaries done.
mkdir -p "$CACHE"
exec 9>"$DEST.lock"
if ! flock -n 9; then
  printf '[sandbox build] waiting for another build of %s\n' "$(basename "$DEST")" >&2
  flock 9
fi
if have_all; then echo "$BIN"; exit 0; fi
if [ -x "$BIN/kube-apiserver" ] && ! k8s_versioned; then
  rm -f "$BIN/kube-apiserver" "$BIN/kube-controller-manager" "$BIN/kube-scheduler" "$BIN/kubectl"
fi

started=$(date +%s)
step() { printf '[sandbox build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
step "cold build of Kubernetes $K8S_VERSION + KWOK $KWOK_VERSION into $DEST"
step "this downloads Go modules and compiles for several minutes; it happens once per version"
mkdir -p "$DEST/k8s" "$DEST/kwok" "$BIN"
export GOFLAGS="${GOFLAGS:-} -mod=mod" CGO_ENABLED=0

# k8s.io/kubernetes is not meant to be a dependency: its go.mod points the staging modules
# (k8s.io/api, k8s.io/apiserver, ...) at ./staging. Map each to its published v0.x.y release.
staging_minor="v0.${K8S_VERSION#v1.}"
cd "$DEST/k8s"
if [ ! -f go.mod ] || ! grep -q "k8s.io/kubernetes $K8S_VERSION" go.mod; then
  step "resolving modules (k8s.io/kubernetes $K8S_VERSION, staging modules at $staging_minor)"
  upstream_mod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module dimini.local/sandbox-build"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    grep -E '^\s+k8s\.io/[^ ]+ => \./staging/' "$upstream_mod" | awk -v v="$staging_minor" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } > go.mod
  # etcd at the version Kubernetes itself is tested with.
  etcd_version=$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2}' "$upstream_mod")
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-scheduler@$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kubelet@$K8S_VERSION" "k8s.io/kubernetes/cmd/kube-proxy@$K8S_VERSION" \
    "go.etcd.io/etcd/server/v3@$etcd_version" >&2
fi
for pkg in k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
           k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl go.etcd.io/etcd/server/v3 \
           k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy; do
  name=${pkg##*/}; [ "$name" = v3 ] && name=etcd
  [ -x "$BIN/$name" ] && continue
  step "compiling $name"
  go build -trimpath -ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION" \
    -o "$BIN/$name.tmp" "$pkg"
  mv "$BIN/$name.tmp" "$BIN/$name"
done
if [ ! -x "$BIN/pause" ]; then
  # The pod sandbox ("pause") container's program, from the same module; registry.k8s.io/pause
  # cannot be pulled here. Static, so it runs in an image FROM scratch.
  step "compiling pause (gcc -static)"
  k8s_dir=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  gcc -Os -static -DVERSION="$K8S_VERSION" -o "$BIN/pause.tmp" "$k8s_dir/build/pause/linux/pause.c"
  mv "$BIN/pause.tmp" "$BIN/pause"
fi
if [ ! -x "$BIN/coredns" ]; then
  step "compiling coredns $COREDNS_VERSION"
  GOBIN="$DEST/coredns" go install -trimpath -ldflags="-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
  mv "$DEST/coredns/coredns" "$BIN/coredns"
fi

if [ ! -x "$BIN/kwok" ]; then
  step "compiling kwok $KWOK_VERSION"
  GOBIN="$DEST/kwok" go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$DEST/kwok/kwok" "$BIN/kwok"
fi
if ! helm_current; then
  step "compiling helm $HELM_VERSION"
  GOBIN="$DEST/helm" go install -trimpath -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
  mv "$DEST/helm/helm" "$BIN/helm"
fi
have_all
took=$(( $(date +%s) - started ))
# The full cold build's duration, read by bench/sandbox (a partial rebuild does not overwrite it).
[ -f "$DEST/build-seconds" ] || echo "$took" > "$DEST/build-seconds"
step "done in ${took}s: $BIN"
echo "$BIN"
