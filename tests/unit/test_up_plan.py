"""``tradingstack up``'s plan: rendered Deployments to local processes, env translated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tradingstack_operator.manifests import load_manifest
from tradingstack_operator.render import render
from tradingstack_operator.render.stack import stack_from_manifest
from tradingstack_workers.up.plan import (
    PlanError,
    Redis,
    containers,
    local_env,
    processes,
)

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = Path("/data/redis-password")
SENTINELS = Redis(None, (("127.0.0.1", 26001), ("127.0.0.1", 26002)), PASSWORD)
SINGLE = Redis("redis://127.0.0.1:6400/0", (), PASSWORD)


def rendered(name: str) -> list[dict[str, object]]:
    return render(stack_from_manifest(load_manifest(ROOT / name)))


def test_every_worker_and_bot_deployment_with_its_replicas() -> None:
    paper = containers(rendered("examples/paper.yaml"))
    found = {c.deployment: (c.kind, c.replicas) for c in paper}
    assert found == {
        "paper-clusters": ("clusters", 1),
        "paper-gate": ("gate", 2),
        "paper-governor": ("governor", 1),
        "paper-intel": ("intel", 1),
        "paper-bot-majors-rsi": ("bots", 2),
        "paper-bot-sol-bollinger": ("bots", 2),
    }
    gate = next(c for c in paper if c.kind == "gate")
    assert (gate.liveness.period_s, gate.liveness.failure_threshold) == (10, 3)
    assert gate.startup is not None
    assert gate.readiness is not None
    readiness = (gate.readiness.path, gate.readiness.period_s, gate.readiness.failure_threshold)
    assert readiness == ("/readyz", 5, 2)


def test_cluster_values_become_local_ones() -> None:
    rendered_env: list[dict[str, Any]] = [
        {"name": "TS_INSTANCE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "TS_REDIS_SENTINELS", "value": "paper-redis-0.paper-redis-headless:26379"},
        {"name": "TS_REDIS_MASTER_NAME", "value": "mymaster"},
        {"name": "TS_REDIS_PASSWORD_FILE", "value": "/var/run/tradingstack/redis/password"},
        {"name": "TS_HTTP_PORT", "value": "8080"},
        {"name": "TS_LEADERSHIP", "value": "kubernetes"},
        {"name": "TS_LEASE_NAME", "value": "paper-bot-x"},
        {"name": "TS_LEASE_NAMESPACE",
         "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]  # fmt: skip
    env = local_env(rendered_env, instance="paper-bot-x-1", redis=SENTINELS, http_port=40001)
    assert env == {
        "TS_INSTANCE": "paper-bot-x-1",
        "TS_REDIS_SENTINELS": "127.0.0.1:26001,127.0.0.1:26002",
        "TS_REDIS_MASTER_NAME": "mymaster",
        "TS_REDIS_PASSWORD_FILE": str(PASSWORD),
        "TS_HTTP_HOST": "127.0.0.1",
        "TS_HTTP_PORT": "40001",
        "TS_LEADERSHIP": "redis",
        "TS_LEASE_NAME": "paper-bot-x",
    }


def test_sentinel_spec_on_a_single_local_server_uses_the_url() -> None:
    env = local_env(
        [{"name": "TS_REDIS_SENTINELS", "value": "x:26379"}],
        instance="i",
        redis=SINGLE,
        http_port=1,
    )
    assert env["TS_REDIS_URL"] == "redis://127.0.0.1:6400/0"
    assert "TS_REDIS_SENTINELS" not in env


def test_unknown_downward_api_field_is_refused() -> None:
    entry = {"name": "TS_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    with pytest.raises(PlanError, match="TS_NODE"):
        local_env([entry], instance="i", redis=SINGLE, http_port=1)


def test_processes_get_distinct_ports_instances_and_overrides() -> None:
    counter = iter(range(41000, 42000))
    procs = processes(
        containers(rendered("tests/data/specs/valid/single-redis.yaml")),
        SINGLE,
        lambda: next(counter),
        {"gate": {"TS_LOG_LEVEL": "DEBUG", "TS_STREAM_BLOCK_MS": "200"}},
    )
    assert len({p.http_port for p in procs}) == len(procs)
    assert len({p.instance for p in procs}) == len(procs)
    for p in procs:
        assert p.env["TS_INSTANCE"] == p.instance
        assert p.env["TS_REDIS_URL"] == SINGLE.url
        assert (p.env.get("TS_LOG_LEVEL") == "DEBUG") == (p.kind == "gate")
        assert ("TS_STREAM_BLOCK_MS" in p.env) == (p.kind == "gate")
        assert p.argv[1:4] == ("-m", "tradingstack_workers.cli", "worker")


def test_the_rendered_acl_user_is_kept_with_the_local_password_of_that_user() -> None:
    rendered_env: list[dict[str, Any]] = [
        {"name": "TS_REDIS_PASSWORD_FILE", "value": "/var/run/tradingstack/redis/password"},
        {"name": "TS_REDIS_USERNAME", "value": "worker"},
    ]
    as_worker = Redis("redis://127.0.0.1:6400/0", (), PASSWORD, "worker")
    env = local_env(rendered_env, instance="i", redis=as_worker, http_port=1)
    assert (env["TS_REDIS_USERNAME"], env["TS_REDIS_PASSWORD_FILE"]) == ("worker", str(PASSWORD))
    # An endpoint without ACL users: the default user's password, so no username.
    assert "TS_REDIS_USERNAME" not in local_env(
        rendered_env, instance="i", redis=SINGLE, http_port=1
    )
