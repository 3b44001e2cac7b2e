#!/usr/bin/env bash
# The whole test command: set the machine up, then lint, type-check and test.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -k settings).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/bootstrap.sh
bash scripts/tools.sh  # helm, kubectl, actionlint, the prometheus-operator CRDs
# The control-plane tier's etcd, kube-apiserver, controllers and kwok (cached after the first build).
bash scripts/control-plane.sh
VENV=${TRADINGSTACK_VENV:-$ROOT/.venv}
export PATH="$VENV/bin:$PATH"

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy
echo "== pytest"
pytest "$@"
