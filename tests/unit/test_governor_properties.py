"""Property tests (hypothesis) of the governor's budgets: bounds, aggregate cap, blown account.

Each property is one the README's risk section states; hypothesis looks for the book,
the inputs and the settings that break it.
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tradingstack_workers.governor import budget as formula
from tradingstack_workers.governor.budget import Weights
from tradingstack_workers.governor.decide import (
    CycleInputs,
    LkgCache,
    Policy,
    decide,
)
from tradingstack_workers.governor.inputs import MarketState, PortfolioState, Stamped

T0 = 1_800_000_000.0

unit = st.floats(min_value=-2.0, max_value=3.0, allow_nan=False)
pct = st.floats(min_value=0.01, max_value=100.0, allow_nan=False)
equity = st.floats(min_value=-1e9, max_value=1e12, allow_nan=False)
drawdown = st.floats(min_value=-300.0, max_value=300.0, allow_nan=False)
age = st.floats(min_value=-5.0, max_value=2_000.0, allow_nan=False)
regime = st.sampled_from(["LOW_VOL", "NORMAL_VOL", "HIGH_VOL", "EXTREME_VOL", None])


@st.composite
def weights(draw: st.DrawFn) -> Weights:
    a = draw(st.floats(min_value=0.0, max_value=1.0))
    b = draw(st.floats(min_value=0.0, max_value=1.0 - a))
    return Weights(a, b, 1.0 - a - b)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    return Policy(
        base_risk_pct=draw(pct),
        total_risk_pct=draw(pct),
        max_drawdown_pct=draw(pct),
        weights=draw(weights()),
    )


def stamped(value: float | None, age_s: float | None) -> Stamped | None:
    if value is None or age_s is None:
        return None
    return Stamped(min(1.0, max(0.0, value)), T0 - age_s)


@st.composite
def cycles(draw: st.DrawFn) -> tuple[CycleInputs, Policy]:
    symbols = tuple(f"S{i}USDT" for i in range(draw(st.integers(0, 30))))
    portfolio = PortfolioState(draw(equity), draw(drawdown), T0 - draw(age))
    markets = {}
    for symbol in symbols:
        label = draw(regime)
        sigma = draw(st.none() | st.floats(min_value=0.0, max_value=0.1))
        markets[symbol] = None if label is None and sigma is None else MarketState(label, sigma)
    inputs = CycleInputs(
        symbols,
        portfolio,
        heat=stamped(draw(st.none() | unit), draw(st.none() | age)),
        cluster=stamped(draw(st.none() | unit), draw(st.none() | age)),
        markets=markets,
    )
    return inputs, draw(policies())


@given(cycles())
def test_budgets_are_never_negative_never_above_equity_and_sum_within_the_cap(
    case: tuple[CycleInputs, Policy],
) -> None:
    inputs, policy = case
    d = decide(inputs, None, T0, policy)
    if d.source == "none":
        assert d.budgets == ()
        return
    assert inputs.portfolio is not None
    eq = inputs.portfolio.equity_usd
    cap = max(0.0, eq) * policy.total_risk_pct / 100.0
    for b in d.budgets:
        assert 0.0 <= b.budget_usd <= max(0.0, eq)
        assert 0.0 <= b.budget_usd <= max(0.0, eq) * policy.base_risk_pct / 100.0
        assert 0.0 <= b.stress_factor <= 1.0
    assert sum(b.budget_usd for b in d.budgets) <= cap
    assert math.fsum(b.budget_usd for b in d.budgets) <= cap


@given(
    st.tuples(st.floats(min_value=0.0, max_value=1e12), pct),
    weights(),
    st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=4, max_size=4),
    st.integers(0, 3),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_budget_never_rises_when_a_stress_input_rises(
    account: tuple[float, float], w: Weights, values: list[float], which: int, more: float
) -> None:
    """Heat, cluster stress, volatility and |drawdown| (as % of the limit): each only lowers."""
    eq, base = account

    def budget(v: list[float]) -> float:
        stress = formula.stress_factor(
            drawdown_pct=v[3] * 20.0,
            max_drawdown_pct=20.0,
            heat=v[0],
            cluster_stress=v[1],
            vol=v[2],
            weights=w,
        )
        return formula.budget_usd(eq, base, stress)

    raised = list(values)
    raised[which] = min(1.0, values[which] + more)
    assert budget(raised) <= budget(values)


blown = st.one_of(
    st.tuples(st.floats(min_value=-1e9, max_value=0.0), drawdown),
    st.tuples(equity, st.floats(min_value=100.0, max_value=1e4)),
    st.tuples(equity, st.floats(min_value=-1e4, max_value=-100.0)),
)


@given(cycles(), blown, st.floats(min_value=0.0, max_value=30.0))
def test_a_blown_account_gets_budget_zero_on_the_next_cycle(
    case: tuple[CycleInputs, Policy], account: tuple[float, float], fresh_age: float
) -> None:
    """Whatever the cache holds (a rich account a moment ago), equity <= 0 or drawdown >= 100 %
    in the next fresh state zeroes every budget in that very cycle."""
    inputs, policy = case
    before = decide(inputs, None, T0 - 1, policy)
    rich = LkgCache(PortfolioState(1e9, 0.0, T0 - 1), before.cache.heat, before.cache.cluster)
    eq, dd = account
    now_state = PortfolioState(eq, dd, T0 - fresh_age)
    after = decide(
        CycleInputs(inputs.symbols, now_state, inputs.heat, inputs.cluster, inputs.markets),
        rich,
        T0,
        policy,
    )
    assert after.source == "fresh"
    assert all(b.budget_usd == 0.0 for b in after.budgets)
    assert len(after.budgets) == len(inputs.symbols)
