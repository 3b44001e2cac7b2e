"""Reconcile many TradingStacks against a real kube-apiserver: requests, writes, memory.

The operator (``tradingstack operator``, real kopf, as a ServiceAccount bound to
rbac.py) and the naive apply-everything loop (bench._naive_operator) run side by side in
one run, each in a namespace of its own, each over the same N stacks. Requests and
writes are counted from the API server's audit log, by user, not from either program's
own count. Memory is each process's resident set (VmRSS, and its peak VmHWM).

Phases: create (until every stack is reconciled once), then no-op resyncs of the settled
stacks (until every stack has been passed over ``RESYNCS`` more times).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from tests.controlplane.conftest import CRD_FILE
from tests.controlplane.stacks import SPEC, WRITES, Stacks
from tests.harness.controlplane import ControlPlane, service_account_user, wait_for
from tests.harness.processes import ROOT
from tests.harness.redis_procs import free_port
from tests.harness.tools import monitoring_crd_files

from bench.common import emit, parser
from tradingstack_operator import rbac
from tradingstack_operator.spec import PLURAL

BENCH = "operator_controlplane"
ACCOUNT = "bench-operator"
RESYNC_SECONDS = 10.0
RESYNCS = 2
WAIT = 1800.0


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


@contextmanager
def process(
    argv: list[str], kubeconfig: Path, log: Path, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process with the kubeconfig as its credentials; stopped by its PID."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
    environ |= {"KUBECONFIG": str(kubeconfig), "PYTHONPATH": str(ROOT), **env}
    with log.open("wb") as out:
        child = subprocess.Popen(argv, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


#: The request one program makes once per stack per pass: (verb, resource, subresource).
Marker = tuple[str, str, str | None]


class Tally:
    """One user's requests from an audit mark on, read incrementally (the log grows to
    hundreds of MB over a run: it is never read twice)."""

    def __init__(self, plane: ControlPlane, user: str, marker: Marker) -> None:
        self.plane, self.user, self.marker = plane, user, marker
        self.mark = plane.audit_mark()
        self.requests = self.writes = 0
        self.passes: Counter[str] = Counter()
        #: Requests by ``verb resource[/subresource]`` (``get discovery`` for the API's
        #: discovery documents).
        self.kinds: Counter[str] = Counter()

    def poll(self) -> Tally:
        events, self.mark = self.plane.audit_follow(self.mark, self.user)
        for event in events:
            ref = event.get("objectRef") or {}
            self.requests += 1
            self.writes += event["verb"] in WRITES
            sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
            self.kinds[f"{event['verb']} {ref.get('resource', 'discovery')}{sub}"] += 1
            if (event["verb"], ref.get("resource"), ref.get("subresource")) == self.marker:
                self.passes[ref.get("name", "")] += 1
        return self


def measure(
    plane: ControlPlane,
    namespace: str,
    *,
    n: int,
    start: Callable[[Path], Any],
    reconciled: Callable[[Stacks, str], bool],
    marker: Marker,
) -> dict[str, Any]:
    """Create ``n`` stacks under one program; count its requests while creating and over
    ``RESYNCS`` no-op passes; its memory at the end."""
    plane.create_namespace(namespace)
    config = plane.service_account_kubeconfig(
        namespace, ACCOUNT, rbac.namespaced_rules(peering=False)
    )
    user = service_account_user(namespace, ACCOUNT)
    stacks = Stacks(plane, namespace)
    names = [f"stack-{i:03d}" for i in range(n)]
    with start(config) as program:

        def running(check: Callable[[], bool]) -> Callable[[], bool]:
            def checked() -> bool:
                if program.poll() is not None:  # its log says why
                    raise SystemExit(f"{program.args} exited with {program.returncode}")
                return check()

            return checked

        created = Tally(plane, user, marker)
        started = time.perf_counter()
        for name in names:
            stacks.create(name, SPEC)
        wait_for(
            running(lambda: all(reconciled(stacks, name) for name in names)),
            WAIT,
            "every stack reconciled",
            interval=2.0,
        )
        created_s = time.perf_counter() - started
        created.poll()
        resynced = Tally(plane, user, marker)
        wait_for(
            running(lambda: min(resynced.poll().passes[s] for s in names) >= RESYNCS),
            WAIT,
            f"{RESYNCS} more passes over every stack",
            interval=2.0,
        )
        resync_passes = sum(resynced.passes[s] for s in names)
        rss, peak = rss_mib(program.pid)
    return {
        "create_by_request": {k: round(v / n, 3) for k, v in sorted(created.kinds.items())},
        "resync_by_request": {
            k: round(v / resync_passes, 3) for k, v in sorted(resynced.kinds.items())
        },
        "create_requests": created.requests / n,
        "create_writes": created.writes / n,
        "create_seconds": created_s / n,
        "resync_requests": resynced.requests / resync_passes,
        "resync_writes": resynced.writes / resync_passes,
        "rss_mib": rss,
        "peak_rss_mib": peak,
    }


def _exit(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)  # unwind: the control plane and both programs are stopped


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 3 if args.quick else 100
    signal.signal(signal.SIGTERM, _exit)
    work = Path(tempfile.mkdtemp(prefix="bench-controlplane-"))
    plane = ControlPlane(work / "plane", full=False)
    try:
        plane.start()  # inside the try: a control plane that fails to start leaves no folder
        plane.install_crds([CRD_FILE, *monitoring_crd_files()])

        @contextmanager
        def ours(config: Path) -> Iterator[subprocess.Popen[bytes]]:
            argv = [sys.executable, "-m", "tradingstack_workers.cli", "operator"]
            with process(
                argv, config, work / "operator.log", TS_OPERATOR_NAMESPACES="ours",
                TS_OPERATOR_RESYNC_SECONDS=str(RESYNC_SECONDS),
                TS_OPERATOR_HEALTH_PORT=str(free_port()), TS_OPERATOR_PROBE_SENTINEL="false",
            ) as program:  # fmt: skip
                yield program

        @contextmanager
        def naive(config: Path) -> Iterator[subprocess.Popen[bytes]]:
            argv = [sys.executable, "-m", "bench._naive_operator", "--namespace", "naive",
                    "--interval", str(RESYNC_SECONDS)]  # fmt: skip
            with process(argv, config, work / "naive.log") as program:
                yield program

        def status_observed(stacks: Stacks, name: str) -> bool:
            # Reconciled with every child applied (no controllers run here: the workloads
            # stay Progressing), and kopf's one-time finalizer write has landed.
            stack = stacks.get(name)
            status = stack.get("status") or {}
            applied = status.get("observedGeneration") == 1 and status.get("phase") == "Progressing"
            return bool(applied and stack["metadata"].get("finalizers"))

        def applied(stacks: Stacks, name: str) -> bool:
            return (stacks.get(name).get("status") or {}).get("phase") == "Progressing"

        # One reconcile of ours reads the stack once; one naive pass patches its status once.
        mine = measure(plane, "ours", n=n, start=ours, reconciled=status_observed,
                       marker=("get", PLURAL, None))  # fmt: skip
        base = measure(plane, "naive", n=n, start=naive, reconciled=applied,
                       marker=("patch", PLURAL, "status"))  # fmt: skip
    finally:
        plane.stop()
        shutil.rmtree(work, ignore_errors=True)
    params = {"stacks": n, "resync_seconds": RESYNC_SECONDS, "kube_apiserver": "1.37"}
    rows = [
        ("create requests per stack", "requests", "create_requests"),
        ("create writes per stack", "writes", "create_writes"),
        ("create time per stack", "s", "create_seconds"),
        ("no-op resync requests per stack", "requests", "resync_requests"),
        ("no-op resync writes per stack", "writes", "resync_writes"),
        ("operator RSS", "MiB", "rss_mib"),
        ("operator peak RSS", "MiB", "peak_rss_mib"),
    ]
    # The request rows carry their breakdown by verb and resource, per stack (per pass).
    breakdown = {"create_requests": "create_by_request", "resync_requests": "resync_by_request"}
    for case, unit, key in rows:
        detail = {}
        if key in breakdown:
            detail = {"by_request": mine[breakdown[key]],
                      "baseline_by_request": base[breakdown[key]]}  # fmt: skip
        emit(BENCH, case, unit=unit, value=mine[key], baseline_case=f"naive apply-all: {case}",
             baseline_value=base[key], **params, **detail)  # fmt: skip


if __name__ == "__main__":
    main()
