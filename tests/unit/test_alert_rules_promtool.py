"""The rendered PrometheusRule through the real promtool: it parses, and key alerts fire."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.harness.promtool import firing as rule_firing
from tests.harness.promtool import promtool
from tests.unit.render_corpus import children


def rendered_rule() -> dict[str, Any]:
    rule: dict[str, Any] = next(m for m in children("halted") if m["kind"] == "PrometheusRule")
    return rule


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rendered_rule()["spec"]))
    return path


def firing(name: str) -> dict[str, Any]:
    """The alert as promtool must see it fire for stack paper in namespace desk."""
    rules = rendered_rule()["spec"]["groups"][0]["rules"]
    rule = next(r for r in rules if r["alert"] == name)
    return rule_firing(rule, {"namespace": "desk", "stack": "paper"})


def frozen(name: str, symbol: str) -> dict[str, Any]:
    """A per-symbol alert: its labels carry the symbol too."""
    alert = firing(name)
    return {**alert, "exp_labels": {**alert["exp_labels"], "symbol": symbol}}


def test_rules_pass_promtool_check(rules_file: Path) -> None:
    result = promtool("check", "rules", str(rules_file))
    assert result.returncode == 0, result.stdout + result.stderr


def series(metric: str, values: str, **labels: str) -> dict[str, str]:
    scope = {"namespace": "desk", "stack": "paper", **labels}
    text = ",".join(f'{k}="{v}"' for k, v in scope.items())
    return {"series": f"{metric}{{{text}}}", "values": values}


def test_alerts_fire_when_they_should_and_not_on_a_flat_book(
    rules_file: Path, tmp_path: Path
) -> None:
    cases: dict[str, Any] = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # clusters stops updating after 5 minutes
                    series("p27_updates_total", "0+1x5 5x30"),
                    # the governor runs on its cached state for 20 minutes
                    series("p28_portfolio_source", "1x20", source="lkg"),
                    # a flat book: no budget computed, ever, while the loop is alive
                    series("p28_budget_computed_total", "0x30"),
                    # ETH's feed froze after 10 minutes; BTC's never did
                    series("p27_frozen_symbol", "_x10 1x20", symbol="ETHUSDT"),
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "25m",
                        "alertname": "TradingStackClustersStale",
                        "exp_alerts": [firing("TradingStackClustersStale")],
                    },
                    {
                        "eval_time": "15m",
                        "alertname": "TradingStackGovernorOnCachedState",
                        "exp_alerts": [firing("TradingStackGovernorOnCachedState")],
                    },
                    {"eval_time": "25m", "alertname": "TradingStackPortfolioStateTooOld",
                     "exp_alerts": []},
                    {"eval_time": "12m", "alertname": "TradingStackFeedFrozen", "exp_alerts": []},
                    {
                        "eval_time": "20m",
                        "alertname": "TradingStackFeedFrozen",
                        "exp_alerts": [frozen("TradingStackFeedFrozen", "ETHUSDT")],
                    },
                ],
            }
        ],
    }  # fmt: skip
    path = tmp_path / "tests.yaml"
    path.write_text(yaml.safe_dump(cases))
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
