"""Input selection by authority and freshness, the LKG cache, fail-open: with an injected clock."""

from __future__ import annotations

import pytest

from tradingstack_workers.governor.decide import (
    EMPTY_CACHE,
    UNKNOWN_STRESS,
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
    assert d.cache.portfolio == fresh
    assert [b.symbol for b in d.budgets] == list(SYMBOLS)
    assert "portfolio_state" not in d.stale_inputs
    assert d.portfolio_age == pytest.approx(29.9)


def test_state_exactly_at_staleness_is_fresh_and_just_past_it_stale() -> None:
    # One rule everywhere (runtime/freshness.py): a value exactly at its limit is fresh.
    assert select_portfolio(state(T0 - 30), None, T0, POLICY).source == "fresh"
    choice = select_portfolio(state(T0 - 30.001), None, T0, POLICY)
    assert choice.source == "lkg"  # stale, but the Redis value itself stands in


def test_stale_state_falls_back_to_a_newer_cache() -> None:
    cache = state(T0 - 60, equity=7_000)
    d = decide(inputs(state(T0 - 600, equity=5_000)), LkgCache(cache), T0, POLICY)
    assert d.source == "lkg"
    assert d.cache.portfolio == cache
    assert {b.equity_usd for b in d.budgets} == {7_000}
    assert d.stale_inputs.count("portfolio_state") == 1


def test_missing_state_uses_cache_within_max_age() -> None:
    cache = LkgCache(state(T0))
    for age in (31, 300, 900):
        d = decide(inputs(None), cache, T0 + age, POLICY)
        assert d.source == "lkg", age
        assert len(d.budgets) == 2
        assert d.cache.portfolio == cache.portfolio


def test_cache_expires_just_past_15_minutes_and_fails_open() -> None:
    cache = LkgCache(state(T0))
    d = decide(inputs(None), cache, T0 + 900.001, POLICY)
    assert d.source == "none"
    assert d.budgets == ()
    assert d.portfolio_age is None
    assert d.stale_inputs == ("portfolio_state",)


def test_no_state_and_no_cache_fails_open() -> None:
    d = decide(inputs(None), None, T0, POLICY)
    assert (d.source, d.budgets, d.cache) == ("none", (), EMPTY_CACHE)


def test_stale_redis_state_seeds_an_empty_cache_after_a_restart() -> None:
    stale = state(T0 - 120)
    d = decide(inputs(stale), None, T0, POLICY)
    assert d.source == "lkg"
    assert d.cache.portfolio == stale


def test_a_cycle_sequence_fresh_then_stale_then_expired() -> None:
    """The worker's life in miniature: the cache is threaded through as a value."""
    cache = EMPTY_CACHE
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
    assert sources[960] == "lkg"  # exactly 900 s: still within the window
    assert sources[965] == "none"
    assert last_write == T0 + 60


def test_lkg_disabled_with_zero_max_age() -> None:
    policy = Policy(lkg_max_age_seconds=0)
    assert decide(inputs(None), LkgCache(state(T0 - 1)), T0, policy).source == "none"


def test_stale_secondary_inputs_hold_their_last_value_and_are_counted_stale() -> None:
    d = decide(
        inputs(
            state(T0),
            heat=Stamped(0.9, T0 - 120.5),  # just past its limit: stale, held
            cluster=Stamped(0.8, T0 - 500),  # stale, still inside the LKG window
            markets={"BTCUSDT": MarketState("HIGH_VOL", None), "ETHUSDT": None},
        ),
        None,
        T0,
        POLICY,
    )
    budgets = {b.symbol: b for b in d.budgets}
    assert budgets["BTCUSDT"].portfolio_heat == 0.9
    assert budgets["BTCUSDT"].cluster_stress == 0.8
    assert budgets["BTCUSDT"].vol_regime == 0.67
    assert budgets["ETHUSDT"].vol_regime == 0.33
    assert sorted(d.stale_inputs) == ["cluster_stress", "portfolio_heat", "vol_regime"]


def test_missing_secondary_inputs_count_as_stressed_not_calm() -> None:
    """Seed 002 took a missing heat or cluster stress as 0.0: budgets rose as inputs failed."""
    calm = decide(
        inputs(state(T0), heat=Stamped(0.0, T0), cluster=Stamped(0.0, T0)), None, T0, POLICY
    )
    blind = decide(inputs(state(T0)), None, T0, POLICY)
    for b in blind.budgets:
        assert (b.portfolio_heat, b.cluster_stress) == (UNKNOWN_STRESS, UNKNOWN_STRESS)
    assert all(
        b.budget_usd < c.budget_usd for b, c in zip(blind.budgets, calm.budgets, strict=True)
    )


def test_a_withdrawn_cluster_state_holds_its_value_for_the_lkg_window_then_counts_as_one() -> None:
    first = decide(inputs(state(T0), heat=Stamped(0.2, T0), cluster=Stamped(0.7, T0)),
                   None, T0, POLICY)  # fmt: skip
    cache = first.cache
    for age, expected in ((60, 0.7), (121, 0.7), (900, 0.7), (900.5, UNKNOWN_STRESS)):
        now = T0 + age
        d = decide(inputs(state(now), heat=Stamped(0.2, now)), cache, now, POLICY)
        assert d.budgets[0].cluster_stress == expected, age
        # Never looser than with the value last seen.
        assert d.budgets[0].budget_usd <= first.budgets[0].budget_usd + 1e-9


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
    fields = d.budgets[0].to_fields()
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
    # On the wire a fraction, as the old P2.8 service wrote BASE_RISK_PCT; the setting is %.
    assert float(fields["base_risk_pct"]) == pytest.approx(0.015)


def test_no_symbols_means_no_budgets_but_a_decision() -> None:
    d = decide(CycleInputs(symbols=(), portfolio=state(T0)), None, T0, POLICY)
    assert (d.source, d.budgets) == ("fresh", ())


@pytest.mark.parametrize(("equity", "drawdown"), [(-5_000.0, 105.0), (0.0, 0.0), (-1.0, 0.0)])
def test_a_fresh_blown_account_gets_budget_zero_at_once(equity: float, drawdown: float) -> None:
    """Review D1: a fresh state with equity <= 0 is used, never the old LKG equity."""
    good = decide(inputs(state(T0 - 10, equity=100_000)), None, T0 - 10, POLICY)
    assert all(b.budget_usd > 0 for b in good.budgets)
    d = decide(inputs(state(T0, equity=equity, drawdown=drawdown)), good.cache, T0, POLICY)
    assert d.source == "fresh"
    assert [b.budget_usd for b in d.budgets] == [0.0, 0.0]
    assert {b.stress_factor for b in d.budgets} == {1.0}
    assert {b.equity_usd for b in d.budgets} == {equity}


def test_budgets_together_never_pass_the_aggregate_cap() -> None:
    symbols = tuple(f"S{i}USDT" for i in range(12))
    calm = {"heat": Stamped(0.0, T0), "cluster": Stamped(0.0, T0),
            "markets": {s: MarketState("LOW_VOL", None) for s in symbols}}  # fmt: skip
    policy = Policy(base_risk_pct=2.0, total_risk_pct=10.0)
    d = decide(CycleInputs(symbols, state(T0, equity=10_000), **calm), None, T0, policy)  # type: ignore[arg-type]
    # 12 x 2 % = 24 % asked, 10 % allowed: each symbol keeps 10 / 12 %, equally.
    assert sum(b.budget_usd for b in d.budgets) <= 1_000.0
    assert sum(b.budget_usd for b in d.budgets) == pytest.approx(1_000.0)
    assert len({round(b.budget_usd, 6) for b in d.budgets}) == 1
