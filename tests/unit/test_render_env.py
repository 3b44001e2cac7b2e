"""The environment contract: every rendered worker env loads in the worker's own settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.unit.render_corpus import (
    ALL,
    by_kind,
    children,
    env_of,
    load,
    named,
    one,
    pod_spec,
)

from tradingstack_operator.render import Stack, render, workers
from tradingstack_operator.render.pods import CONFIG_HASH
from tradingstack_operator.spec import parse_spec
from tradingstack_workers.bots.settings import BotSettings
from tradingstack_workers.clusters.settings import ClustersSettings
from tradingstack_workers.gate.settings import GateSettings
from tradingstack_workers.governor.settings import GovernorSettings
from tradingstack_workers.intel.settings import IntelSettings
from tradingstack_workers.kinds import SETTINGS
from tradingstack_workers.runtime.settings import load_settings

IDS = [p.parent.name + "/" + p.stem for p in ALL]
INSTANCE = "pod-from-downward-api"
NAMESPACE = "namespace-from-downward-api"
DOWNWARD = {"metadata.name": INSTANCE, "metadata.namespace": NAMESPACE}


def literal_env(container: dict[str, Any], password_file: Path) -> dict[str, str]:
    """The env as the pod sees it: downward-API entries filled, the Secret file present,
    each Secret key reference filled with a stand-in (``secret-name/key``)."""
    environ: dict[str, str] = {}
    for entry in container["env"]:
        secret = entry.get("valueFrom", {}).get("secretKeyRef")
        if secret is not None:
            environ[entry["name"]] = f"{secret['name']}/{secret['key']}"
        elif "valueFrom" in entry:
            path = entry["valueFrom"]["fieldRef"]["fieldPath"]
            assert entry["valueFrom"] == {"fieldRef": {"fieldPath": path}}
            environ[entry["name"]] = DOWNWARD[path]
        else:
            environ[entry["name"]] = entry["value"]
    environ["TS_REDIS_PASSWORD_FILE"] = str(password_file)
    return environ


def worker_pods(stack: Stack) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(kind, container, pod spec) of every worker and bot Deployment."""
    out = []
    for deployment in by_kind(render(stack), "Deployment"):
        pod = pod_spec(deployment)
        container = pod["containers"][0]
        out.append((container["command"][-1], container, pod))
    return out


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_every_worker_env_loads_in_its_settings(path: Path, tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("s3cret\n", encoding="utf-8")
    stack = load(path)
    for kind, container, pod in worker_pods(stack):
        assert container["command"] == ["tradingstack", "worker", kind]
        settings = load_settings(SETTINGS[kind], literal_env(container, password))
        assert settings.instance == INSTANCE
        assert settings.key_prefix == stack.spec.key_prefix
        assert settings.password() == "s3cret"
        assert settings.http_port == container["ports"][0]["containerPort"]
        assert pod["terminationGracePeriodSeconds"] > settings.shutdown_grace_seconds


def test_full_spec_tunables_reach_the_workers(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("x", encoding="utf-8")
    environ = {kind: literal_env(c, password) for kind, c, _ in worker_pods(named("full"))}
    clusters = load_settings(ClustersSettings, environ["clusters"])
    assert clusters.symbols == ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    assert clusters.correlation_threshold == 0.8
    gate = load_settings(GateSettings, environ["gate"])
    assert gate.cluster_stale_seconds == 90
    # Review D18: the stress weights are spec fields, not only the workers' variables.
    weights = (gate.stress_weight_heat, gate.stress_weight_conc, gate.stress_weight_k)
    assert weights == (0.6, 0.3, 0.1)
    governor = load_settings(GovernorSettings, environ["governor"])
    assert (governor.mode, governor.base_risk_pct) == ("shadow", 1.5)
    assert (governor.heat_weight, governor.cluster_weight, governor.vol_weight) == (0.3, 0.5, 0.2)
    intel = load_settings(IntelSettings, environ["intel"])
    assert (intel.alert_critical_pct, intel.alert_dedup_seconds) == (70, 120)


def _tunable_changes() -> list[tuple[str, str, object]]:
    """Every tunable of every worker, each with a valid value other than its default."""
    return [
        ("clusters", "lookbackPoints", 100),
        ("clusters", "correlationThreshold", 0.5),
        ("clusters", "intervalSeconds", 30),
        ("gate", "permitTtlSeconds", 30),
        ("gate", "clusterStaleSeconds", 200),
        ("gate", "stressWeights", {"heat": 0.6, "conc": 0.3, "k": 0.1}),
        ("governor", "mode", "shadow"),
        ("governor", "intervalSeconds", 10),
        ("governor", "stalenessSeconds", 20),
        ("governor", "lkgMaxAgeSeconds", 60),
        ("governor", "budgetTtlSeconds", 100),
        ("governor", "baseRiskPct", 1.0),
        ("governor", "totalRiskPct", 5.0),
        ("governor", "stressWeights", {"heat": 0.3, "cluster": 0.5, "vol": 0.2}),
        ("intel", "alertThresholds", {"medium": 10, "high": 20, "critical": 30}),
        ("intel", "alertWindowSeconds", 120),
        ("intel", "alertDedupSeconds", 60),
    ]


def test_the_change_list_covers_every_tunable() -> None:
    """A tunable added to the spec but not to the renderer would fail here."""
    spec = parse_spec({"symbols": ["BTCUSDT"]})
    covered = {(kind, field) for kind, field, _ in _tunable_changes()}
    for kind in workers.TUNABLES:
        model = getattr(spec.workers, kind)
        for name, info in type(model).model_fields.items():
            if name not in ("enabled", "replicas", "resources"):
                assert (kind, info.alias or name) in covered, f"{kind}.{name} untested"


def _hashes(spec: dict[str, Any]) -> dict[str, str]:
    stack = Stack(name="paper", namespace="desk", spec=parse_spec(spec))
    return {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH]
        for d in render(stack)
        if d["kind"] in ("Deployment", "StatefulSet")
    }


BASE: dict[str, Any] = {
    "symbols": ["BTCUSDT", "ETHUSDT"],
    "bots": [{"name": "bb", "strategy": "bollinger_bounce", "symbols": ["BTCUSDT"]}],
}


@pytest.mark.parametrize(("kind", "field", "value"), _tunable_changes())
def test_a_tunable_change_rolls_only_its_worker(kind: str, field: str, value: object) -> None:
    changed = json.loads(json.dumps(BASE))
    changed["workers"] = {kind: {field: value}}
    if (kind, field) == ("governor", "budgetTtlSeconds"):
        changed["workers"][kind]["intervalSeconds"] = 5
    before, after = _hashes(BASE), _hashes(changed)
    differing = {name for name in before if before[name] != after[name]}
    assert differing == {f"paper-{kind}"}


def test_halting_rolls_no_pod() -> None:
    """The kill switch travels through Redis, never through a pod template."""
    before, after = _hashes(BASE), _hashes({**BASE, "halted": True})
    assert before == after
    for deployment in by_kind(children("halted"), "Deployment"):
        assert not any(
            name.startswith("TS_HALT") for name in env_of(pod_spec(deployment)["containers"][0])
        )


def test_bot_env_carries_the_strategy_instance(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("x", encoding="utf-8")
    deployment = one(children("full"), "Deployment", "live-bot-bb-btc")
    container = pod_spec(deployment)["containers"][0]
    settings = load_settings(BotSettings, literal_env(container, password))
    assert (settings.bot_name, settings.strategy, settings.mode) == (
        "bb-btc", "bollinger_bounce", "paper",
    )  # fmt: skip
    assert settings.symbols == ("BTCUSDT",)
    assert settings.params == {"period": 20.0, "k": 2.5}
    assert (settings.leadership, settings.lease_name) == ("kubernetes", "live-bot-bb-btc")
    assert (settings.lease_namespace, settings.account) == (NAMESPACE, "live-bb-btc")
    assert settings.feed["kind"] == "synthetic"
    assert deployment["spec"]["replicas"] == 3
    assert pod_spec(deployment)["serviceAccountName"] == "live-bot-bb-btc"


def test_sentinel_stacks_give_workers_every_sentinel_by_hostname() -> None:
    environ = env_of(pod_spec(one(children("full"), "Deployment", "live-gate"))["containers"][0])
    sentinels = environ["TS_REDIS_SENTINELS"].split(",")
    assert sentinels == [
        f"live-redis-{i}.live-redis-headless.desk-live.svc.cluster.local:26379" for i in range(5)
    ]
    assert environ["TS_REDIS_MASTER_NAME"] == "mymaster"
    assert "TS_REDIS_URL" not in environ


def test_single_redis_has_no_sentinel_and_workers_get_a_url() -> None:
    manifests = children("single-redis")
    pod = pod_spec(one(manifests, "StatefulSet", "dev-redis"))
    assert [c["name"] for c in pod["containers"]] == ["redis", "metrics"]
    assert "lifecycle" not in pod["containers"][0]
    assert env_of(pod["containers"][0])["REDIS_SENTINEL"] == "false"
    budgets = {p["metadata"]["name"] for p in by_kind(manifests, "PodDisruptionBudget")}
    assert "dev-redis" not in budgets
    for service in by_kind(manifests, "Service"):
        assert all(p["port"] != 26379 for p in service["spec"]["ports"])
    for deployment in by_kind(manifests, "Deployment"):
        environ = env_of(pod_spec(deployment)["containers"][0])
        assert environ["TS_REDIS_URL"] == "redis://dev-redis.dev.svc.cluster.local:6379/0"
        assert "TS_REDIS_SENTINELS" not in environ
    assert {d["metadata"]["name"] for d in by_kind(manifests, "Deployment")} == {
        "dev-clusters", "dev-gate", "dev-governor", "dev-bot-breakout",
    }  # fmt: skip


def test_password_comes_from_the_named_secret_never_a_rendered_one() -> None:
    """Redis pods hold the admin password; workers and bots only the worker user's."""
    for name, admin in (("full", "desk-redis"), ("minimal", "minimal-redis-auth")):
        manifests = children(name)
        assert not by_kind(manifests, "Secret")
        users = f"{name if name == 'minimal' else 'live'}-redis-users"
        for workload in by_kind(manifests, "Deployment"):
            volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
            assert volumes["redis-auth"]["secret"]["secretName"] == users
            assert volumes["redis-auth"]["secret"]["items"] == [
                {"key": "worker", "path": "password"}
            ]
            environ = env_of(pod_spec(workload)["containers"][0])
            assert environ["TS_REDIS_USERNAME"] == "worker"
        [sts] = by_kind(manifests, "StatefulSet")
        volumes = {v["name"]: v for v in pod_spec(sts)["volumes"]}
        assert volumes["redis-auth"]["secret"]["secretName"] == admin
        assert volumes["redis-users"]["secret"]["secretName"] == users
    full = one(children("full"), "StatefulSet", "live-redis")
    items = {v["name"]: v for v in pod_spec(full)["volumes"]}["redis-auth"]["secret"]["items"]
    assert items == [{"key": "redis-password", "path": "password"}]


def test_a_bot_feed_in_the_spec_reaches_the_bot(tmp_path: Path) -> None:
    spec = parse_spec(
        {
            "symbols": ["BTCUSDT"],
            "bots": [
                {
                    "name": "fast",
                    "strategy": "rsi_mean_reversion",
                    "symbols": ["BTCUSDT"],
                    "feed": {"intervalSeconds": 5, "seed": 11, "correlation": 0.81},
                }
            ],
        }
    )
    stack = Stack(name="paper", namespace="desk", spec=spec)
    [(_, container, _)] = [p for p in worker_pods(stack) if p[0] == "bots"]
    password = tmp_path / "password"
    password.write_text("s3cret\n", encoding="utf-8")
    settings = load_settings(BotSettings, literal_env(container, password))
    assert settings.feed["interval_s"] == 5
    assert settings.feed["seed"] == 11
    assert settings.feed["factors"] == {"market": {"BTCUSDT": 0.9}}
