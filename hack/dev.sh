#!/usr/bin/env bash
# `make dev`: with Docker, a kind cluster named "dimini" with a local registry, then `tilt up`.
# Without Docker on Linux as root: the sandbox with its real node and Traefik, then `tilt up` with
# buildah builds (sandbox/dev.py). Says which path it takes and why, and what to install when a
# tool is missing instead of failing obscurely. DIMINI_DEV=kind|sandbox forces a path.
set -euo pipefail
cd "$(dirname "$0")/.."

path="${DIMINI_DEV:-}"
if [ -z "$path" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    path=kind; why="a Docker daemon answers"
  elif [ "$(uname -s)" = Linux ] && [ "$(id -u)" -eq 0 ]; then
    path=sandbox
    if command -v docker >/dev/null 2>&1; then why="docker is installed but its daemon does not answer";
    else why="no docker"; fi
    why="$why; Linux as root runs the sandbox's real node"
  else
    path=kind; why="no Docker, and the sandbox's real node needs Linux as root"
  fi
else
  why="DIMINI_DEV=$path"
fi

if [ "$path" = sandbox ]; then
  echo "make dev: the sandbox with its real node, images by buildah ($why)" >&2
  missing=0
  need() {  # need <tool> <how to install>
    if ! command -v "$1" >/dev/null 2>&1; then
      printf 'missing: %s. Install: %s\n' "$1" "$2" >&2
      missing=1
    fi
  }
  need buildah "apt-get install buildah"
  need ctr     "apt-get install containerd (its ctr client)"
  need kubectl "https://kubernetes.io/docs/tasks/tools/"
  [ "$missing" -eq 0 ] || { echo "make dev: install the tools above, then run it again" >&2; exit 1; }
  PY="${DIMINI_PYTHON:-.venv/bin/python}"
  [ -x "$PY" ] || { echo "make dev: no $PY: run \`make venv\` first" >&2; exit 1; }
  # Tilt's custom_build runs `$DIMINI_PYTHON -m images tilt ...`: the same interpreter.
  exec "$PY" -m sandbox.dev -- "$@"
fi
echo "make dev: kind + Docker ($why)" >&2

CLUSTER="${DIMINI_CLUSTER:-dimini}"
REGISTRY_NAME="kind-registry"
REGISTRY_PORT="${DIMINI_REGISTRY_PORT:-5001}"

missing=0
need() {  # need <tool> <minimum version> <how to install>
  if ! command -v "$1" >/dev/null 2>&1; then
    printf 'missing: %s (>= %s). Install: %s\n' "$1" "$2" "$3" >&2
    missing=1
  fi
}
need docker  "24"      "https://docs.docker.com/engine/install/ (or Docker Desktop)"
need kind    "0.30.0"  "go install sigs.k8s.io/kind@v0.30.0  (or: brew install kind)"
need kubectl "1.34"    "https://kubernetes.io/docs/tasks/tools/  (or: brew install kubectl)"
need helm    "3.16"    "https://helm.sh/docs/intro/install/  (or: brew install helm)"
need tilt    "0.33"    "curl -fsSL https://raw.githubusercontent.com/tilt-dev/tilt/master/scripts/install.sh | bash"
[ "$missing" -eq 0 ] || { echo "make dev: install the tools above, then run it again" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "make dev: Docker is installed but not running (start the Docker daemon / Desktop)" >&2; exit 1; }

# Local registry, so Tilt pushes images without a round trip to a remote registry.
if [ "$(docker inspect -f '{{.State.Running}}' "$REGISTRY_NAME" 2>/dev/null || true)" != "true" ]; then
  docker run -d --restart=always -p "127.0.0.1:${REGISTRY_PORT}:5000" --network bridge \
    --name "$REGISTRY_NAME" registry:2 >/dev/null
fi

if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --config kind-config.yaml
fi

# Each node resolves localhost:<port> to the registry container (containerd hosts.toml).
for node in $(kind get nodes --name "$CLUSTER"); do
  dir="/etc/containerd/certs.d/localhost:${REGISTRY_PORT}"
  docker exec "$node" mkdir -p "$dir"
  printf '[host."http://%s:5000"]\n' "$REGISTRY_NAME" | docker exec -i "$node" cp /dev/stdin "$dir/hosts.toml"
done
docker network connect kind "$REGISTRY_NAME" 2>/dev/null || true

# Advertise the registry to tools such as Tilt (KEP-1755).
kubectl --context "kind-$CLUSTER" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: local-registry-hosting, namespace: kube-public}
data:
  localRegistryHosting.v1: |
    host: "localhost:${REGISTRY_PORT}"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
YAML

# Ingress: Traefik (maintained; ingress-nginx was retired in 2026), on the node that kind maps to
# host ports 80/443, so http://dimini.localhost reaches the stack. Websockets work out of the box.
if ! helm --kube-context "kind-$CLUSTER" status traefik -n traefik >/dev/null 2>&1; then
  helm --kube-context "kind-$CLUSTER" upgrade --install traefik traefik \
    --repo https://traefik.github.io/charts --version "${TRAEFIK_CHART_VERSION:-38.0.2}" \
    --namespace traefik --create-namespace --wait \
    --set ingressClass.isDefaultClass=true \
    --set 'additionalArguments[0]=--providers.kubernetesingress.strictPrefixMatching=true' \
    --set service.type=ClusterIP \
    --set ports.web.hostPort=80 --set ports.websecure.hostPort=443 \
    --set nodeSelector.ingress-ready=true \
    --set 'tolerations[0].key=node-role.kubernetes.io/control-plane' \
    --set 'tolerations[0].operator=Exists' --set 'tolerations[0].effect=NoSchedule'
fi

exec tilt up --context "kind-$CLUSTER"
