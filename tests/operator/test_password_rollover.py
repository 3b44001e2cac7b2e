"""The reconciler's password rollover step: the workers' pods carry the credentials
checksum the step returns, move when it moves, and keep it when no step runs.

What the step does in Redis is proven on real pods (tests/pods/test_rotation.py); here the
real kopf operator against the API emulator applies what it says, and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from tests.harness.kopf_runner import eventually, fast_settings
from tests.operator.conftest import StartOperator
from tests.operator.emulator import Emulator
from tests.operator.stack_helpers import (
    MASTER,
    create_stack,
    expected_children,
    live,
    play_controllers,
)
from tradingstack_operator.config import OperatorConfig
from tradingstack_operator.handlers import build_registry
from tradingstack_operator.kube import Kube
from tradingstack_operator.reconcile.rollover import Rollover
from tradingstack_operator.reconcile.rotation import CREDENTIALS
from tradingstack_operator.reconcile.shell import Reconciler
from tradingstack_operator.render import render_children
from tradingstack_operator.rotation import Stamp
from tradingstack_operator.sentinel import PassCredentials, RedisView
from tradingstack_operator.spec import TradingStackSpec

pytestmark = pytest.mark.asyncio

RESYNC = 0.3


def _checksums(emulator: Emulator, namespace: str) -> set[str | None]:
    found = set()
    for manifest in expected_children(namespace):
        if manifest["kind"] != "Deployment":
            continue
        served = live(emulator, manifest, namespace) or {}
        template = (served.get("spec") or {}).get("template") or {}
        found.add(((template.get("metadata") or {}).get("annotations") or {}).get(CREDENTIALS))
    return found


async def test_the_workers_carry_the_checksum_the_rollover_step_returns(
    emulator: Emulator, namespace: str, start_operator: StartOperator, api_client: Any
) -> None:
    answer = {"checksum": "0123456789abcdef"}
    seen: list[int] = []

    def step(_name: str, _ns: str, _spec: TradingStackSpec,
             children: Sequence[Mapping[str, Any]],
             _credentials: PassCredentials) -> Stamp:  # fmt: skip
        seen.append(sum(1 for c in children if c.get("kind") == "Deployment"))
        return answer["checksum"], Rollover(switched=True, done=True, under_way=False)

    def make(cfg: OperatorConfig) -> Reconciler:
        kube = Kube(api_client, timeout=cfg.request_timeout_seconds)
        return Reconciler(kube=kube, render=render_children,
                          probe_master=lambda *_: RedisView(master=MASTER),
                          roll_passwords=step)  # fmt: skip

    config = OperatorConfig(resync_seconds=RESYNC, request_timeout_seconds=1.0)
    await start_operator(build_registry(config, make), fast_settings())
    await create_stack(emulator, namespace)
    await eventually(lambda: _checksums(emulator, namespace) == {"0123456789abcdef"})
    await play_controllers(emulator, namespace)
    # The step sees the Deployments it judges the roll by.
    await eventually(lambda: bool(seen) and seen[-1] > 0)
    answer["checksum"] = "fedcba9876543210"  # Redis took the new worker password
    await eventually(lambda: _checksums(emulator, namespace) == {"fedcba9876543210"})
