"""The workflow (actionlint), skaffold.yaml, the README's Kubernetes quick start, and the
kind tier's skip: each names only things that exist and agree with the chart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.chart.helm import kinds, template
from tests.harness.tools import CHART, ROOT, run, tool

WORKFLOWS = ROOT / ".github" / "workflows"


def _actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return run([tool("actionlint"), "-no-color", *map(str, paths)], ROOT)


def test_workflows_pass_actionlint() -> None:
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert files
    result = _actionlint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    step:\n      - run: x\n")
    assert _actionlint(bad).returncode != 0


def _workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / "ci.yaml").read_text())
    return loaded


def test_the_workflow_runs_the_test_command_then_the_kind_scenario() -> None:
    jobs = _workflow()["jobs"]
    runs = [s.get("run", "") for s in jobs["test"]["steps"]]
    assert "bash .ci/run" in runs
    kind = jobs["kind"]
    assert kind["needs"] == "test"
    text = "\n".join(str(s.get("run", "")) + str(s.get("uses", "")) for s in kind["steps"])
    for step in ("helm/kind-action", "docker build", "kind load docker-image",
                 "TS_TOOLS_MONITORING_CRDS", "pytest tests/e2e", "kubectl describe",
                 "kubectl logs"):  # fmt: skip
        assert step in text, step
    failure = kind["steps"][-1]
    assert failure["if"] == "failure()"


def test_skaffold_builds_the_image_the_chart_deploys(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    assert config["apiVersion"].startswith("skaffold/v4")
    (artifact,) = config["build"]["artifacts"]
    assert (ROOT / artifact["docker"]["dockerfile"]).is_file()
    assert config["build"]["local"]["push"] is False, "kind loads images; nothing is pushed"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert artifact["image"] == values["image"]["repository"]
    (release,) = config["deploy"]["helm"]["releases"]
    assert (ROOT / release["chartPath"]).resolve() == CHART.resolve()
    assert config["deploy"]["kubeContext"].startswith("kind-")
    for path in config["manifests"]["rawYaml"]:
        assert (ROOT / path).is_file(), path
    assert config["deploy"]["kubectl"]["defaultNamespace"] == release["namespace"]
    # The values skaffold sets are values the chart's schema accepts.
    token = artifact["image"].replace(".", "_").replace("/", "_")
    settings: dict[str, Any] = {}
    for key, raw in release["setValueTemplates"].items():
        value = raw.replace(f"{{{{.IMAGE_REPO_{token}}}}}", "kind.local/tradingstack")
        value = value.replace(f"{{{{.IMAGE_TAG_{token}}}}}", "dev-1")
        node = settings
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    assert "{{" not in yaml.safe_dump(settings), "an unknown skaffold template"
    (deployment,) = kinds(template(tmp_path, settings, namespace=release["namespace"]),
                          "Deployment")  # fmt: skip
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "kind.local/tradingstack:dev-1"


def test_readme_has_the_kubernetes_quick_start() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in ("kind create cluster", "helm install", "apply -f examples/paper.yaml",
                    "get ts", "kind load docker-image", "docker build"):  # fmt: skip
        assert command in readme, command


def test_the_kind_tier_is_skipped_here_with_its_reason() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/e2e", "-rs", "-p", "no:cacheprovider", "-q"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("TS_E2E_")},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]
    assert "needs a Docker engine, kind and TS_E2E_KUBECONTEXT" in result.stdout
