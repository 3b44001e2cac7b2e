"""One governor cycle as a pure function: inputs, the cache and ``now`` in; budgets out.

Inputs are ranked as seed 002 ranks them. The portfolio state is primary and has
no fallback value: without a trustworthy equity figure no budget is written
(fail-open: the bots trade without budgets rather than against invented ones).
Heat, cluster stress and the volatility regime are secondary: when missing or
stale they take their calm fallbacks, and each such input is reported stale.

The last-known-good (LKG) cache is a value passed in and returned, never hidden
state, so a test can walk a cycle sequence with any clock it likes. Its age is
the age of the *data* (the producer's timestamp), not of our copy: what limits
trust is how old the equity figure is. Two corrections to the seed follow:

* the seed re-checked the cached state against the 30 s staleness after taking
  it from the cache, so the cache never produced a budget; here an LKG state is
  used as long as it is younger than ``lkg_max_age_seconds``;
* a stale state still in Redis is itself a last-known-good value. After a pod
  restart (frequent on Kubernetes) the in-memory cache is empty, and the seed
  then wrote nothing until the producer came back; here the newer of the cache
  and the stale Redis value stands in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..wire.budget import Budget
from . import budget as formula
from .inputs import InputType, MarketState, PortfolioState, Stamped

Source = Literal["fresh", "lkg", "none"]
SOURCES: tuple[Source, ...] = ("fresh", "lkg", "none")

#: The LKG cache: the newest portfolio state seen, or None before the first one.
LkgCache = PortfolioState | None


@dataclass(frozen=True)
class Policy:
    """The governor's limits (from its settings), in seconds, percent and a mode."""

    mode: str = "enforce"
    staleness_seconds: float = 30.0
    lkg_max_age_seconds: float = 900.0
    heat_stale_seconds: float = 120.0
    cluster_stale_seconds: float = 120.0
    base_risk_pct: float = 2.0
    max_drawdown_pct: float = 20.0


@dataclass(frozen=True)
class CycleInputs:
    """What one cycle read; None where an input is missing or was malformed."""

    symbols: Sequence[str]
    portfolio: PortfolioState | None = None
    heat: Stamped | None = None
    cluster: Stamped | None = None
    markets: Mapping[str, MarketState | None] | None = None


@dataclass(frozen=True)
class PortfolioChoice:
    state: PortfolioState | None
    source: Source
    cache: LkgCache


@dataclass(frozen=True)
class Decision:
    """What to write and what to count; ``cache`` goes into the next cycle."""

    source: Source
    cache: LkgCache
    budgets: tuple[Budget, ...]
    #: One entry per input found stale or missing this cycle (vol_regime once per symbol).
    stale_inputs: tuple[InputType, ...]
    #: Age of the portfolio state behind the budgets; None when failing open.
    portfolio_age: float | None


def select_portfolio(
    read: PortfolioState | None, cache: LkgCache, now: float, policy: Policy
) -> PortfolioChoice:
    """Fresh (age < staleness) wins; else the newest known state while age < lkg_max_age."""
    if read is not None and now - read.timestamp < policy.staleness_seconds:
        return PortfolioChoice(read, "fresh", read)
    known = [s for s in (read, cache) if s is not None]
    newest = max(known, key=lambda s: s.timestamp) if known else None
    if newest is not None and now - newest.timestamp < policy.lkg_max_age_seconds:
        return PortfolioChoice(newest, "lkg", newest)
    return PortfolioChoice(None, "none", newest)


def fresh_value(stamped: Stamped | None, now: float, max_age: float) -> float | None:
    """The value if younger than ``max_age``; stale counts as missing."""
    if stamped is None or now - stamped.ts >= max_age:
        return None
    return stamped.value


def decide(inputs: CycleInputs, cache: LkgCache, now: float, policy: Policy) -> Decision:
    """Budgets for every symbol, or none at all when the portfolio state is too old."""
    stale: list[InputType] = []
    choice = select_portfolio(inputs.portfolio, cache, now, policy)
    if choice.source != "fresh":
        stale.append("portfolio_state")
    state = choice.state
    if state is None:
        return Decision("none", choice.cache, (), tuple(stale), None)

    heat = fresh_value(inputs.heat, now, policy.heat_stale_seconds)
    if heat is None:
        stale.append("portfolio_heat")
    cluster = fresh_value(inputs.cluster, now, policy.cluster_stale_seconds)
    if cluster is None:
        stale.append("cluster_stress")
    markets = inputs.markets or {}
    budgets = []
    for symbol in inputs.symbols:
        vol = formula.vol_level(markets.get(symbol))
        if vol is None:
            stale.append("vol_regime")
            vol = formula.VOL_FALLBACK
        budgets.append(
            _budget(
                symbol,
                state,
                heat=heat or 0.0,
                cluster=cluster or 0.0,
                vol=vol,
                now=now,
                policy=policy,
            )
        )
    return Decision(
        choice.source, choice.cache, tuple(budgets), tuple(stale), now - state.timestamp
    )


def _budget(
    symbol: str,
    state: PortfolioState,
    *,
    heat: float,
    cluster: float,
    vol: float,
    now: float,
    policy: Policy,
) -> Budget:
    stress = formula.stress_factor(
        drawdown_pct=state.drawdown_pct,
        max_drawdown_pct=policy.max_drawdown_pct,
        heat=heat,
        cluster_stress=cluster,
        vol=vol,
    )
    return Budget(
        symbol=symbol,
        budget_usd=formula.budget_usd(state.equity_usd, policy.base_risk_pct, stress),
        stress_factor=stress,
        equity_usd=state.equity_usd,
        portfolio_heat=heat,
        cluster_stress=cluster,
        vol_regime=vol,
        mode=policy.mode,
        timestamp=int(now),
        base_risk_pct=policy.base_risk_pct,
    )
