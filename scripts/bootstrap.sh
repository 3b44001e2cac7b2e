#!/usr/bin/env bash
# Prepare a fresh Debian machine (Python >= 3.11 is all it needs) and this checkout:
# Debian packages, the virtualenv, the package with its test and dev extras.
# Idempotent: a second run installs nothing and takes a second.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${TRADINGSTACK_VENV:-$ROOT/.venv}

say() { printf 'bootstrap: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else say "need root to run: $*"; exit 1
    fi
}

apt_install() {
    say "installing Debian packages: $*"
    if [ -z "${_APT_UPDATED:-}" ]; then as_root apt-get update -qq; _APT_UPDATED=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    say "Python >= 3.11 not found"; exit 1
}

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
command -v promtool >/dev/null || missing+=(prometheus)  # promtool checks the alert rules
command -v stress-ng >/dev/null || missing+=(stress-ng)  # scripts/test-under-load.sh
command -v setpriv >/dev/null || missing+=(util-linux)  # up: its children die with it
# The pod tier (tests/pods): network namespaces, test certificates, the scripts' sh.
command -v ip >/dev/null || missing+=(iproute2)
command -v openssl >/dev/null || missing+=(openssl)
command -v dash >/dev/null || missing+=(dash)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

PYTHON=$(find_python)
if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV with $PYTHON"
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        apt_install python3-venv
        "$PYTHON" -m venv "$VENV"
    fi
fi

# Reinstall only when the dependency declaration changed.
stamp="$VENV/.tradingstack-installed"
want=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing tradingstack[test,dev] into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$ROOT[test,dev]"
    echo "$want" > "$stamp"
fi
