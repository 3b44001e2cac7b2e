"""Security checks over every manifest we ship: the operator's render of every spec in the
corpus and of the examples, and the Helm chart with every good values file.

Each pod runs non-root with a read-only root filesystem, every capability dropped and the
RuntimeDefault seccomp profile; no shipped container switches test mode on or names a
test-only route (the governor's injection endpoint).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.helm import template
from tests.security import pod_security
from tests.unit.render_corpus import ALL, load
from tradingstack_operator.render import render

ROOT = Path(__file__).resolve().parents[2]
SPECS = [*ALL, *sorted((ROOT / "examples").glob("*.yaml"))]
GOOD_VALUES = sorted((ROOT / "tests" / "chart" / "data" / "values" / "good").glob("*.yaml"))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_rendered_pod_is_locked_down(path: Path) -> None:
    manifests = render(load(path))
    assert pod_security.pod_count(manifests) > 0
    assert pod_security.problems(manifests) == []


@pytest.mark.parametrize("values", [None, *GOOD_VALUES], ids=lambda p: p.stem if p else "default")
def test_every_chart_pod_is_locked_down(values: Path | None, tmp_path: Path) -> None:
    loaded = yaml.safe_load(values.read_text()) if values else None
    manifests = template(tmp_path, loaded if isinstance(loaded, dict) else None)
    assert pod_security.pod_count(manifests) > 0
    assert pod_security.problems(manifests) == []


def _gate() -> dict[str, Any]:
    manifests = render(load(SPECS[0]))
    deployments = [m for m in manifests if m["kind"] == "Deployment"]
    (gate,) = [m for m in deployments if m["metadata"]["name"].endswith("-gate")]
    return copy.deepcopy(gate)


@pytest.mark.parametrize(
    ("where", "change", "expected"),
    [
        ("container", {"runAsNonRoot": False}, "runAsNonRoot"),
        ("container", {"readOnlyRootFilesystem": False}, "readOnlyRootFilesystem"),
        ("container", {"allowPrivilegeEscalation": True}, "allowPrivilegeEscalation"),
        ("container", {"capabilities": {"drop": ["NET_RAW"]}}, "capabilities.drop"),
        ("container", {"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}, "add"),
        ("container", {"privileged": True}, "privileged"),
        ("pod", {"seccompProfile": {"type": "Unconfined"}}, "seccompProfile"),
        ("pod", {"runAsUser": 0}, "runAsUser: 0"),
    ],
)
def test_the_check_names_each_broken_rule(where: str, change: dict[str, object],
                                          expected: str) -> None:  # fmt: skip
    gate = _gate()
    pod = gate["spec"]["template"]["spec"]
    target = pod["securityContext"] if where == "pod" else pod["containers"][0]["securityContext"]
    target.update(change)
    found = pod_security.problems([gate])
    assert len(found) == 1, found
    assert expected in found[0]
    assert found[0].startswith(f"Deployment/{gate['metadata']['name']}")


def test_the_check_refuses_test_mode_host_access_and_test_routes() -> None:
    gate = _gate()
    pod = gate["spec"]["template"]["spec"]
    container = pod["containers"][0]
    container["env"].append({"name": "TS_TEST_MODE", "value": "true"})
    container["livenessProbe"]["httpGet"]["path"] = "/test/inject_portfolio_state"
    pod["hostNetwork"] = True
    pod["volumes"].append({"name": "docker", "hostPath": {"path": "/var/run"}})
    found = "\n".join(pod_security.problems([gate]))
    for expected in ("TS_TEST_MODE", "/test/inject_portfolio_state", "hostNetwork", "hostPath"):
        assert expected in found
