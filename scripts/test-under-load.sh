#!/usr/bin/env bash
# The whole test command (scripts/test.sh) with a CPU load on every core beside it: what a
# CI machine shared with a Go build looks like to the suite. Arguments go to scripts/test.sh
# (and from there to pytest). Exits with the suite's status.
#
# The load is stress-ng (from Debian, installed by scripts/bootstrap.sh): one CPU hog per
# core (TS_LOAD_CPUS, default nproc), stopped by its PID on every way out of this script,
# and bounded by its own --timeout in case this script is killed outright.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/bootstrap.sh

cpus=${TS_LOAD_CPUS:-$(nproc)}
say() { printf 'test-under-load: %s\n' "$*" >&2; }
command -v stress-ng >/dev/null || { say "stress-ng is not installed (bootstrap installs it)"; exit 1; }

stress_pid=
stop_load() {
    if [ -n "$stress_pid" ] && kill -0 "$stress_pid" 2>/dev/null; then
        kill -TERM "$stress_pid" 2>/dev/null || true
        wait "$stress_pid" 2>/dev/null || true
        say "stopped stress-ng (pid $stress_pid)"
    fi
    stress_pid=
}
trap stop_load EXIT
trap 'stop_load; exit 130' INT
trap 'stop_load; exit 143' TERM

stress-ng --cpu "$cpus" --cpu-load 100 --timeout "${TS_LOAD_TIMEOUT:-100m}" --quiet &
stress_pid=$!
say "stress-ng --cpu $cpus running (pid $stress_pid) beside the suite"

status=0
bash scripts/test.sh "$@" || status=$?
stop_load
say "suite exit status $status"
exit "$status"
