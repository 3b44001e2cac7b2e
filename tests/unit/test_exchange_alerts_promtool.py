"""A live stack's exchange alerts through the real promtool: drift fires at once, 429s in
a storm fire, a key that can withdraw fires, a quiet exchange fires nothing; a paper
stack has none of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from tests.harness.promtool import firing, promtool
from tests.unit.render_corpus import DATA, load

from tradingstack_operator.render import render

EXCHANGE_ALERTS = {
    "TradingStackExchangeLedgerDrift",
    "TradingStackExchangeErrors",
    "TradingStackExchangeRateLimited",
    "TradingStackExchangeKeyCanMoveFunds",
}


def rules(spec: str) -> list[dict[str, Any]]:
    stack = load(DATA / "specs" / "valid" / f"{spec}.yaml")
    rule = next(m for m in render(stack) if m["kind"] == "PrometheusRule")
    found: list[dict[str, Any]] = rule["spec"]["groups"][0]["rules"]
    return found


def labels(**extra: str) -> str:
    scope = {"namespace": "default", "stack": "live-exchange", "bot": "crypto", **extra}
    return ",".join(f'{k}="{v}"' for k, v in scope.items())


def test_only_live_stacks_carry_exchange_alerts() -> None:
    assert {r["alert"] for r in rules("live-exchange")} >= EXCHANGE_ALERTS
    assert not EXCHANGE_ALERTS & {r["alert"] for r in rules("paper-exchange-candles")}


def test_drift_and_rate_limits_fire_and_a_quiet_exchange_does_not(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "t", "rules": rules("live-exchange")}]}))
    cases = {
        "rule_files": [str(path)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f"tradingstack_exchange_drift_events_total{{{labels()}}}",
                     "values": "0x5 1x20"},
                    {"series": f"tradingstack_exchange_backoffs_total{{{labels()}}}",
                     "values": "0+2x20"},
                    {"series": "tradingstack_exchange_request_errors_total"
                               f"{{{labels(endpoint='create_order', error='RequestTimeout')}}}",
                     "values": "0x20"},
                    {"series": "tradingstack_exchange_key_permission"
                               f"{{{labels(permission='withdraw')}}}", "values": "0x5 1x20"},
                    {"series": "tradingstack_exchange_key_permission"
                               f"{{{labels(permission='trade')}}}", "values": "1x20"},
                ],
                "alert_rule_test": [
                    {"eval_time": "4m", "alertname": "TradingStackExchangeLedgerDrift",
                     "exp_alerts": []},
                    {"eval_time": "7m", "alertname": "TradingStackExchangeLedgerDrift",
                     "exp_alerts": [expect("TradingStackExchangeLedgerDrift")]},
                    {"eval_time": "15m", "alertname": "TradingStackExchangeRateLimited",
                     "exp_alerts": [expect("TradingStackExchangeRateLimited")]},
                    {"eval_time": "15m", "alertname": "TradingStackExchangeErrors",
                     "exp_alerts": []},
                    {"eval_time": "4m", "alertname": "TradingStackExchangeKeyCanMoveFunds",
                     "exp_alerts": []},
                    {"eval_time": "7m", "alertname": "TradingStackExchangeKeyCanMoveFunds",
                     "exp_alerts": [expect("TradingStackExchangeKeyCanMoveFunds")]},
                ],
            }
        ],
    }  # fmt: skip
    tests = tmp_path / "tests.yaml"
    tests.write_text(yaml.safe_dump(cases))
    result = promtool("test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr


def expect(name: str) -> dict[str, Any]:
    """The alert as promtool must see it fire for bot crypto of stack live-exchange."""
    rule = next(r for r in rules("live-exchange") if r["alert"] == name)
    return firing(rule, {"namespace": "default", "stack": "live-exchange", "bot": "crypto"})
