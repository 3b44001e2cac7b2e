"""Parsing the governor's Redis hashes: malformed values become missing, with a reason."""

from __future__ import annotations

import pytest

from tradingstack_workers.governor.inject import BadRequest, portfolio_fields
from tradingstack_workers.governor.inputs import (
    MarketState,
    PortfolioState,
    Stamped,
    drawdown_looks_like_a_fraction,
    parse_cluster,
    parse_heat,
    parse_market,
    parse_portfolio,
)
from tradingstack_workers.governor.settings import GovernorSettings
from tradingstack_workers.governor.store import RawInputs
from tradingstack_workers.governor.worker import parse_cycle
from tradingstack_workers.runtime.settings import SettingsError, load_settings

NOW = 1_800_000_000.0
TS = str(NOW - 5)


def test_portfolio_parses() -> None:
    raw = {"equity_usd": "12500.5", "drawdown": "3.2", "timestamp": str(int(NOW))}
    assert parse_portfolio(raw, NOW).value == PortfolioState(12500.5, 3.2, NOW)


def test_empty_hash_is_missing_not_malformed() -> None:
    parsed = parse_portfolio({}, NOW)
    assert (parsed.value, parsed.problems) == (None, ())


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ({"equity_usd": "lots", "drawdown": "0", "timestamp": TS}, "not a number"),
        ({"equity_usd": "nan", "drawdown": "0", "timestamp": TS}, "not finite"),
        ({"equity_usd": "1", "drawdown": "0"}, "timestamp: missing"),
        ({"equity_usd": "1", "timestamp": TS}, "drawdown: missing"),
        ({"equity_usd": "1", "drawdown": "0", "timestamp": str(NOW * 1000)}, "milliseconds"),
        ({"equity_usd": "1", "drawdown": "0", "timestamp": str(NOW + 60)}, "future"),
    ],
)
def test_malformed_portfolio(raw: dict[str, str], why: str) -> None:
    parsed = parse_portfolio(raw, NOW)
    assert parsed.value is None
    assert why in parsed.problems[0]


def test_negative_equity_is_a_fact_not_a_malformed_value() -> None:
    parsed = parse_portfolio({"equity_usd": "-5000", "drawdown": "105", "timestamp": TS}, NOW)
    assert parsed.problems == ()
    assert parsed.value is not None
    assert parsed.value.equity_usd == -5000.0


@pytest.mark.parametrize(
    ("drawdown", "suspect"),
    [("0.05", True), ("-0.5", True), ("0", False), ("5", False), ("1", False)],
)
def test_a_drawdown_that_looks_like_a_fraction_is_flagged(drawdown: str, suspect: bool) -> None:
    parsed = parse_portfolio({"equity_usd": "1", "drawdown": drawdown, "timestamp": TS}, NOW)
    assert parsed.value is not None
    assert drawdown_looks_like_a_fraction(parsed.value) is suspect
    stated = {"equity_usd": "1", "drawdown": drawdown, "timestamp": TS, "drawdown_unit": "pct"}
    parsed = parse_portfolio(stated, NOW)
    assert parsed.value is not None
    assert drawdown_looks_like_a_fraction(parsed.value) is False


@pytest.mark.parametrize("unit", ["fraction", "%", "PCT "])
def test_a_drawdown_unit_other_than_pct_is_refused_by_name(unit: str) -> None:
    fields = {"equity_usd": "1", "drawdown": "0.05", "timestamp": TS, "drawdown_unit": unit}
    parsed = parse_portfolio(fields, NOW)
    assert parsed.value is None
    assert any("drawdown_unit" in problem for problem in parsed.problems)


def test_heat_and_cluster_stress_parse_inside_the_unit_interval() -> None:
    assert parse_heat({"heat": "0.7", "ts": TS}, NOW).value == Stamped(0.7, NOW - 5)
    cluster = {"cluster_stress": "0.25", "clusters_count": "2", "updated_ts": str(int(NOW))}
    assert parse_cluster(cluster, NOW).value == Stamped(0.25, NOW)


@pytest.mark.parametrize(
    "raw",
    [
        {"heat": "1.7", "ts": TS},
        {"heat": "-2", "ts": TS},
        {"heat": "hot", "ts": TS},
        {"heat": "0.5", "ts": str(NOW * 1000)},
        {"heat": "0.5"},
    ],
)
def test_heat_outside_its_contract_is_missing_with_a_problem(raw: dict[str, str]) -> None:
    bad = parse_heat(raw, NOW)
    assert bad.value is None
    assert bad.problems


def test_market_with_any_bad_field_is_unusable() -> None:
    both_bad = parse_market({"vol_regime": "SPICY", "sigma": "x"})
    assert both_bad.value is None
    assert both_bad.problems[0].startswith("vol_regime: ")
    half = parse_market({"vol_regime": "SPICY", "sigma": "0.01"})
    assert half.value is None
    assert len(half.problems) == 1
    assert parse_market({"sigma": "0.01"}).value == MarketState(None, 0.01)
    assert parse_market({"vol_regime": " high_vol "}).value == MarketState("HIGH_VOL", None)
    assert parse_market({"other": "1"}).problems == (
        "sigma: missing (neither vol_regime nor sigma)",
    )


def test_parse_cycle_reports_problems_per_input_type() -> None:
    raw = RawInputs(
        portfolio={"equity_usd": "text", "drawdown": "0", "timestamp": TS},
        heat={"heat": "0.5", "ts": str(NOW)},
        cluster={},
        markets={"BTCUSDT": {"vol_regime": "??"}, "ETHUSDT": {}},
        unreadable={"cluster_stress": "WRONGTYPE"},
    )
    parsed = parse_cycle(raw, ["BTCUSDT", "ETHUSDT"], NOW)
    assert parsed.inputs.portfolio is None
    assert parsed.inputs.heat == Stamped(0.5, NOW)
    assert set(parsed.problems) == {"portfolio_state", "cluster_stress", "vol_regime"}
    assert parsed.problems["vol_regime"][0].startswith("BTCUSDT: ")


def test_injection_body() -> None:
    fields = portfolio_fields(b'{"equity_usd": 1000, "drawdown": 2.5}', NOW)
    assert fields == {"equity_usd": "1000.0", "drawdown": "2.5", "timestamp": repr(NOW)}
    assert parse_portfolio(fields, NOW).value == PortfolioState(1000, 2.5, NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1]",
        b'{"equity_usd": 1}',
        b'{"equity_usd": "1", "drawdown": 0}',
        b'{"equity_usd": true, "drawdown": 0}',
        b'{"equity_usd": 1, "drawdown": 0, "extra": 1}',
        b'{"equity_usd": 1, "drawdown": 0, "timestamp": null}',
        b'{"equity_usd": 1, "drawdown": 0, "timestamp": 1769492127000}',  # milliseconds
    ],
)
def test_injection_rejects_bad_bodies(body: bytes) -> None:
    with pytest.raises(BadRequest):
        portfolio_fields(body, NOW)


def test_market_stress_weights_must_sum_to_one() -> None:
    ok = load_settings(GovernorSettings, {"TS_HEAT_WEIGHT": "0.5", "TS_CLUSTER_WEIGHT": "0.3"})
    assert (ok.heat_weight, ok.cluster_weight, ok.vol_weight) == (0.5, 0.3, 0.2)
    with pytest.raises(SettingsError, match="TS_HEAT_WEIGHT \\+ TS_CLUSTER_WEIGHT"):
        load_settings(GovernorSettings, {"TS_HEAT_WEIGHT": "0.6"})
