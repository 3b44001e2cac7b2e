"""Reconcile many TradingStacks against the API emulator: requests per stack and wall time.

Our reconciler (diff, then write only what differs) against a naive one measured in
the same run: it server-side-applies every child and the status on every pass.
Counts are exact (the emulator's request log); times include the emulator's work.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kmock
import kubernetes
from tests.harness.kopf_runner import write_kubeconfig
from tests.operator.emulator import Emulator
from tests.operator.stack_helpers import stack_manifest

from bench.common import emit, parser
from tradingstack_operator.kube import STACKS, Kube
from tradingstack_operator.reconcile.shell import Reconciler
from tradingstack_operator.render import render_children
from tradingstack_operator.resources import adopt
from tradingstack_operator.spec import parse_spec

NAMESPACE = "bench"


@contextmanager
def emulator_server() -> Iterator[tuple[Emulator, str]]:
    """The emulator served from its own thread and loop, so sync clients can call it."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        box["stop"] = (asyncio.get_running_loop(), stop)
        async with Emulator() as handler, kmock.Server(handler, host="127.0.0.1"):
            box["emulator"] = handler
            ready.set()
            await stop.wait()
            handler.close()

    thread = threading.Thread(target=asyncio.run, args=[serve()], daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the emulator did not start")
    emulator: Emulator = box["emulator"]
    try:
        yield emulator, str(emulator.url).rstrip("/")
    finally:
        loop, stop = box["stop"]
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def naive_reconcile(kube: Kube, body: Mapping[str, Any]) -> None:
    """The baseline: apply everything and the status, every time, without looking first."""
    meta = body["metadata"]
    for child in render_children(meta["name"], meta["namespace"], parse_spec(body["spec"])):
        adopt(child, body)
        kube.apply(child)
    kube.patch_status(meta["namespace"], meta["name"], {"status": {"phase": "Progressing"}})


def measure(
    emulator: Emulator, stacks: list[dict[str, Any]], run: Callable[[dict[str, Any]], None]
) -> tuple[float, float, float]:
    """(requests per stack, writes per stack, seconds per stack) of one pass over ``stacks``."""
    mark = emulator.mark()
    started = time.perf_counter()
    for body in stacks:
        run(body)
    elapsed = time.perf_counter() - started
    count = len(stacks)
    return (
        emulator.requests_since(mark) / count,
        len(emulator.writes(mark)) / count,
        elapsed / count,
    )


def create_stacks(kube: Kube, api: Any, prefix: str, count: int) -> list[dict[str, Any]]:
    custom = kubernetes.client.CustomObjectsApi(api)
    created = []
    for i in range(count):
        manifest = stack_manifest()
        manifest["metadata"]["name"] = f"{prefix}{i}"
        custom.create_namespaced_custom_object(
            "tradingstack.io", "v1alpha1", NAMESPACE, "tradingstacks", manifest
        )
        fresh = kube.get(STACKS, NAMESPACE, f"{prefix}{i}")
        assert fresh is not None
        created.append(fresh)
    return created


Totals = dict[str, list[float]]  # reconciler -> [create req, writes, s, resync req, writes, s]


def run_batch(count: int, prefix: str, totals: Totals) -> None:
    """Reconcile ``count`` stacks with each reconciler in one fresh emulator."""
    with tempfile.TemporaryDirectory() as tmp, emulator_server() as (emulator, url):
        config = write_kubeconfig(Path(tmp) / "kubeconfig", url, NAMESPACE)
        api = kubernetes.config.new_client_from_config(config_file=str(config))
        kubernetes.client.CoreV1Api(api).create_namespace(
            kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=NAMESPACE))
        )
        kube = Kube(api)
        diffing = Reconciler(kube=kube, render=render_children)

        def reconcile(body: dict[str, Any]) -> None:
            diffing.reconcile(body, lambda *_: None)

        runs: dict[str, Callable[[dict[str, Any]], None]] = {
            "diffing": reconcile,
            "naive": lambda body: naive_reconcile(kube, body),
        }
        for name, run in runs.items():
            stacks = create_stacks(kube, api, f"{prefix}{name[0]}", count)
            figures = [*measure(emulator, stacks, run), *measure(emulator, stacks, run)]
            sums = totals.setdefault(name, [0.0] * 6)
            for i, value in enumerate(figures):
                sums[i] += value * count
        api.close()


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    count, per_emulator = (3, 3) if args.quick else (100, 10)
    totals: Totals = {}
    for batch in range(0, count, per_emulator):
        run_batch(min(per_emulator, count - batch), f"b{batch}-", totals)
    ours = [v / count for v in totals["diffing"]]
    naive = [v / count for v in totals["naive"]]
    # kmock matches every request against its whole request log, so one emulator slows
    # quadratically; per-stack figures do not depend on how many stacks share one.
    params = {"stacks": count, "stacks_per_emulator": per_emulator}
    for phase, offset in (("create", 0), ("no-op resync", 3)):
        for i, (measure_name, unit) in enumerate(
            (("requests per stack", "requests"), ("writes per stack", "writes"),
             ("seconds per stack", "s"))
        ):  # fmt: skip
            emit(
                "operator_reconcile",
                f"{phase}: {measure_name}",
                unit=unit,
                value=ours[offset + i],
                baseline_case="naive apply-all",
                baseline_value=naive[offset + i],
                phase=phase,
                **params,
            )


if __name__ == "__main__":
    main()
