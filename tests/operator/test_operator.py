"""The real TradingStack operator (kopf + our handlers) against the API emulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import kmock
import pytest

from tests.operator.api import call, merge, path
from tests.operator.conftest import StartOperator
from tests.operator.emulator import Emulator
from tests.operator.runner import WAIT, eventually, fast_settings, handled, runs_of
from tests.operator.stack_helpers import (
    MASTER,
    SPEC,
    STACK,
    STACKS,
    child_url,
    condition,
    create_stack,
    expected_children,
    find,
    live,
    play_controllers,
    stack,
)
from tradingstack_operator.config import OperatorConfig
from tradingstack_operator.handlers import build_registry
from tradingstack_operator.kube import Kube
from tradingstack_operator.reconcile.shell import Reconciler
from tradingstack_operator.render import render_children

pytestmark = pytest.mark.asyncio

RESYNC = 0.3
CLIENT = "OpenAPI-Generator"  # the kubernetes client's User-Agent: our reconciler's writes

Start = Callable[[], Awaitable[None]]


@pytest.fixture
def probes() -> list[str]:
    """Stacks the Sentinel probe was asked about, in order."""
    return []


@pytest.fixture
def start(start_operator: StartOperator, api_client: Any, probes: list[str]) -> Start:
    async def run() -> None:
        config = OperatorConfig(resync_seconds=RESYNC, request_timeout_seconds=1.0)

        def make(cfg: OperatorConfig) -> Reconciler:
            # No Redis pods run here: the Sentinel probe reports a fixed master.
            kube = Kube(api_client, timeout=cfg.request_timeout_seconds)

            def probe(name: str, *_: Any) -> str:
                probes.append(name)
                return MASTER

            return Reconciler(kube=kube, render=render_children, probe_master=probe)

        await start_operator(build_registry(config, make), fast_settings())

    return run


async def settled(emulator: Emulator, namespace: str) -> None:
    await eventually(
        lambda: all(live(emulator, m, namespace) for m in expected_children(namespace))
    )
    await play_controllers(emulator, namespace)
    await eventually(lambda: condition(emulator, namespace, "Ready").get("status") == "True",
                     timeout=WAIT)  # fmt: skip
    # kopf's own one-time write: the finalizer that lets it stop the resync timer on deletion.
    await eventually(lambda: bool(stack(emulator, namespace)["metadata"].get("finalizers")), WAIT)


async def test_create_gives_every_child_owned_by_the_stack_and_ready_conditions(
    emulator: Emulator, namespace: str, start: Start, probes: list[str]
) -> None:
    await start()
    await create_stack(emulator, namespace)
    await eventually(lambda: condition(emulator, namespace, "Ready").get("status") == "False", WAIT)
    assert condition(emulator, namespace, "Progressing")["status"] == "True"
    assert probes == []  # no Redis pod is ready: Sentinel is not asked
    await settled(emulator, namespace)

    uid = stack(emulator, namespace)["metadata"]["uid"]
    for manifest in expected_children(namespace):
        served = live(emulator, manifest, namespace)
        assert served is not None
        [owner] = served["metadata"]["ownerReferences"]
        assert (owner["uid"], owner["controller"]) == (uid, True)
    status = stack(emulator, namespace)["status"]
    kinds = {c["type"]: c["status"] for c in status["conditions"]}
    assert kinds == {"Ready": "True", "RedisReady": "True", "WorkersAvailable": "True",
                     "Progressing": "False", "Degraded": "False", "Halted": "False"}  # fmt: skip
    assert status["redisMaster"] == MASTER
    assert set(probes) == {STACK}
    assert status["phase"] == "Ready"
    assert status["observedGeneration"] == 1
    assert status["components"]["gate"] == {"ready": 2, "desired": 2}
    assert status["components"]["bot-alpha"] == {"ready": 2, "desired": 2}  # one key per bot
    assert "bot" not in status["components"]


async def test_a_noop_resync_writes_nothing(
    emulator: Emulator, namespace: str, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    await start()
    await create_stack(emulator, namespace)
    await settled(emulator, namespace)
    await runs_of(caplog, "resync", 2)  # the resync that saw Ready has finished
    mark, rv = emulator.mark(), emulator.resource_version
    await runs_of(caplog, "resync", 3)
    assert emulator.writes(mark) == []
    assert emulator.changes(rv) == []


async def test_a_spec_change_touches_only_the_affected_child(
    emulator: Emulator, namespace: str, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    await start()
    await create_stack(emulator, namespace)
    await settled(emulator, namespace)
    mark = emulator.mark()
    changed = {**SPEC, "workers": {"gate": {"permitTtlSeconds": 30}}}
    code, _ = await merge(emulator, path(STACKS, namespace, STACK), {"spec": changed})
    assert code == 200
    gate = find(expected_children(namespace, changed), "Deployment", f"{STACK}-gate")

    def gate_rolled() -> bool:
        served = live(emulator, gate, namespace) or {}
        env = served["spec"]["template"]["spec"]["containers"][0]["env"]
        return {"name": "TS_PERMIT_TTL_SECONDS", "value": "30"} in env

    await eventually(gate_rolled, WAIT)
    await runs_of(caplog, "resync", 2)  # resyncs since then change nothing else
    children = {url for method, url in emulator.writes(mark, agent=CLIENT) if "/status" not in url}
    assert children == {child_url(gate, namespace)}


async def test_a_deleted_child_comes_back_and_a_hand_edit_is_reverted(
    emulator: Emulator, namespace: str, start: Start
) -> None:
    await start()
    await create_stack(emulator, namespace)
    await settled(emulator, namespace)
    children = expected_children(namespace)
    service = next(m for m in children if m["kind"] == "Service")
    gate = find(children, "Deployment", f"{STACK}-gate")

    assert (await call(emulator, "DELETE", child_url(service, namespace)))[0] == 200
    code, _ = await merge(emulator, child_url(gate, namespace), {"spec": {"replicas": 7}})
    assert code == 200
    await eventually(lambda: live(emulator, service, namespace) is not None, timeout=WAIT)
    await eventually(lambda: (live(emulator, gate, namespace) or {})["spec"]["replicas"] == 2,
                     timeout=WAIT)  # fmt: skip


async def test_deleting_the_stack_removes_every_child(
    emulator: Emulator, namespace: str, start: Start
) -> None:
    await start()
    await create_stack(emulator, namespace)
    await settled(emulator, namespace)
    assert (await call(emulator, "DELETE", path(STACKS, namespace, STACK)))[0] == 200
    await eventually(lambda: not stack(emulator, namespace), WAIT)
    assert [m["metadata"]["name"] for m in expected_children(namespace)
            if live(emulator, m, namespace)] == []  # fmt: skip


@pytest.mark.parametrize(
    "fault_kind",
    [(500, 0.0, False), (409, 0.0, False), (504, 1.5, True)],
    ids=["500", "409", "timeout-after-commit"],
)
async def test_an_api_error_is_retried_without_duplicates(
    emulator: Emulator, namespace: str, start: Start, fault_kind: tuple[int, float, bool]
) -> None:
    status, delay, commit = fault_kind
    deployments = emulator["patch", kmock.resource("apps/v1/deployments")]
    fault = emulator.fail_once(deployments, status, delay=delay, commit=commit)
    await start()
    await create_stack(emulator, namespace)
    await settled(emulator, namespace)
    assert fault.fired
    names = sorted(name for (res, ns, name) in emulator.objects
                   if res == kmock.resource("apps/v1/deployments") and ns == namespace)  # fmt: skip
    expected = sorted(m["metadata"]["name"] for m in expected_children(namespace)
                      if m["kind"] == "Deployment")  # fmt: skip
    assert names == expected


async def test_an_invalid_spec_gives_a_clear_condition_an_event_and_no_children(
    emulator: Emulator, namespace: str, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    await start()
    bad = {**SPEC, "redis": {"replicas": 3, "sentinel": {"quorum": 4}}}
    await create_stack(emulator, namespace, bad)
    await eventually(
        lambda: condition(emulator, namespace, "Ready").get("reason") == "InvalidSpec", WAIT
    )
    ready = condition(emulator, namespace, "Ready")
    assert ready["status"] == "False"
    assert "spec.redis.sentinel.quorum" in ready["message"]
    assert stack(emulator, namespace)["status"]["phase"] == "Invalid"
    await runs_of(caplog, "resync", 2)
    owned = [key for key in emulator.objects
             if key[1] == namespace and key[0] not in (kmock.resource(STACKS),
                                                       kmock.resource("v1/events"))]  # fmt: skip
    assert owned == []
    events = [body for (res, ns, _), body in emulator.objects.items()
              if res == kmock.resource("v1/events") and ns == namespace]  # fmt: skip
    assert any(e.get("reason") == "InvalidSpec" and e.get("type") == "Warning" for e in events)


async def test_a_paused_stack_is_left_alone(
    emulator: Emulator, namespace: str, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    await start()
    await create_stack(emulator, namespace, {**SPEC, "paused": True})
    await eventually(
        lambda: stack(emulator, namespace).get("status", {}).get("phase") == "Paused", WAIT
    )
    await runs_of(caplog, "resync", 2)
    assert not any(live(emulator, m, namespace) for m in expected_children(namespace))


async def test_a_stack_being_deleted_is_not_reconciled(
    emulator: Emulator, namespace: str, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    await start()
    await create_stack(emulator, namespace)
    await settled(emulator, namespace)
    url = path(STACKS, namespace, STACK)
    finalizers = [*stack(emulator, namespace)["metadata"]["finalizers"], "test.example/hold"]
    assert (await merge(emulator, url, {"metadata": {"finalizers": finalizers}}))[0] == 200
    assert (await call(emulator, "DELETE", url))[0] == 200
    # kopf releases its own finalizer; ours holds the stack in deletion.
    await eventually(
        lambda: stack(emulator, namespace)["metadata"].get("finalizers") == ["test.example/hold"],
        WAIT,
    )
    # A child lost meanwhile is not recreated: the stack is going, and GC will follow.
    service = next(m for m in expected_children(namespace) if m["kind"] == "Service")
    mark = emulator.mark()
    assert (await call(emulator, "DELETE", child_url(service, namespace)))[0] == 200
    # kopf has stopped the resync timer; a change of the stack still reaches the event
    # handler, which must leave it alone. Two changes, each awaited: kopf handles one
    # object's events in turn, so the second run began after the child was gone.
    for poke in ("1", "2"):
        before = handled(caplog, "on_event", kind="Handler")
        patch = {"metadata": {"annotations": {"test.example/poke": poke}}}
        assert (await merge(emulator, url, patch))[0] == 200
        await eventually(lambda n=before: handled(caplog, "on_event", kind="Handler") > n)
    assert emulator.writes(mark, agent=CLIENT) == []
    assert live(emulator, service, namespace) is None
