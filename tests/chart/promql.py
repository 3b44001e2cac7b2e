"""Metric names in PromQL expressions, and the expressions of every rule and dashboard."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tradingstack_operator.render import dashboards, observability

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
             "or", "unless", "offset", "inf", "nan"}  # fmt: skip
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
#: Grafana's variables, as Grafana substitutes them before Prometheus sees the query.
GRAFANA = {"$__rate_interval": "5m", "$namespace": "desk", "$stack": "paper"}


def metric_names(expr: str) -> set[str]:
    """The series names an expression reads (functions, keywords and labels excluded)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors
    text = _GROUPING.sub(" ", text)
    found = set()
    for match in _IDENT.finditer(text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or match.group() in _KEYWORDS:
            continue
        found.add(match.group())
    return found


def dashboard_exprs(board: dict[str, Any]) -> Iterator[str]:
    for panel in board["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA.items():
                expr = expr.replace(variable, value)
            yield expr


def every_expression() -> list[str]:
    """Every rule and dashboard query the plain files ship (the per-stack ones share them)."""
    exprs = [r["expr"] for g in observability.rule_groups() for r in g["rules"]]
    for board in dashboards.plain().values():
        exprs += dashboard_exprs(json.loads(json.dumps(board)))
    return exprs
