"""Every alert rule through the real promtool: it parses, it fires when it should, and it
stays silent on a healthy stack (one promtool unit test per alert).

A new alert without a case below fails test_every_alert_has_a_unit_test: add its case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.harness.promtool import firing, promtool
from tests.harness.tools import ROOT
from tradingstack_operator.render import render, stack_from_manifest

STACK = {"namespace": "desk", "stack": "paper"}
Series = list[tuple[str, dict[str, str], str]]


def _rendered_rules() -> list[dict[str, Any]]:
    manifest = yaml.safe_load((ROOT / "examples" / "paper.yaml").read_text())
    manifest["metadata"]["namespace"] = "desk"
    (rule,) = [m for m in render(stack_from_manifest(manifest)) if m["kind"] == "PrometheusRule"]
    rules: list[dict[str, Any]] = rule["spec"]["groups"][0]["rules"]
    return rules


def _s(metric: str, values: str, **labels: str) -> tuple[str, dict[str, str], str]:
    return (metric, {**STACK, **labels}, values)


def _up(*missing: str) -> Series:
    targets = [{"component": c} for c in ("clusters", "gate", "governor", "intel")]
    targets += [{"component": "bot", "bot": b} for b in ("majors-rsi", "sol-bollinger")]
    return [_s("up", "1x20", pod=f"p{i}", **t) for i, t in enumerate(targets)
            if t["component"] not in missing]  # fmt: skip


def _redis_up(*pods: str) -> Series:
    return [_s("redis_up", "1x20", pod=p) for p in pods]


def _decisions(execute: int, skip: int, blocked: int) -> Series:
    """p35_decisions_total rising by so many a minute, per decision (seed 003's alerts)."""
    return [_s("p35_decisions_total", f"0+{n}x40", decision=d)
            for d, n in (("EXECUTE", execute), ("SKIP", skip), ("BLOCKED", blocked))]  # fmt: skip


#: alert -> (eval time, series that make it fire, labels it fires with, healthy series)
CASES: dict[str, tuple[str, Series, dict[str, str], Series]] = {
    "TradingStackClustersStale": (
        "25m", [_s("p27_updates_total", "0+1x5 5x30")], {},
        [_s("p27_updates_total", "0+1x30")]),
    "TradingStackCorrelationNotReady": (  # past the warm-up: 20 points + 2 at 60 s
        "25m", [_s("p27_corr_ready", "0x30"), _s("p27_symbols_in_matrix", "2x30")], {},
        [_s("p27_corr_ready", "1x30"), _s("p27_symbols_in_matrix", "2x30")]),
    "TradingStackFeedFrozen": (
        "15m", [_s("p27_frozen_symbol", "1x20", symbol="ETHUSDT")], {"symbol": "ETHUSDT"},
        [_s("p27_frozen_symbol", "_x20", symbol="ETHUSDT")]),
    "TradingStackSnapshotsMalformed": (
        "25m", [_s("p27_snapshots_skipped_total", "0+1x30", reason="in_future")],
        {"reason": "in_future"}, [_s("p27_snapshots_skipped_total", "0x30", reason="in_future")]),
    "TradingStackGateInputsMalformed": (
        "25m", [_s("p26_proposals_malformed_total", "0+1x30", field="ts")], {"field": "ts"},
        [_s("p26_proposals_malformed_total", "0x30", field="ts")]),
    "TradingStackGovernorInputsMalformed": (
        "25m", [_s("p28_malformed_input_total", "0+1x30", input_type="portfolio_state")],
        {"input_type": "portfolio_state"},
        [_s("p28_malformed_input_total", "0x30", input_type="portfolio_state")]),
    "TradingStackGateFallingBack": (
        "65m", [_s("p26_cluster_fallback_total", "0+1x70", reason="stale")], {"reason": "stale"},
        [_s("p26_cluster_fallback_total", "0x70", reason="stale")]),
    "TradingStackSnapshotsStale": (
        "10m", [_s("p26_snapshot_age_seconds", "400x15", symbol="BTCUSDT")], {},
        [_s("p26_snapshot_age_seconds", "30x15", symbol="BTCUSDT")]),
    "TradingStackPortfolioStateTooOld": (
        "15m", [_s("p28_portfolio_source", "1x20", source="none")], {},
        [_s("p28_portfolio_source", "0x20", source="none"),
         _s("p28_portfolio_source", "1x20", source="fresh")]),
    "TradingStackGovernorInputsStale": (
        "45m", [_s("p28_stale_input_total", "0+1x60", input_type="cluster_stress")], {},
        [_s("p28_stale_input_total", "0x60", input_type="cluster_stress")]),
    "TradingStackGateClusterStressUnused": (
        "30m", [_s("p26_k_source_total", "0x40", source="cluster"),
                _s("p26_proposals_processed_total", "0+5x40")], {},
        [_s("p26_k_source_total", "0+5x40", source="cluster"),
         _s("p26_proposals_processed_total", "0+5x40")]),
    "TradingStackExecuteRateLow": ("35m", _decisions(1, 9, 0), {}, _decisions(4, 4, 2)),
    "TradingStackSkipRateHigh": ("35m", _decisions(1, 9, 0), {}, _decisions(4, 4, 2)),
    "TradingStackBlockedRateHigh": ("35m", _decisions(5, 0, 5), {}, _decisions(4, 4, 2)),
    "TradingStackGateDominant": (
        "15m", [_s("p35_top_reason_share", "0.5x20")], {},
        [_s("p35_top_reason_share", "0.4x20")]),
    "TradingStackGateDominantHigh": (
        "15m", [_s("p35_top_reason_share", "0.7x20")], {},
        [_s("p35_top_reason_share", "0.6x20")]),
    "TradingStackUnknownDecisions": (
        "35m", [_s("p35_unknown_decisions_total", "0+1x40"),
                _s("p35_processed_total", "0+10x40")], {},
        [_s("p35_unknown_decisions_total", "0x40"), _s("p35_processed_total", "0+10x40")]),
    "TradingStackGovernorOnCachedState": (
        "15m", [_s("p28_portfolio_source", "1x20", source="lkg")], {},
        [_s("p28_portfolio_source", "0x20", source="lkg"),
         _s("p28_portfolio_source", "1x20", source="fresh")]),
    "TradingStackWorkerHeartbeatStale": (
        "5m", [_s("tradingstack_worker_heartbeat_timestamp_seconds", "0x10", kind="gate")],
        {"kind": "gate"},
        [_s("tradingstack_worker_heartbeat_timestamp_seconds", "0+60x10", kind="gate")]),
    "TradingStackWorkerDown": (
        "10m", [_s("up", "0x20", component="gate", pod="g1")], {"component": "gate", "pod": "g1"},
        [_s("up", "1x20", component="gate", pod="g1")]),
    "TradingStackWorkerAbsent": ("10m", _up("gate"), {"component": "gate"}, _up()),
    "TradingStackRedisNoMaster": (
        "5m", [_s("tradingstack_worker_ready", "0x10", pod="a"),
               _s("tradingstack_worker_ready", "0x10", pod="b")], {},
        [_s("tradingstack_worker_ready", "0x10", pod="a"),
         _s("tradingstack_worker_ready", "1x10", pod="b")]),
    "TradingStackBotHeartbeatStale": (
        "5m", [_s("tradingstack_bot_heartbeat_timestamp_seconds", "0x10", bot="x", pod="a")],
        {"bot": "x", "pod": "a"},
        [_s("tradingstack_bot_heartbeat_timestamp_seconds", "0+60x10", bot="x", pod="a")]),
    "TradingStackBotNoLeader": (
        "5m", [_s("tradingstack_bot_is_leader", "0x10", bot="x", pod="a"),
               _s("tradingstack_bot_is_leader", "0x10", bot="x", pod="b")], {"bot": "x"},
        [_s("tradingstack_bot_is_leader", "1x10", bot="x", pod="a"),
         _s("tradingstack_bot_is_leader", "0x10", bot="x", pod="b")]),
    "TradingStackBotTwoLeaders": (
        "5m", [_s("tradingstack_bot_is_leader", "1x10", bot="x", pod="a"),
               _s("tradingstack_bot_is_leader", "1x10", bot="x", pod="b")], {"bot": "x"},
        [_s("tradingstack_bot_is_leader", "1x10", bot="x", pod="a"),
         _s("tradingstack_bot_is_leader", "0x10", bot="x", pod="b")]),
    # From the Redis pods' exporters: pods a (master until 5m) and b, c (replicas).
    "TradingStackRedisNoMasterRole": (
        "8m", [*_redis_up("a", "b"), _s("redis_instance_info", "1x4 stale", pod="a",
                                        role="master")], {},
        [*_redis_up("a", "b"), _s("redis_instance_info", "1x20", pod="a", role="master")]),
    "TradingStackRedisTwoMasters": (
        "5m", [_s("redis_instance_info", "1x10", pod=p, role="master") for p in "ab"], {},
        [_s("redis_instance_info", "1x10", pod="a", role="master")]),
    "TradingStackRedisReplicaLinkDown": (
        "5m", [_s("redis_master_link_up", "1 0x10", pod="c")], {"pod": "c"},
        [_s("redis_master_link_up", "1x10", pod="c")]),
    "TradingStackRedisMemoryHigh": (
        "10m", [_s("redis_memory_used_bytes", "950x15", pod="a"),
                _s("redis_memory_max_bytes", "1000x15", pod="a")], {"pod": "a"},
        [_s("redis_memory_used_bytes", "800x15", pod="a"),
         _s("redis_memory_max_bytes", "1000x15", pod="a")]),
    "TradingStackRedisAofErrors": (
        "5m", [_s("redis_aof_last_write_status", "1 0x10", pod="a")], {"pod": "a"},
        [_s("redis_aof_last_write_status", "1x10", pod="a"),
         _s("redis_aof_last_bgrewrite_status", "1x10", pod="a")]),
}  # fmt: skip


def _series(series: Series) -> list[dict[str, str]]:
    return [
        {"series": metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}",
         "values": values}
        for metric, labels, values in series
    ]  # fmt: skip


def _expected(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    return firing(rule, {} if "__none__" in labels else {**STACK, **labels})


def test_every_alert_has_severity_for_summary_and_runbook() -> None:
    for rule in _rendered_rules():
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert rule["for"], rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["runbook"], rule["alert"]


def test_every_alert_has_a_unit_test() -> None:
    assert {r["alert"] for r in _rendered_rules()} == set(CASES)


def test_the_issue_s_alerts_are_there() -> None:
    names = {r["alert"] for r in _rendered_rules()}
    for wanted in ("BotHeartbeatStale", "BotNoLeader", "BotTwoLeaders", "RedisNoMaster",
                   "WorkerDown", "WorkerAbsent", "ClustersStale", "CorrelationNotReady",
                   "SnapshotsStale", "GateFallingBack", "PortfolioStateTooOld",
                   "GovernorOnCachedState"):  # fmt: skip
        assert f"TradingStack{wanted}" in names


def test_promtool_unit_tests_fire_and_stay_silent(tmp_path: Path) -> None:
    rules = {r["alert"]: r for r in _rendered_rules()}
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(
        yaml.safe_dump({"groups": [{"name": "t", "rules": list(rules.values())}]})
    )
    check = promtool("check", "rules", str(rules_file))
    assert check.returncode == 0, check.stdout + check.stderr
    tests = []
    for name, (at, bad, labels, good) in CASES.items():
        fires = [_expected(rules[name], labels)]
        for series, expected in ((bad, fires), (good, [])):
            tests.append({
                "interval": "1m",
                "input_series": _series(series),
                "alert_rule_test": [{"eval_time": at, "alertname": name, "exp_alerts": expected}],
            })  # fmt: skip
    cases = tmp_path / "tests.yaml"
    cases.write_text(yaml.safe_dump({"rule_files": [str(rules_file)], "evaluation_interval": "1m",
                                     "tests": tests}))  # fmt: skip
    result = promtool("test", "rules", str(cases))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_plain_rule_files_passpromtool() -> None:
    folder = ROOT / "charts" / "observability"
    check = promtool("check", "rules", str(folder / "prometheus-rules.yaml"))
    assert check.returncode == 0, check.stdout + check.stderr
    rule = yaml.safe_load((folder / "prometheusrule.yaml").read_text())
    plain = yaml.safe_load((folder / "prometheus-rules.yaml").read_text())
    assert rule["spec"]["groups"] == plain["groups"]
    assert {r["alert"] for r in plain["groups"][0]["rules"]} == set(CASES)
