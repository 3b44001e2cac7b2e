"""Grafana dashboards: rendered per stack as one labelled ConfigMap, and as plain files.

Per stack, every query is pinned to the stack's namespace and name, and each dashboard
has a uid of its own, so two stacks never overwrite each other's dashboards in Grafana.
The plain files (observability.py) choose the namespace and stack with variables.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from tradingstack_workers.runtime.metrics import HEARTBEAT

from .. import names, pods
from ..stack import Manifest, Stack
from .definitions import decision_intelligence, portfolio_risk, system_health, trading_performance
from .panels import Json, Panel, dashboard, variables

COMPONENT = "dashboards"
#: The Grafana sidecar (kube-prometheus-stack) files a dashboard in this folder.
FOLDER_ANNOTATION = "grafana_folder"
FOLDER = "TradingStack"

#: file stem -> (title, panels of a selector)
DASHBOARDS: dict[str, tuple[str, Callable[[str], list[Panel]]]] = {
    "system-health": ("System health", system_health),
    "trading-performance": ("Trading performance", trading_performance),
    "portfolio-risk": ("Portfolio risk", portfolio_risk),
    "decision-intelligence": ("Decision intelligence", decision_intelligence),
}
#: Every stack's variables select among the stacks whose workers beat.
VARIABLE_SELECTOR = 'namespace="$namespace",stack="$stack"'


def for_stack(stack: Stack) -> dict[str, Json]:
    """file name -> dashboard, every query scoped to this stack."""
    sel = f'namespace="{stack.namespace}",stack="{stack.name}"'
    digest = hashlib.sha256(f"{stack.namespace}/{stack.name}".encode()).hexdigest()[:10]
    return {
        f"{stem}.json": dashboard(
            f"ts-{stem}-{digest}"[:40],
            f"TradingStack {stack.namespace}/{stack.name}: {title}",
            panels(sel),
            variables(stack_variables=False, probe_metric=HEARTBEAT),
        )
        for stem, (title, panels) in DASHBOARDS.items()
    }


def plain() -> dict[str, Json]:
    """file name -> dashboard for any stack, chosen by the namespace and stack variables."""
    return {
        f"{stem}.json": dashboard(
            f"tradingstack-{stem}",
            f"TradingStack: {title}",
            panels(VARIABLE_SELECTOR),
            variables(stack_variables=True, probe_metric=HEARTBEAT),
        )
        for stem, (title, panels) in DASHBOARDS.items()
    }


def config_maps(stack: Stack) -> list[Manifest]:
    """One ConfigMap holding the stack's dashboards, with the sidecar's label."""
    meta = pods.metadata(stack, names.dashboards(stack.name), COMPONENT)
    meta["labels"] = {**stack.spec.monitoring.dashboards.labels, **meta["labels"]}
    meta["annotations"] = {FOLDER_ANNOTATION: FOLDER}
    data = {
        name: json.dumps(board, indent=1, sort_keys=True)
        for name, board in for_stack(stack).items()
    }
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}]
