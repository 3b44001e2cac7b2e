"""Grafana dashboard JSON from small builders: queries, panels, a dashboard.

Pure dicts in Grafana's dashboard model (schemaVersion 39). Every query reads a
Prometheus datasource chosen by the ``datasource`` variable, so the JSON imports into
any Grafana; the ``sel`` of each builder scopes it to one stack (or to the variables).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
#: Grafana's per-panel rate window: at least four scrapes.
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    """One panel: a time series (half a row) or a stat (a quarter of a row)."""

    title: str
    queries: tuple[Query, ...]
    kind: str = "timeseries"
    unit: str = "short"
    description: str = ""
    #: (value, colour) steps above the base green, for stats and graph thresholds.
    steps: tuple[tuple[float, str], ...] = ()
    base: str = "green"
    extra: Json = field(default_factory=dict)

    @property
    def width(self) -> int:
        return 6 if self.kind == "stat" else 12

    @property
    def height(self) -> int:
        return 4 if self.kind == "stat" else 8

    def to_json(self, panel_id: int, x: int, y: int) -> Json:
        steps: list[Json] = [{"color": self.base, "value": None}]
        steps += [{"color": colour, "value": value} for value, colour in self.steps]
        panel: Json = {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": DATASOURCE,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "targets": [
                {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": q.expr,
                 "legendFormat": q.legend or "__auto", "range": True}
                for i, q in enumerate(self.queries)
            ],
            "fieldConfig": {
                "defaults": {"unit": self.unit,
                             "thresholds": {"mode": "absolute", "steps": steps}},
                "overrides": [],
            },
        }  # fmt: skip
        if self.kind == "stat":
            panel["options"] = {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "background",
                "graphMode": "none",
                "textMode": "value_and_name",
            }
        else:
            panel["options"] = {"legend": {"displayMode": "list", "placement": "bottom"},
                                "tooltip": {"mode": "multi"}}  # fmt: skip
        panel.update(self.extra)
        return panel


def layout(panels: list[Panel]) -> list[Json]:
    """Panels left to right, wrapping at Grafana's 24 columns."""
    out: list[Json] = []
    x = y = row_height = 0
    for i, panel in enumerate(panels, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        out.append(panel.to_json(i, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return out


def _query_variable(name: str, label: str, query: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-variable"},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "includeAll": False,
        "multi": False,
        "current": {},
        "options": [],
    }


def variables(stack_variables: bool, probe_metric: str) -> list[Json]:
    """The datasource picker, and (for the stack-agnostic files) namespace and stack."""
    found: list[Json] = [
        {"name": "datasource", "label": "Prometheus", "type": "datasource",
         "query": "prometheus", "current": {}, "options": [], "refresh": 1}
    ]  # fmt: skip
    if stack_variables:
        found.append(
            _query_variable("namespace", "Namespace",
                            f'label_values({probe_metric}{{stack!=""}}, namespace)')
        )  # fmt: skip
        found.append(
            _query_variable("stack", "Stack",
                            f'label_values({probe_metric}{{namespace="$namespace"}}, stack)')
        )  # fmt: skip
    return found


def dashboard(uid: str, title: str, panels: list[Panel], templating: list[Json]) -> Json:
    return {
        "uid": uid,
        "title": title,
        "tags": ["tradingstack"],
        "timezone": "utc",
        "editable": True,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "templating": {"list": templating},
        "panels": layout(panels),
    }
