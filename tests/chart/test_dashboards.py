"""Dashboards and the plain observability files: generated, parseable, valid PromQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.chart.promql import dashboard_exprs, every_expression, metric_names
from tests.harness.promtool import promtool
from tests.harness.tools import ROOT
from tests.unit.render_corpus import by_kind, children, named
from tradingstack_operator.render import Stack, dashboards, observability, render
from tradingstack_operator.spec import parse_spec

FOLDER = ROOT / "charts" / "observability"


def test_plain_files_are_what_the_renderer_writes() -> None:
    files = observability.files()
    committed = {
        str(p.relative_to(FOLDER)): p.read_text() for p in FOLDER.rglob("*")
        if p.is_file() and p.name != "README.md"
    }  # fmt: skip
    assert committed == files, (
        "stale: run python -m tradingstack_operator.render.observability charts/observability"
    )


def _boards() -> list[tuple[str, dict[str, Any]]]:
    found = [(str(p), json.loads(p.read_text())) for p in sorted(FOLDER.glob("dashboards/*.json"))]
    for manifest in children("full"):
        if manifest["kind"] == "ConfigMap" and manifest["metadata"]["name"].endswith("dashboards"):
            found += [(name, json.loads(text)) for name, text in manifest["data"].items()]
    return found


def test_every_dashboard_parses_with_a_sound_layout() -> None:
    boards = _boards()
    assert len(boards) == 2 * len(dashboards.DASHBOARDS)
    titles = {b["title"] for _, b in boards}
    for word in ("System health", "Trading performance", "Portfolio risk", "Decision intel"):
        assert any(word in t for t in titles), word
    for where, board in boards:
        assert board["schemaVersion"] >= 36, where
        panels = board["panels"]
        assert len({p["id"] for p in panels}) == len(panels), where
        for panel in panels:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (where, panel["title"])
            assert panel["targets"], (where, panel["title"])
            assert panel["datasource"]["uid"] == "${datasource}"


def test_every_query_and_rule_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each expression as a recording rule: a typo fails here."""
    exprs = every_expression()
    for _, board in _boards():
        exprs += dashboard_exprs(board)
    rules = [{"record": f"check:expr_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "exprs.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "exprs", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (bot, le) (rate(a_bucket{stack="x"}[5m]))) '
        "/ ignoring (decision) group_left sum(b_total) and on (pod) (c == 1) or time() - d"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c", "d"}


def test_dashboards_render_per_stack_with_the_sidecar_label() -> None:
    manifests = children("full")
    (config_map,) = [m for m in by_kind(manifests, "ConfigMap")
                     if m["metadata"]["name"].endswith("-dashboards")]  # fmt: skip
    stack = named("full")
    assert config_map["metadata"]["labels"].items() >= (
        stack.spec.monitoring.dashboards.labels.items()
    )
    for text in config_map["data"].values():
        board = json.loads(text)
        for expr in dashboard_exprs(board):
            assert f'namespace="{stack.namespace}",stack="{stack.name}"' in expr
    spec = parse_spec({"symbols": ["BTCUSDT"], "monitoring": {"dashboards": {"enabled": False}}})
    off = render(Stack(name="paper", namespace="desk", spec=spec))
    assert not [m for m in off if m["metadata"]["name"].endswith("-dashboards")]


def test_two_stacks_never_share_a_dashboard_uid() -> None:
    spec = parse_spec({"symbols": ["BTCUSDT"]})
    uids = [
        board["uid"]
        for stack in (Stack("a", "desk", spec), Stack("b", "desk", spec), Stack("a", "lab", spec))
        for board in dashboards.for_stack(stack).values()
    ]
    assert len(set(uids)) == len(uids)
    assert all(len(uid) <= 40 for uid in uids)
