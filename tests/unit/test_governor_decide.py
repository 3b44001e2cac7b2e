"""Input selection by authority and freshness, the LKG cache, fail-open: with an injected clock."""

from __future__ import annotations

import pytest

from tradingstack_workers.governor.decide import (
    CycleInputs,
    LkgCache,
    Policy,
    decide,
    select_portfolio,
)
from tradingstack_workers.governor.inputs import MarketState, PortfolioState, Stamped

T0 = 1_800_000_000.0
POLICY = Policy()  # the defaults: 30 s staleness, 15 min LKG, 120 s heat/cluster
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def state(ts: float, equity: float = 10_000.0, drawdown: float = 0.0) -> PortfolioState:
    return PortfolioState(equity_usd=equity, drawdown_pct=drawdown, timestamp=ts)


def inputs(portfolio: PortfolioState | None, **kw: object) -> CycleInputs:
    return CycleInputs(symbols=SYMBOLS, portfolio=portfolio, **kw)  # type: ignore[arg-type]


def test_fresh_state_is_used_and_becomes_the_cache() -> None:
    fresh = state(T0 - 29.9)
    d = decide(inputs(fresh), None, T0, POLICY)
    assert d.source == "fresh"
    assert d.cache == fresh
    assert [b.symbol for b in d.budgets] == list(SYMBOLS)
    assert "portfolio_state" not in d.stale_inputs
    assert d.portfolio_age == pytest.approx(29.9)


def test_state_exactly_at_staleness_is_stale() -> None:
    choice = select_portfolio(state(T0 - 30), None, T0, POLICY)
    assert choice.source == "lkg"  # stale, but the Redis value itself stands in


def test_stale_state_falls_back_to_a_newer_cache() -> None:
    cache = state(T0 - 60, equity=7_000)
    d = decide(inputs(state(T0 - 600, equity=5_000)), cache, T0, POLICY)
    assert d.source == "lkg"
    assert d.cache == cache
    assert {b.equity_usd for b in d.budgets} == {7_000}
    assert d.stale_inputs.count("portfolio_state") == 1


def test_missing_state_uses_cache_within_max_age() -> None:
    cache = state(T0)
    for age in (31, 300, 899.999):
        d = decide(inputs(None), cache, T0 + age, POLICY)
        assert d.source == "lkg", age
        assert len(d.budgets) == 2
        assert d.cache == cache


def test_cache_expires_at_exactly_15_minutes_and_fails_open() -> None:
    cache = state(T0)
    d = decide(inputs(None), cache, T0 + 900, POLICY)
    assert d.source == "none"
    assert d.budgets == ()
    assert d.portfolio_age is None
    assert d.stale_inputs == ("portfolio_state",)


def test_no_state_and_no_cache_fails_open() -> None:
    d = decide(inputs(None), None, T0, POLICY)
    assert (d.source, d.budgets, d.cache) == ("none", (), None)


def test_stale_redis_state_seeds_an_empty_cache_after_a_restart() -> None:
    stale = state(T0 - 120)
    d = decide(inputs(stale), None, T0, POLICY)
    assert d.source == "lkg"
    assert d.cache == stale


def test_a_cycle_sequence_fresh_then_stale_then_expired() -> None:
    """The worker's life in miniature: the cache is threaded through as a value."""
    cache: LkgCache = None
    seen = []
    last_write = T0
    for t in range(0, 1000, 5):
        now = T0 + t
        written = state(now) if t <= 60 else None  # producer dies after one minute
        if written is not None:
            last_write = now
        d = decide(inputs(written), cache, now, POLICY)
        cache = d.cache
        seen.append((t, d.source))
    sources = dict(seen)
    assert sources[60] == "fresh"
    assert sources[65] == "lkg"
    assert sources[955] == "lkg"  # 895 s after the last write
    assert sources[960] == "none"  # exactly 900 s
    assert last_write == T0 + 60


def test_lkg_disabled_with_zero_max_age() -> None:
    policy = Policy(lkg_max_age_seconds=0)
    assert decide(inputs(None), state(T0 - 1), T0, policy).source == "none"


def test_secondary_inputs_fall_back_and_are_counted_stale() -> None:
    d = decide(
        inputs(
            state(T0),
            heat=Stamped(0.9, T0 - 120),  # exactly at its limit: stale
            cluster=Stamped(0.8, T0 - 500),
            markets={"BTCUSDT": MarketState("HIGH_VOL", None), "ETHUSDT": None},
        ),
        None,
        T0,
        POLICY,
    )
    budgets = {b.symbol: b for b in d.budgets}
    assert budgets["BTCUSDT"].portfolio_heat == 0.0
    assert budgets["BTCUSDT"].cluster_stress == 0.0
    assert budgets["BTCUSDT"].vol_regime == 0.67
    assert budgets["ETHUSDT"].vol_regime == 0.33
    assert sorted(d.stale_inputs) == ["cluster_stress", "portfolio_heat", "vol_regime"]


def test_fresh_secondary_inputs_are_used() -> None:
    d = decide(
        inputs(
            state(T0),
            heat=Stamped(0.5, T0 - 10),
            cluster=Stamped(0.25, T0 - 119),
            markets={s: MarketState("LOW_VOL", None) for s in SYMBOLS},
        ),
        None,
        T0,
        POLICY,
    )
    assert d.stale_inputs == ()
    b = d.budgets[0]
    assert (b.portfolio_heat, b.cluster_stress, b.vol_regime) == (0.5, 0.25, 0.0)
    # 10 000 * 2 % * (1 - (0.4*0.5 + 0.4*0.25 + 0.2*0))
    assert b.budget_usd == pytest.approx(200 * 0.7)


@pytest.mark.parametrize("mode", ["shadow", "enforce"])
def test_budget_carries_mode_and_seed_fields(mode: str) -> None:
    d = decide(inputs(state(T0)), None, T0 + 0.7, Policy(mode=mode, base_risk_pct=1.5))
    fields = d.budgets[0].fields()
    assert list(fields) == [
        "symbol",
        "budget_usd",
        "stress_factor",
        "equity_usd",
        "portfolio_heat",
        "cluster_stress",
        "vol_regime",
        "mode",
        "timestamp",
        "base_risk_pct",
    ]
    assert fields["mode"] == mode
    assert fields["timestamp"] == str(int(T0))
    assert float(fields["base_risk_pct"]) == 1.5


def test_no_symbols_means_no_budgets_but_a_decision() -> None:
    d = decide(CycleInputs(symbols=(), portfolio=state(T0)), None, T0, POLICY)
    assert (d.source, d.budgets) == ("fresh", ())
