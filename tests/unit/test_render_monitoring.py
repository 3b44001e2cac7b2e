"""Monitors, alert rules and NetworkPolicies.

kubernetes-validate has no schemas for the Prometheus Operator's kinds, so ServiceMonitor,
PodMonitor and PrometheusRule are checked against the hand-written structural schemas
below: the fields we use, as the monitoring.coreos.com/v1 CRDs define them, nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tests.unit.render_corpus import ALL, by_kind, children, load, named, one

from tradingstack_operator.render import Options, Stack, render
from tradingstack_operator.spec import parse_spec

IDS = [p.parent.name + "/" + p.stem for p in ALL]
DURATION = r"^(0|(([0-9]+)(ms|s|m|h|d|w|y))+)$"


def _closed(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}  # fmt: skip


STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
SELECTOR = _closed(
    {
        "matchLabels": STRINGS,
        "matchExpressions": {"type": "array", "items": _closed(
            {"key": {"type": "string"}, "operator": {"enum": ["In", "NotIn", "Exists"]},
             "values": {"type": "array", "items": {"type": "string"}}}, ["key", "operator"])},
    },
    [],
)  # fmt: skip
ENDPOINT = _closed(
    {
        "port": {"type": "string"},
        "path": {"type": "string"},
        "interval": {"type": "string", "pattern": DURATION},
        "relabelings": {"type": "array", "items": _closed(
            {"sourceLabels": {"type": "array", "items": {"type": "string",
                              "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"}},
             "targetLabel": {"type": "string"}, "action": {"enum": ["replace"]}},
            ["sourceLabels", "targetLabel"])},
    },
    ["port"],
)  # fmt: skip
METADATA = _closed(
    {"name": {"type": "string"}, "namespace": {"type": "string"}, "labels": STRINGS},
    ["name", "namespace", "labels"],
)
NAMESPACES = _closed({"matchNames": {"type": "array", "items": {"type": "string"}}}, [])


def _kind(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _closed(
        {"apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": kind},
         "metadata": METADATA, "spec": spec},
        ["apiVersion", "kind", "metadata", "spec"],
    )  # fmt: skip


RULE = _closed(
    {
        "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "expr": {"type": "string", "minLength": 1},
        "for": {"type": "string", "pattern": DURATION},
        "labels": _closed({"severity": {"enum": ["critical", "warning", "info"]}}, ["severity"]),
        "annotations": _closed(
            {k: {"type": "string", "minLength": 1} for k in ("summary", "description", "runbook")},
            ["summary", "description", "runbook"],
        ),
    },
    ["alert", "expr", "for", "labels", "annotations"],
)
SCHEMAS = {
    "ServiceMonitor": _kind("ServiceMonitor", _closed(
        {"selector": SELECTOR, "namespaceSelector": NAMESPACES,
         "endpoints": {"type": "array", "minItems": 1, "items": ENDPOINT}},
        ["selector", "endpoints"])),
    "PodMonitor": _kind("PodMonitor", _closed(
        {"selector": SELECTOR, "namespaceSelector": NAMESPACES,
         "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": ENDPOINT}},
        ["selector", "podMetricsEndpoints"])),
    "PrometheusRule": _kind("PrometheusRule", _closed(
        {"groups": {"type": "array", "minItems": 1, "items": _closed(
            {"name": {"type": "string"},
             "rules": {"type": "array", "minItems": 1, "items": RULE}},
            ["name", "rules"])}},
        ["groups"])),
}  # fmt: skip


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_monitoring_objects_match_the_structural_expectation(path: Path) -> None:
    for manifest in render(load(path)):
        if manifest["apiVersion"] == "monitoring.coreos.com/v1":
            jsonschema.validate(manifest, SCHEMAS[manifest["kind"]])


def test_the_structural_expectation_refuses_a_misspelt_field() -> None:
    rule = one(children("minimal"), "PrometheusRule", "minimal-alerts")
    rule["spec"]["groups"][0]["rules"][0]["fore"] = "5m"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rule, SCHEMAS["PrometheusRule"])


def test_monitoring_off_renders_no_monitoring_object() -> None:
    manifests = children("monitoring-off")
    assert not [m for m in manifests if m["apiVersion"].startswith("monitoring.coreos.com")]


def test_monitors_select_workers_and_bots_and_carry_the_users_labels() -> None:
    manifests = children("full")
    services = one(manifests, "ServiceMonitor", "live-workers")
    assert services["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert services["spec"]["endpoints"][0]["interval"] == "15s"
    selected = services["spec"]["selector"]
    for service in by_kind(manifests, "Service"):
        labels = service["metadata"]["labels"]
        is_worker = (
            labels["app.kubernetes.io/component"] in selected["matchExpressions"][0]["values"]
        )
        assert is_worker == all(p["name"] == "metrics" for p in service["spec"]["ports"])
    bots = one(manifests, "PodMonitor", "live-bots")
    for deployment in by_kind(manifests, "Deployment"):
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        is_bot = pod_labels["app.kubernetes.io/component"] == "bot"
        assert is_bot == (bots["spec"]["selector"]["matchLabels"].items() <= pod_labels.items())


def test_alert_rules_cover_the_seeds_and_are_scoped_to_the_stack() -> None:
    rule = one(children("halted"), "PrometheusRule", "paper-alerts")
    alerts = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    scope = 'namespace="desk",stack="paper"'
    expected = {
        "TradingStackClustersStale": "rate(p27_updates_total",
        "TradingStackGateFallingBack": "p26_cluster_fallback_total",
        "TradingStackPortfolioStateTooOld": f'p28_portfolio_source{{{scope},source="none"}}',
        "TradingStackGovernorOnCachedState": "p28_portfolio_source{",
        "TradingStackExecuteRateLow": f'p35_decisions_total{{{scope},decision="EXECUTE"}}',
        "TradingStackGateClusterStressUnused": "p26_k_source_total{",
        "TradingStackWorkerHeartbeatStale": "tradingstack_worker_heartbeat_timestamp_seconds",
    }
    for name, metric in expected.items():
        assert metric in alerts[name]["expr"]
    for alert in alerts.values():
        assert 'namespace="desk",stack="paper"' in alert["expr"]
        assert alert["labels"]["severity"] in ("critical", "warning")
    assert alerts["TradingStackClustersStale"]["expr"].endswith("[10m]) == 0")
    # A flat book or a fail-open governor computes no budget: not an outage.
    assert "TradingStackGovernorStopped" not in alerts
    # The runbook names the sample the clusters worker actually needs (20 at 0.70).
    assert (
        "20 points at threshold 0.7"
        in alerts["TradingStackCorrelationNotReady"]["annotations"]["runbook"]
    )


def test_alerts_follow_the_enabled_workers() -> None:
    spec = parse_spec({"symbols": ["BTCUSDT"], "workers": {"governor": {"enabled": False}}})
    manifests = render(Stack(name="paper", namespace="desk", spec=spec))
    rules = one(manifests, "PrometheusRule", "paper-alerts")["spec"]["groups"][0]["rules"]
    assert [r for r in rules if "p27_" in r["expr"]]
    assert not [r for r in rules if "p28_" in r["expr"]]


def test_redis_is_reachable_only_from_the_stack_and_the_operator() -> None:
    policy = one(children("minimal"), "NetworkPolicy", "minimal-redis")
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "redis"
    (rule,) = policy["spec"]["ingress"]
    assert sorted(p["port"] for p in rule["ports"]) == [6379, 26379]
    peers = rule["from"]
    assert peers[0] == {"podSelector": {"matchLabels": {"tradingstack.io/stack": "minimal"}}}
    assert peers[1]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "tradingstack-operator"
    }
    # Only the operator's own namespace: a look-alike pod elsewhere gets nothing.
    assert peers[1]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "tradingstack-system"}
    }
    metrics = one(children("minimal"), "NetworkPolicy", "minimal-metrics")
    assert metrics["spec"]["ingress"] == [
        {"ports": [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 9121}]}
    ]
    assert "redis" in metrics["spec"]["podSelector"]["matchExpressions"][0]["values"]


def test_metrics_ports_admit_only_the_scrapers_namespaces_when_named() -> None:
    policy = one(children("full"), "NetworkPolicy", "live-metrics")
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]


def test_the_operator_namespace_comes_from_the_operator() -> None:
    stack = named("minimal")
    moved = Stack(stack.name, stack.namespace, stack.spec, Options(operator_namespace="ops"))
    policy = one(render(moved), "NetworkPolicy", "minimal-redis")
    operator_peer = policy["spec"]["ingress"][0]["from"][1]
    assert operator_peer["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ops"
    }


def test_relabelled_label_names_are_what_prometheus_derives() -> None:
    monitor = one(children("minimal"), "ServiceMonitor", "minimal-workers")
    sources = [r["sourceLabels"][0] for r in monitor["spec"]["endpoints"][0]["relabelings"]]
    assert sources == [
        "__meta_kubernetes_pod_label_tradingstack_io_stack",
        "__meta_kubernetes_pod_label_app_kubernetes_io_component",
        "__meta_kubernetes_pod_label_tradingstack_io_bot",
    ]
    assert all(re.fullmatch(r"[a-zA-Z_]\w*", s) for s in sources)
