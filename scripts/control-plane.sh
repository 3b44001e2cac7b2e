#!/usr/bin/env bash
# Builds the real Kubernetes control plane the control-plane test tier runs against, from
# the Go module proxy, and fetches the other projects' manifests it installs:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler (Kubernetes 1.37),
#   kube-apiserver 1.34 (the oldest the proxy serves: CRD acceptance only), kwok,
#   kwok's stage files (read from its module's cache). The prometheus-operator CRDs come
#   from scripts/tools.sh.
# Versions are pinned here and in the wrapper modules under scripts/controlplane/
# (their go.sum is committed). Idempotent: a binary is rebuilt only when its module or
# Go changed; the Go module and build caches stay where the next run finds them.
# Writes KEY=VALUE lines to $CACHE/env (read by tests/harness/controlplane.py).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULES="$ROOT/scripts/controlplane"
CACHE=${TS_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tradingstack/controlplane}

KUBERNETES=1.37.2         # the default tier
KUBERNETES_OLDEST=1.34.4  # CRD acceptance against the oldest apiserver served
ETCD=3.6.16
KWOK=0.8.0

say() { printf 'control-plane: %s\n' "$*" >&2; }

# shellcheck source=scripts/go.sh
source "$ROOT/scripts/go.sh"
ensure_go "${TRADINGSTACK_VENV:-$ROOT/.venv}/bin/python" "${TS_GO_CACHE:-$(dirname "$CACHE")/go}"
mkdir -p "$CACHE/bin" "$CACHE/share"
# One build at a time: helpers and test runs may call this script together.
exec 9>"$CACHE/.lock"
flock 9

export GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

fingerprint() {  # what a build depends on: the module files, Go's version, the flags
    cat "$@" | sha256sum | cut -d' ' -f1
    go version
}

# build NAME MODULE_DIR LDFLAGS PACKAGE... : go build the packages into $CACHE/bin/NAME
build() {
    local name=$1 dir=$2 ldflags=$3; shift 3
    local out="$CACHE/bin/$name" stamp="$CACHE/bin/$name.stamp" want
    want=$(fingerprint "$dir/go.mod" "$dir/go.sum"; echo "$ldflags $*")
    if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
    say "building $name ($*), a cold build takes minutes"
    local started=$SECONDS
    mkdir -p "$out"
    (cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out/" "$@")
    printf '%s\n' "$want" > "$stamp"
    say "built $name in $((SECONDS - started)) s"
}

kube_ldflags() {  # what Kubernetes' own build stamps into every binary (kubectl version, /version)
    local version=$1 minor=${1#*.}; minor=${minor%.*}
    local pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        printf -- '-X %s.gitVersion=v%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
            "$pkg" "$version" "$pkg" "$pkg" "$minor" "$pkg"
    done
}

module_dir() {  # module@version -> its folder in the module cache (downloaded when missing)
    go mod download -json "$1" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p'
}

k8s_minor=${KUBERNETES%.*} oldest_minor=${KUBERNETES_OLDEST%.*}
build etcd "$MODULES/etcd" "" go.etcd.io/etcd/server/v3
build "kubernetes-$k8s_minor" "$MODULES/kubernetes-$k8s_minor" "$(kube_ldflags "$KUBERNETES")" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler
build "kubernetes-$oldest_minor" "$MODULES/kubernetes-$oldest_minor" \
    "$(kube_ldflags "$KUBERNETES_OLDEST")" k8s.io/kubernetes/cmd/kube-apiserver
# etcd's main package is its server module's root: name the binary by what it is.
[ -x "$CACHE/bin/etcd/etcd" ] || mv "$CACHE/bin/etcd/server" "$CACHE/bin/etcd/etcd"

if [ "$(cat "$CACHE/bin/kwok.stamp" 2>/dev/null)" != "$KWOK $(go version)" ]; then
    say "building kwok v$KWOK"
    GOBIN="$CACHE/bin/kwok" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK"
    printf '%s\n' "$KWOK $(go version)" > "$CACHE/bin/kwok.stamp"
fi

# kwok's stages: nodes become Ready and keep a heartbeat (status and Lease, as a kubelet
# does; without it the node lifecycle controller marks every pod NotReady within a
# minute), pods become Running and Ready, deleted pods go away.
kwok_src=$(module_dir "sigs.k8s.io/kwok@v$KWOK")
stages="$kwok_src/kustomize/stage"
for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    echo ---; cat "$stages/$stage.yaml"
done > "$CACHE/share/kwok-stages.yaml"

bin=$CACHE/bin
cat > "$CACHE/env.tmp" <<EOF
TS_CP_VERSION=$KUBERNETES
TS_CP_OLDEST_VERSION=$KUBERNETES_OLDEST
TS_CP_ETCD=$bin/etcd/etcd
TS_CP_KUBE_APISERVER=$bin/kubernetes-$k8s_minor/kube-apiserver
TS_CP_KUBE_CONTROLLER_MANAGER=$bin/kubernetes-$k8s_minor/kube-controller-manager
TS_CP_KUBE_SCHEDULER=$bin/kubernetes-$k8s_minor/kube-scheduler
TS_CP_KUBE_APISERVER_OLDEST=$bin/kubernetes-$oldest_minor/kube-apiserver
TS_CP_KWOK=$bin/kwok/kwok
TS_CP_KWOK_STAGES=$CACHE/share/kwok-stages.yaml
EOF
mv "$CACHE/env.tmp" "$CACHE/env"
say "ready: $CACHE/env"
