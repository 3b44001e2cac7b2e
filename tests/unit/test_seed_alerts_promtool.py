"""Every alert the seeds describe, through the real promtool, at the slowest intervals the CRD
allows (clusters 3599 s, governor 300 s) and a slow 1-minute scrape: each fires when its
condition holds and stays silent on a healthy stack.

Seeds: 000/001 (P2.7 and P2.6 live-health set and critical alerts), 002 (P2.8 alert
thresholds), 003 (decision distribution and single-gate share).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from tests.harness.promtool import firing, promtool

from tradingstack_operator.render import Stack, render
from tradingstack_operator.render.alerts import cycles_window
from tradingstack_operator.spec import parse_spec

CLUSTERS_INTERVAL = 3599  # the CRD's le=3600, and the gate's staleness must exceed it
GOVERNOR_INTERVAL = 300  # the CRD's maximum
SLOWEST = {
    "symbols": ["BTCUSDT", "ETHUSDT"],
    "workers": {
        "clusters": {"intervalSeconds": CLUSTERS_INTERVAL},
        "gate": {"clusterStaleSeconds": 3600},
        "governor": {"intervalSeconds": GOVERNOR_INTERVAL, "budgetTtlSeconds": 900},
    },
}


def rule_spec() -> dict[str, Any]:
    stack = Stack(name="paper", namespace="desk", spec=parse_spec(SLOWEST))
    rule = next(m for m in render(stack) if m["kind"] == "PrometheusRule")
    spec: dict[str, Any] = rule["spec"]
    return spec


def alert(name: str, **labels: str) -> dict[str, Any]:
    """The alert as promtool must see it fire for stack paper in namespace desk."""
    rule = next(r for r in rule_spec()["groups"][0]["rules"] if r["alert"] == name)
    return firing(rule, {"namespace": "desk", "stack": "paper", **labels})


def series(metric: str, values: str | Iterable[float], **labels: str) -> dict[str, str]:
    scope = {"namespace": "desk", "stack": "paper", **labels}
    text = ",".join(f'{k}="{v}"' for k, v in scope.items())
    if not isinstance(values, str):
        values = " ".join(f"{v:g}" for v in values)
    return {"series": f"{metric}{{{text}}}", "values": values}


def case(inputs: list[dict[str, str]], checks: list[tuple[str, str, list[Any]]]) -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": inputs,
        "alert_rule_test": [
            {"eval_time": at, "alertname": name, "exp_alerts": expected}
            for name, at, expected in checks
        ],
    }


def run(tmp_path: Path, *cases: dict[str, Any]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(rule_spec()))
    tests = tmp_path / "tests.yaml"
    tests.write_text(
        yaml.safe_dump(
            {"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": list(cases)}
        )
    )
    result = promtool("test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr


def every(minutes: int, total: int) -> list[float]:
    """A counter that rises by one every ``minutes``, sampled each minute for ``total``."""
    return [float(t // minutes) for t in range(total + 1)]


def test_windows_hold_three_cycles_of_the_slowest_workers() -> None:
    assert cycles_window(CLUSTERS_INTERVAL) == "10797s"
    assert cycles_window(GOVERNOR_INTERVAL) == "15m"
    assert cycles_window(60) == "10m"  # the seed's window at the seed's cadence


def test_clusters_stale_and_not_ready_at_one_cycle_an_hour(tmp_path: Path) -> None:
    hourly = every(60, 12 * 60)
    stopped = [*every(60, 4 * 60), *([4.0] * (8 * 60))]
    run(
        tmp_path,
        # Healthy at one update an hour: a fixed 10m window would read rate 0 and page.
        case(
            [series("p27_updates_total", hourly), series("p27_corr_ready", "1x720"),
             series("p27_symbols_in_matrix", "2x720")],
            [("TradingStackClustersStale", "11h", []),
             ("TradingStackCorrelationNotReady", "11h", [])],
        ),
        # Stopped after 4 hours: stale once three cycles passed without an update.
        case(
            [series("p27_updates_total", stopped)],
            [("TradingStackClustersStale", "6h", []),
             ("TradingStackClustersStale", "8h", [alert("TradingStackClustersStale")])],
        ),
        # Warm-up: 20 points at 3599 s is 20 hours of corr_ready 0; only past it, alert.
        case(
            [series("p27_corr_ready", "0x1500"), series("p27_symbols_in_matrix", "2x1500")],
            [("TradingStackCorrelationNotReady", "20h", []),
             ("TradingStackCorrelationNotReady", "24h",
              [alert("TradingStackCorrelationNotReady")])],
        ),
        # One position (review D4): nothing to correlate, corr_ready 0 for a day, no page.
        case(
            [series("p27_corr_ready", "0x1500"), series("p27_symbols_in_matrix", "1x1500")],
            [("TradingStackCorrelationNotReady", "24h", [])],
        ),
    )  # fmt: skip


def test_gate_checks_of_seed_000(tmp_path: Path) -> None:
    run(
        tmp_path,
        # Check 4: proposals decided, never with cluster K.
        case(
            [series("p26_k_source_total", "0x40", source="cluster"),
             series("p26_proposals_processed_total", "0+5x40")],
            [("TradingStackGateClusterStressUnused", "30m",
              [alert("TradingStackGateClusterStressUnused")])],
        ),
        case(
            [series("p26_k_source_total", "0+5x40", source="cluster"),
             series("p26_proposals_processed_total", "0+5x40"),
             series("p26_cluster_fallback_total", "0x90", reason="stale"),
             series("p26_snapshot_age_seconds", "40x40", symbol="BTCUSDT")],
            [("TradingStackGateClusterStressUnused", "30m", []),
             ("TradingStackGateFallingBack", "40m", []),
             ("TradingStackSnapshotsStale", "30m", [])],
        ),
        # Falling back all along; snapshots older than 5 minutes.
        case(
            [series("p26_cluster_fallback_total", "0+1x90", reason="stale"),
             series("p26_snapshot_age_seconds", "400x40", symbol="BTCUSDT")],
            [("TradingStackGateFallingBack", "60m",
              [alert("TradingStackGateFallingBack", reason="stale")]),
             ("TradingStackSnapshotsStale", "30m", [alert("TradingStackSnapshotsStale")])],
        ),
    )  # fmt: skip


def test_governor_alerts_at_one_cycle_every_five_minutes(tmp_path: Path) -> None:
    too_old = every(5, 60)  # p28_portfolio_too_old_total: +1 a cycle, 0.2 a minute
    run(
        tmp_path,
        # Failing open on every cycle at 300 s: the seed's "> 10/min" could never fire.
        case(
            [series("p28_portfolio_too_old_total", too_old),
             series("p28_portfolio_source", "1x60", source="none"),
             series("p28_stale_input_total", every(5, 60), input_type="cluster_stress")],
            [("TradingStackPortfolioStateTooOld", "4m", []),
             ("TradingStackPortfolioStateTooOld", "30m",
              [alert("TradingStackPortfolioStateTooOld")]),
             ("TradingStackGovernorInputsStale", "45m",
              [alert("TradingStackGovernorInputsStale")])],
        ),
        case(
            [series("p28_portfolio_source", "1x60", source="lkg"),
             series("p28_portfolio_source", "0x60", source="none"),
             series("p28_stale_input_total", "0x60", input_type="cluster_stress")],
            [("TradingStackGovernorOnCachedState", "30m",
              [alert("TradingStackGovernorOnCachedState")]),
             ("TradingStackPortfolioStateTooOld", "30m", []),
             ("TradingStackGovernorInputsStale", "45m", [])],
        ),
    )  # fmt: skip


def test_inputs_breaking_their_contract_page_only_when_it_persists(tmp_path: Path) -> None:
    """Review D5/D6: a timestamp in milliseconds or from the future is refused by every
    reader (counted by field or fault); a producer that keeps writing one is paged, at
    the slowest intervals (clusters hourly, governor every 5 minutes), and a single bad
    write is not."""
    hourly = every(60, 30 * 60)  # a snapshot skipped on every clusters cycle, for 30 hours
    once = [0.0] * 60 + [1.0] * (30 * 60 - 59)  # one skipped snapshot, in the first hour
    run(
        tmp_path,
        case(
            [series("p27_snapshots_skipped_total", hourly, reason="wrong_unit"),
             series("p26_input_malformed_total", every(1, 60), input="portfolio_state",
                    field="timestamp"),
             series("p26_proposals_malformed_total", every(1, 60), field="ts"),
             series("p28_malformed_input_total", every(5, 60), input_type="portfolio_state")],
            [("TradingStackSnapshotsMalformed", "2h", []),
             ("TradingStackSnapshotsMalformed", "20h",
              [alert("TradingStackSnapshotsMalformed", reason="wrong_unit")]),
             ("TradingStackGateInputsMalformed", "10m", []),
             ("TradingStackGateInputsMalformed", "40m",
              [alert("TradingStackGateInputsMalformed", field="ts"),
               alert("TradingStackGateInputsMalformed", input="portfolio_state",
                     field="timestamp")]),
             ("TradingStackGovernorInputsMalformed", "15m", []),
             ("TradingStackGovernorInputsMalformed", "45m",
              [alert("TradingStackGovernorInputsMalformed", input_type="portfolio_state")])],
        ),
        case(
            [series("p27_snapshots_skipped_total", once, reason="in_future"),
             series("p26_snapshot_malformed_total", "0x20 1x40", field="ts_epoch"),
             series("p28_malformed_input_total", "0x20 1x40", input_type="portfolio_heat")],
            [*((name, at, []) for name in ("TradingStackSnapshotsMalformed",
                                           "TradingStackGateInputsMalformed",
                                           "TradingStackGovernorInputsMalformed")
               for at in ("25m", "35m", "50m")),
             ("TradingStackSnapshotsMalformed", "3h", [])],
        ),
    )  # fmt: skip


def decisions(execute: int, skip: int, blocked: int, minutes: int = 40) -> list[dict[str, str]]:
    """p35_decisions_total rising by so many a minute, per decision."""
    return [
        series("p35_decisions_total", f"0+{n}x{minutes}", decision=d)
        for d, n in (("EXECUTE", execute), ("SKIP", skip), ("BLOCKED", blocked), ("ERROR", 0))
    ]


def test_decision_distribution_alerts_of_seed_003(tmp_path: Path) -> None:
    distribution = ("TradingStackExecuteRateLow", "TradingStackSkipRateHigh",
                    "TradingStackBlockedRateHigh")  # fmt: skip
    run(
        tmp_path,
        # Seed 003's healthy baseline: EXECUTE 40 %, SKIP 40 %, BLOCKED 20 %.
        case(decisions(4, 4, 2), [(name, "35m", []) for name in distribution]),
        # EXECUTE 10 %: HIGH. Also SKIP 90 %: MEDIUM.
        case(
            decisions(1, 9, 0),
            [("TradingStackExecuteRateLow", "10m", []),
             ("TradingStackExecuteRateLow", "35m", [alert("TradingStackExecuteRateLow")]),
             ("TradingStackSkipRateHigh", "35m", [alert("TradingStackSkipRateHigh")]),
             ("TradingStackBlockedRateHigh", "35m", [])],
        ),
        # BLOCKED 50 %, EXECUTE 50 %.
        case(
            decisions(5, 0, 5),
            [("TradingStackBlockedRateHigh", "35m", [alert("TradingStackBlockedRateHigh")]),
             ("TradingStackExecuteRateLow", "35m", [])],
        ),
        # No decisions at all: a quiet market is not a distribution alarm.
        case(decisions(0, 0, 0), [(name, "35m", []) for name in distribution]),
    )  # fmt: skip


def test_single_gate_share_and_unknown_decisions(tmp_path: Path) -> None:
    run(
        tmp_path,
        case(
            [series("p35_top_reason_share", "0.4x20")],  # exactly 40 %: not over it
            [("TradingStackGateDominant", "15m", []),
             ("TradingStackGateDominantHigh", "15m", [])],
        ),
        case(
            [series("p35_top_reason_share", "0.5x20")],
            [("TradingStackGateDominant", "15m", [alert("TradingStackGateDominant")]),
             ("TradingStackGateDominantHigh", "15m", [])],
        ),
        case(
            [series("p35_top_reason_share", "0.7x20")],
            [("TradingStackGateDominantHigh", "15m", [alert("TradingStackGateDominantHigh")])],
        ),
        case(
            [series("p35_unknown_decisions_total", "0+1x40"),
             series("p35_processed_total", "0+10x40")],
            [("TradingStackUnknownDecisions", "35m", [alert("TradingStackUnknownDecisions")])],
        ),
        case(
            [series("p35_unknown_decisions_total", "0x40"),
             series("p35_processed_total", "0+10x40")],
            [("TradingStackUnknownDecisions", "35m", [])],
        ),
    )  # fmt: skip
