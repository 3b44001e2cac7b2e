"""The real promtool, for every tier that runs the rendered alert rules through it.

promtool comes from Debian's prometheus package (scripts/bootstrap.sh installs it).
:func:`firing` is one alert as ``promtool test rules`` must report it, so each test names
only the labels it expects.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

import pytest

PROMTOOL = shutil.which("promtool")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """``promtool ARGS``, its output captured; the test fails, saying why, when it is missing."""
    if PROMTOOL is None:
        pytest.fail("promtool is missing: run bash scripts/bootstrap.sh (it installs prometheus)")
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False
    )


def firing(rule: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """One alert of ``rule`` with ``labels``: its expected labels (these plus the rule's
    own) and its annotations with ``labels``' stack and namespace templated in."""
    annotations = {
        key: text.replace("{{ $labels.stack }}", labels.get("stack", "")).replace(
            "{{ $labels.namespace }}", labels.get("namespace", "")
        )
        for key, text in rule["annotations"].items()
    }
    return {"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": annotations}
