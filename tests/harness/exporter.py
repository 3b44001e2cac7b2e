"""The Redis pods' exporters as Prometheus sees them, and the rendered alerts run on that.

:func:`scrape` reads one pod's ``metrics`` container as the PodMonitor's target does, with
the labels its target gets (namespace, pod, container, endpoint, job, instance) and those
its relabelling copies from the pod (stack, component). :func:`assert_alerts` hands such
samples to the real ``promtool test rules`` with the stack's rendered PrometheusRule, so a
test asserts which alerts fire as Prometheus would evaluate them on what the pods export.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.kubelet import http_get
from tests.harness.promtool import firing, promtool
from tests.harness.redis_set import RedisSet
from tradingstack_operator.render import names, render
from tradingstack_operator.render.alerts import EXPORTER_METRICS

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Labels
    value: float

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


def _from_inside(redis_set: RedisSet, ordinal: int, timeout: float) -> str:
    """The scrape made from the pod's own namespace (the bridge is cut)."""
    result = subprocess.run(
        [*redis_set.net.exec_prefix(f"r{ordinal}"), "curl", "--silent", "--fail", "--noproxy",
         "*", "--max-time", f"{timeout:g}", redis_set.exporter_url(ordinal)],
        capture_output=True, text=True, timeout=timeout + 30, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise OSError(f"curl exit {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def scrape(
    redis_set: RedisSet, ordinal: int, *, inside: bool = False, timeout: float = 5.0
) -> list[Sample]:
    """One scrape of pod ``ordinal``'s exporter; OSError when it does not answer.

    ``inside``: from the pod's own namespace, as a Prometheus on its side of a partition
    would reach it; otherwise through the bridge, as from any node.
    """
    stack = redis_set.stack
    target = {
        "namespace": stack.namespace,
        "pod": redis_set.pod_name(ordinal),
        "container": "metrics",
        "endpoint": "metrics",
        "job": f"{stack.namespace}/{names.redis_pod_monitor(stack.name)}",
        "instance": f"{redis_set.address(ordinal)}:{names.REDIS_METRICS_PORT}",
        "stack": stack.name,
        "component": names.REDIS_COMPONENT,
    }
    if inside:
        text = _from_inside(redis_set, ordinal, timeout)
    else:
        _, text = http_get(redis_set.exporter_url(ordinal), timeout)
    return [
        Sample(s.name, tuple(sorted({**s.labels, **target}.items())), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def value(samples: list[Sample], name: str) -> float | None:
    """The value of the one sample called ``name`` (None when there is none)."""
    found = [s.value for s in samples if s.name == name]
    assert len(found) <= 1, f"{name} has {len(found)} samples"
    return found[0] if found else None


def _series(sample: Sample) -> str:
    labels = ",".join(f"{k}={json.dumps(v)}" for k, v in sample.labels)
    return f"{sample.name}{{{labels}}}"


def assert_alerts(
    redis_set: RedisSet,
    samples: list[Sample],
    expected: dict[str, list[dict[str, str]]],
    tmp_path: Path,
) -> None:
    """The stack's rendered alert rules, run by promtool on ``samples`` held for an hour:
    each alert of ``expected`` fires exactly with the listed labels (none: stays silent)."""
    group = next(m for m in render(redis_set.stack) if m["kind"] == "PrometheusRule")["spec"]
    by_name = {r["alert"]: r for g in group["groups"] for r in g["rules"]}
    tmp_path.mkdir(parents=True, exist_ok=True)
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(group))
    case = {
        "interval": "1m",
        # Only what the Redis alerts read: every other series is irrelevant to them.
        "input_series": [{"series": _series(s), "values": f"{s.value:.17g}x60"}
                         for s in samples if s.name in EXPORTER_METRICS],
        "alert_rule_test": [
            {"eval_time": "30m", "alertname": name,
             "exp_alerts": [firing(by_name[name], labels) for labels in fired]}
            for name, fired in expected.items()
        ],
    }  # fmt: skip
    tests = tmp_path / "rules_test.yaml"
    tests.write_text(yaml.safe_dump({"rule_files": [str(rules)], "tests": [case]}))
    result = promtool("test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr
