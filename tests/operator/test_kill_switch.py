"""The kill switch through the real operator: Redis first, whatever else fails; no pod rolls.

The real kopf operator runs against the API emulator; its kill switch writer is the
production one (:func:`kill_switch_on`) pointed through real sentinels at a real
master with two replicas. A real bot and gate trade on that Redis
(:mod:`tests.harness.halting`): a halt must stop its next entry while its exit runs.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import kmock
import pytest
import redis
from redis.sentinel import Sentinel

from tests.conftest import TEST_PASSWORD
from tests.harness.book import write_account
from tests.harness.halting import HaltScenario
from tests.harness.kopf_runner import eventually, fast_settings
from tests.harness.redis_procs import MASTER_NAME, SentinelCluster, wait_for
from tests.operator.api import call, merge, path
from tests.operator.conftest import StartOperator
from tests.operator.emulator import Emulator
from tests.operator.stack_helpers import (
    MASTER,
    SPEC,
    STACK,
    STACKS,
    condition,
    create_stack,
    expected_children,
    live,
    play_controllers,
    stack,
)
from tradingstack_operator.config import OperatorConfig
from tradingstack_operator.handlers import build_registry
from tradingstack_operator.killswitch import kill_switch_on
from tradingstack_operator.kube import Kube
from tradingstack_operator.reconcile.shell import Reconciler
from tradingstack_operator.render import names, render_children
from tradingstack_operator.sentinel import RedisView
from tradingstack_workers.keys import Keys

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]
RESYNC = 0.3
WAIT = 60.0
KEYS = Keys()
Start = Callable[[], Awaitable[None]]


def master_client(cluster: SentinelCluster) -> redis.Redis:
    sentinel = Sentinel(
        [("127.0.0.1", s.port) for s in cluster.sentinels],
        sentinel_kwargs={"password": TEST_PASSWORD, "socket_timeout": 1.0},
    )
    client: redis.Redis = sentinel.master_for(
        MASTER_NAME, password=TEST_PASSWORD, socket_timeout=1.0, decode_responses=True
    )
    return client


@pytest.fixture
def start(sentinel_cluster: SentinelCluster, start_operator: StartOperator, api_client: Any
          ) -> Start:  # fmt: skip
    """The operator stops before the Redis it writes to (fixtures tear down in reverse)."""

    async def run() -> None:
        config = OperatorConfig(resync_seconds=RESYNC, request_timeout_seconds=1.0)

        def connect(*_: Any) -> redis.Redis:
            return master_client(sentinel_cluster)

        def make(cfg: OperatorConfig) -> Reconciler:
            kube = Kube(api_client, timeout=cfg.request_timeout_seconds)
            return Reconciler(kube=kube, render=render_children,
                              probe_master=lambda *_: RedisView(master=MASTER),
                              kill_switch=kill_switch_on(connect))  # fmt: skip

        await start_operator(build_registry(config, make), fast_settings())

    return run


@pytest.fixture
def scenario(sentinel_cluster: SentinelCluster, tmp_path: Path) -> Iterator[HaltScenario]:
    running = HaltScenario.on_sentinels(master_client(sentinel_cluster), sentinel_cluster, tmp_path)
    yield running
    running.stop()


def halted_in_redis(cluster: SentinelCluster) -> str | None:
    value = master_client(cluster).get(KEYS.halted)
    return None if value is None else str(value)


def engaged(emulator: Emulator, namespace: str) -> bool:
    halted = condition(emulator, namespace, "Halted")
    return (halted.get("status"), halted.get("reason")) == ("True", "KillSwitchEngaged")


async def halt(emulator: Emulator, namespace: str, extra: dict[str, Any] | None = None) -> None:
    url = path(STACKS, namespace, STACK)
    code, body = await merge(emulator, url, {"spec": {"halted": True, **(extra or {})}})
    assert code == 200, body


async def settled(emulator: Emulator, namespace: str) -> None:
    await eventually(
        lambda: all(live(emulator, m, namespace) for m in expected_children(namespace)), WAIT
    )
    await play_controllers(emulator, namespace)
    await eventually(lambda: condition(emulator, namespace, "Ready").get("status") == "True", WAIT)


def bot_templates(emulator: Emulator, namespace: str) -> dict[str, Any]:
    """Each Deployment's generation and pod template: a halt must change neither."""
    out = {}
    for manifest in expected_children(namespace):
        if manifest["kind"] == "Deployment":
            served = live(emulator, manifest, namespace) or {}
            out[manifest["metadata"]["name"]] = (
                served.get("metadata", {}).get("generation"),
                served.get("spec", {}).get("template"),
            )
    return out


async def test_a_paused_stack_is_halted_in_redis_and_its_bot_stops_entering(
    emulator: Emulator, namespace: str, start: Start, scenario: HaltScenario,
    sentinel_cluster: SentinelCluster,
) -> None:  # fmt: skip
    await start()
    await create_stack(emulator, namespace)
    await settled(emulator, namespace)
    assert halted_in_redis(sentinel_cluster) == "0"
    code, body = await merge(emulator, path(STACKS, namespace, STACK), {"spec": {"paused": True}})
    assert code == 200, body
    await eventually(lambda: stack(emulator, namespace)["status"]["phase"] == "Paused", WAIT)
    before = bot_templates(emulator, namespace)
    scenario.start()
    await halt(emulator, namespace)
    await eventually(lambda: engaged(emulator, namespace), WAIT)  # written although paused
    assert halted_in_redis(sentinel_cluster) == "1"
    assert not scenario.halted_entry_seen(), "the halt landed after the entry: inconclusive"
    await eventually(scenario.halted_entry_seen, WAIT)
    scenario.check_halted_outcome()
    assert scenario.alive()
    assert bot_templates(emulator, namespace) == before


async def test_the_halt_lands_although_a_child_fails_to_apply(
    emulator: Emulator, namespace: str, start: Start, scenario: HaltScenario,
    sentinel_cluster: SentinelCluster,
) -> None:  # fmt: skip
    await start()
    await create_stack(emulator, namespace)
    await settled(emulator, namespace)
    before = bot_templates(emulator, namespace)

    # From now on the API server refuses the Redis StatefulSet (as for a changed volume
    # claim template): the apply loop stops there, before any Deployment.
    async def refuse(request: kmock.Request) -> kmock.Payload:
        return emulator_refusal(request)

    _ = emulator["patch", kmock.resource("apps/v1/statefulsets")] << refuse
    scenario.start()
    await halt(emulator, namespace, {"redis": {"resources": {"limits": {"memory": "3Gi"}}}})
    await eventually(lambda: engaged(emulator, namespace), WAIT)
    degraded = condition(emulator, namespace, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "ApplyFailed")
    assert halted_in_redis(sentinel_cluster) == "1"
    assert not scenario.halted_entry_seen(), "the halt landed after the entry: inconclusive"
    await eventually(scenario.halted_entry_seen, WAIT)
    scenario.check_halted_outcome()
    assert bot_templates(emulator, namespace) == before  # no pod restarted


async def test_halt_and_resume_roll_no_pod_and_survive_a_failover(
    emulator: Emulator, namespace: str, start: Start, sentinel_cluster: SentinelCluster
) -> None:
    await start()
    await create_stack(emulator, namespace)
    await settled(emulator, namespace)
    before = bot_templates(emulator, namespace)
    await halt(emulator, namespace)
    await eventually(lambda: engaged(emulator, namespace), WAIT)
    assert condition(emulator, namespace, "Ready")["status"] == "True"  # halted is not broken
    assert bot_templates(emulator, namespace) == before

    # The master dies: the replica that takes over holds the switch (the write waited for it).
    old = sentinel_cluster.master()
    old.stop()
    wait_for(lambda: sentinel_cluster.master_port() != old.port, WAIT, "a failover")
    assert halted_in_redis(sentinel_cluster) == "1"

    code, _ = await merge(emulator, path(STACKS, namespace, STACK), {"spec": {"halted": False}})
    assert code == 200
    await eventually(
        lambda: condition(emulator, namespace, "Halted").get("reason") == "Trading", WAIT
    )
    assert halted_in_redis(sentinel_cluster) == "0"
    assert bot_templates(emulator, namespace) == before


async def test_a_halt_redis_cannot_confirm_is_pending_and_degraded(
    emulator: Emulator, namespace: str, start: Start, sentinel_cluster: SentinelCluster
) -> None:
    await start()
    await create_stack(emulator, namespace)
    await settled(emulator, namespace)
    assert condition(emulator, namespace, "Halted")["reason"] == "Trading"
    for node in sentinel_cluster.nodes:  # every Redis server gone; sentinels still answer
        node.stop()
    await halt(emulator, namespace)
    await eventually(
        lambda: condition(emulator, namespace, "Halted").get("reason") == "KillSwitchPending",
        WAIT,
    )
    assert condition(emulator, namespace, "Halted")["status"] == "Unknown"
    degraded = condition(emulator, namespace, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "KillSwitchPending")
    assert "Redis unreachable" in degraded["message"]


async def test_a_stack_created_halted_starts_no_bot_before_its_switch_lands(
    emulator: Emulator, namespace: str, start: Start, sentinel_cluster: SentinelCluster
) -> None:
    await start()
    await create_stack(emulator, namespace, {**SPEC, "halted": True})
    bot = next(m for m in expected_children(namespace) if m["metadata"]["name"] == "paper-bot-alpha"
               and m["kind"] == "Deployment")  # fmt: skip
    sts = next(m for m in expected_children(namespace) if m["kind"] == "StatefulSet")
    await eventually(lambda: live(emulator, sts, namespace) is not None, WAIT)
    await eventually(
        lambda: condition(emulator, namespace, "Halted").get("reason") == "KillSwitchPending",
        WAIT,
    )
    assert live(emulator, bot, namespace) is None  # no Redis pod ready: no switch, no bot
    await play_controllers(emulator, namespace, only=("StatefulSet",))
    await eventually(lambda: engaged(emulator, namespace), WAIT)
    await eventually(lambda: live(emulator, bot, namespace) is not None, WAIT)
    assert halted_in_redis(sentinel_cluster) == "1"


def emulator_refusal(request: kmock.Request) -> kmock.Payload:
    from kmock._internal.rendering import Response  # noqa: PLC0415 - the emulator's own type

    from tests.operator import k8s_rules as rules  # noqa: PLC0415

    message = f"StatefulSet.apps is invalid: spec: Forbidden ({request.url.path})"
    return Response(status=422, payload=rules.status_body(422, message))


async def cli(*args: str, kubeconfig: Path) -> tuple[int, str, str]:
    """The real ``tradingstack`` command, awaited (the emulator answers from this loop)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
    env["KUBECONFIG"] = str(kubeconfig)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradingstack_workers.cli", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), WAIT)
    return int(process.returncode or 0), out.decode(), err.decode()


async def test_the_cli_halts_a_cluster_stack_while_the_operator_is_down(
    emulator: Emulator, namespace: str, kubeconfig: Path, scenario: HaltScenario,
    sentinel_cluster: SentinelCluster,
) -> None:  # fmt: skip
    # The stack and its generated password Secret exist; no operator runs.
    await create_stack(emulator, namespace)
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": f"{STACK}-redis-auth", "namespace": namespace},
              "data": {"password": base64.b64encode(TEST_PASSWORD.encode()).decode()}}  # fmt: skip
    code, body = await call(emulator, "POST", path("v1/secrets", namespace), secret)
    assert code == 201, body
    sentinels = [f"--sentinel=127.0.0.1:{s.port}" for s in sentinel_cluster.sentinels]
    scenario.start()

    code, out, err = await cli("halt", STACK, "-n", namespace, *sentinels, kubeconfig=kubeconfig)
    assert code == 0, err
    assert "halted" in out
    assert halted_in_redis(sentinel_cluster) == "1"
    assert stack(emulator, namespace)["spec"]["halted"] is True  # the operator will agree
    assert not scenario.halted_entry_seen(), "the halt landed after the entry: inconclusive"
    await eventually(scenario.halted_entry_seen, WAIT)
    scenario.check_halted_outcome()

    code, out, err = await cli("status", STACK, "-n", namespace, "--json", *sentinels,
                               kubeconfig=kubeconfig)  # fmt: skip
    assert code == 0, err
    state = json.loads(out)
    assert (state["halted"], state["spec_halted"], state["where"]) == (True, True, "cluster")
    [account] = [a for a in state["accounts"] if a["account"] == f"{STACK}-alpha"]
    assert account["positions"] == {}

    code, out, err = await cli("resume", STACK, "-n", namespace, *sentinels,
                               kubeconfig=kubeconfig)  # fmt: skip
    assert code == 0, err
    assert halted_in_redis(sentinel_cluster) == "0"
    assert stack(emulator, namespace)["spec"]["halted"] is False

    code, _, err = await cli("halt", "nosuch", "-n", namespace, *sentinels, kubeconfig=kubeconfig)
    assert code == 1
    assert "no TradingStack 'nosuch'" in err


async def test_the_accounts_of_removed_bots_leave_the_book(
    emulator: Emulator, namespace: str, start: Start, sentinel_cluster: SentinelCluster
) -> None:
    """A bot removed from the spec stops writing, but its account's parts would stay in
    the portfolio state: its equity counted in the gate's capacity for good. The
    reconciliation retires them (runtime.book) with the kill switch's connection."""
    client = master_client(sentinel_cluster)
    declared = names.account(STACK, SPEC["bots"][0]["name"])
    write_account(client, KEYS, declared, 10_000.0, 0.5)
    write_account(client, KEYS, f"{STACK}-removed", 90_000.0, 2.0)
    await start()
    await create_stack(emulator, namespace)
    await settled(emulator, namespace)  # the switch (and the book) wait for a ready Redis
    await eventually(
        lambda: f"cash_usd:{STACK}-removed" not in client.hgetall(KEYS.portfolio_state), WAIT
    )
    state = client.hgetall(KEYS.portfolio_state)
    assert float(state["equity_usd"]) == 10_050.0  # 10 000 cash + 0.5 BTC at 100
    assert float(client.hget(KEYS.snapshot("BTCUSDT"), "position_amt") or "nan") == 0.5


async def test_a_paused_stack_retires_no_account(
    emulator: Emulator, namespace: str, start: Start, sentinel_cluster: SentinelCluster
) -> None:
    """Paused, the operator converges no child: a bot removed from the spec may still run
    and write, so retiring its part would only flap the book. Resumed, it is retired."""
    client = master_client(sentinel_cluster)
    await start()
    await create_stack(emulator, namespace)
    await settled(emulator, namespace)
    code, body = await merge(emulator, path(STACKS, namespace, STACK), {"spec": {"paused": True}})
    assert code == 200, body
    await eventually(lambda: stack(emulator, namespace)["status"]["phase"] == "Paused", WAIT)
    write_account(client, KEYS, f"{STACK}-removed", 90_000.0, 2.0)
    await halt(emulator, namespace)
    await eventually(lambda: engaged(emulator, namespace), WAIT)  # a paused reconciliation ran
    assert f"cash_usd:{STACK}-removed" in client.hgetall(KEYS.portfolio_state)
    code, body = await merge(emulator, path(STACKS, namespace, STACK), {"spec": {"paused": False}})
    assert code == 200, body
    await eventually(
        lambda: f"cash_usd:{STACK}-removed" not in client.hgetall(KEYS.portfolio_state), WAIT
    )
