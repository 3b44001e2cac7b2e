#!/usr/bin/env bash
# The whole test command (scripts/test.sh) with a CPU load on every core beside it: what a
# CI machine shared with a Go build looks like to the suite. Arguments go to scripts/test.sh
# (and from there to pytest). Exits with the suite's status.
#
# The load is stress-ng (from Debian, installed by scripts/bootstrap.sh): one CPU hog per
# core (TS_LOAD_CPUS, default nproc), stopped by its PID on every way out of this script,
# and bounded by its own --timeout in case this script is killed outright. Ctrl-C or
# SIGTERM interrupts the suite (SIGINT to its process group: pytest tears its fixtures
# down, so every server a test started is stopped), then stops the load.
set -euo pipefail
set -m # background jobs get process groups of their own: the suite's can be signalled

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/bootstrap.sh

cpus=${TS_LOAD_CPUS:-$(nproc)}
say() { printf 'test-under-load: %s\n' "$*" >&2; }
command -v stress-ng >/dev/null || { say "stress-ng is not installed (bootstrap installs it)"; exit 1; }

stress_pid=
suite_pid=
stop_load() {
    if [ -n "$stress_pid" ] && kill -0 "$stress_pid" 2>/dev/null; then
        kill -TERM "$stress_pid" 2>/dev/null || true
        wait "$stress_pid" 2>/dev/null || true
        say "stopped stress-ng (pid $stress_pid)"
    fi
    stress_pid=
}
interrupt_suite() {
    if [ -n "$suite_pid" ]; then kill -INT -- "-$suite_pid" 2>/dev/null || true; fi
}
trap stop_load EXIT
trap interrupt_suite INT TERM

stress-ng --cpu "$cpus" --cpu-load 100 --timeout "${TS_LOAD_TIMEOUT:-100m}" --quiet &
stress_pid=$!
say "stress-ng --cpu $cpus running (pid $stress_pid) beside the suite"

# SIGINT back to its default for the suite, in case this script was started with it
# ignored (as a background job of a shell without job control is): pytest needs it.
env --default-signal=INT bash scripts/test.sh "$@" &
suite_pid=$!
status=0
while :; do
    wait "$suite_pid" && status=0 || status=$?
    kill -0 "$suite_pid" 2>/dev/null || break # still running: a signal interrupted the wait
done
suite_pid=
stop_load
say "suite exit status $status"
exit "$status"
