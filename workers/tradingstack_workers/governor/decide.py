"""One governor cycle as a pure function: inputs, the cache and ``now`` in; budgets out.

Inputs are ranked as seed 002 ranks them. The portfolio state is primary and has
no fallback value: without a trustworthy equity figure no budget is written
(fail-open: the bots trade without budgets rather than against invented ones).
A fresh state with equity at or below zero is trustworthy: the account is blown,
and every budget is 0 from that cycle on (not the last good state's).

The last-known-good (LKG) cache is a value passed in and returned, never hidden
state, so a test can walk a cycle sequence with any clock it likes. Its age is
the age of the *data* (the producer's timestamp), not of our copy: what limits
trust is how old the figure is. Freshness follows :mod:`..runtime.freshness`
(a value exactly at its limit is still fresh). Corrections to the seed:

* the seed re-checked the cached state against the 30 s staleness after taking
  it from the cache, so the cache never produced a budget; here an LKG state is
  used as long as it is at most ``lkg_max_age_seconds`` old;
* a stale state still in Redis is itself a last-known-good value. After a pod
  restart (frequent on Kubernetes) the in-memory cache is empty, and the seed
  then wrote nothing until the producer came back; here the newer of the cache
  and the stale Redis value stands in;
* heat and cluster stress (secondary inputs) are not taken as calm (0.0, seed 002)
  when they go missing or stale: that raised every budget exactly when an input
  failed (the clusters worker withdraws its state when it cannot compute one). The
  last known value stands in for the same LKG window as the portfolio state, and
  beyond it the input counts as fully stressed (1.0). The budget hash still carries
  the value used under the seed's field names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ..runtime.freshness import is_fresh
from ..wire.budget import Budget
from . import budget as formula
from .budget import DEFAULT_WEIGHTS, Weights
from .inputs import InputType, MarketState, PortfolioState, Stamped

Source = Literal["fresh", "lkg", "none"]
SOURCES: tuple[Source, ...] = ("fresh", "lkg", "none")

#: A heat or cluster stress unknown for longer than the LKG window counts as this.
UNKNOWN_STRESS = 1.0


@dataclass(frozen=True)
class LkgCache:
    """The newest value seen of each input that has a last-known-good fallback."""

    portfolio: PortfolioState | None = None
    heat: Stamped | None = None
    cluster: Stamped | None = None


EMPTY_CACHE = LkgCache()


@dataclass(frozen=True)
class Policy:
    """The governor's limits (from its settings), in seconds, percent and a mode."""

    mode: str = "enforce"
    staleness_seconds: float = 30.0
    lkg_max_age_seconds: float = 900.0
    heat_stale_seconds: float = 120.0
    cluster_stale_seconds: float = 120.0
    base_risk_pct: float = 2.0
    #: The sum of all symbols' budgets never exceeds this percent of equity.
    total_risk_pct: float = 10.0
    max_drawdown_pct: float = 20.0
    weights: Weights = DEFAULT_WEIGHTS


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
    cache: PortfolioState | None


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


def _newest(*values: PortfolioState | None) -> PortfolioState | None:
    known = [s for s in values if s is not None]
    return max(known, key=lambda s: s.timestamp) if known else None


def select_portfolio(
    read: PortfolioState | None, cache: PortfolioState | None, now: float, policy: Policy
) -> PortfolioChoice:
    """Fresh (age <= staleness) wins; else the newest known state while age <= lkg_max_age."""
    if read is not None and is_fresh(read.timestamp, now, policy.staleness_seconds):
        return PortfolioChoice(read, "fresh", read)
    newest = _newest(read, cache)
    if newest is not None and is_fresh(newest.timestamp, now, policy.lkg_max_age_seconds):
        return PortfolioChoice(newest, "lkg", newest)
    return PortfolioChoice(None, "none", newest)


@dataclass(frozen=True)
class Secondary:
    value: float
    fresh: bool
    cache: Stamped | None


def select_secondary(
    read: Stamped | None, cache: Stamped | None, now: float, max_age: float, lkg_max_age: float
) -> Secondary:
    """Fresh value; else the last known one within the LKG window; else :data:`UNKNOWN_STRESS`."""
    known = [s for s in (read, cache) if s is not None]
    newest = max(known, key=lambda s: s.ts) if known else None
    if newest is not None and is_fresh(newest.ts, now, max_age):
        return Secondary(newest.value, True, newest)
    if newest is not None and is_fresh(newest.ts, now, lkg_max_age):
        return Secondary(newest.value, False, newest)
    return Secondary(UNKNOWN_STRESS, False, newest)


def decide(inputs: CycleInputs, cache: LkgCache | None, now: float, policy: Policy) -> Decision:
    """Budgets for every symbol, or none at all when the portfolio state is too old."""
    cache = cache or EMPTY_CACHE
    stale: list[InputType] = []
    choice = select_portfolio(inputs.portfolio, cache.portfolio, now, policy)
    if choice.source != "fresh":
        stale.append("portfolio_state")
    lkg = policy.lkg_max_age_seconds
    heat = select_secondary(inputs.heat, cache.heat, now, policy.heat_stale_seconds, lkg)
    cluster = select_secondary(
        inputs.cluster, cache.cluster, now, policy.cluster_stale_seconds, lkg
    )
    new_cache = LkgCache(choice.cache, heat.cache, cluster.cache)
    state = choice.state
    if state is None:
        return Decision("none", new_cache, (), tuple(stale), None)
    if not heat.fresh:
        stale.append("portfolio_heat")
    if not cluster.fresh:
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
                heat=heat.value,
                cluster=cluster.value,
                vol=vol,
                now=now,
                policy=policy,
            )
        )
    capped = formula.cap_total(
        [b.budget_usd for b in budgets], state.equity_usd, policy.total_risk_pct
    )
    budgets = [replace(b, budget_usd=v) for b, v in zip(budgets, capped, strict=True)]
    return Decision(choice.source, new_cache, tuple(budgets), tuple(stale), now - state.timestamp)


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
        weights=policy.weights,
    )
    if state.equity_usd <= 0:
        stress = 1.0  # a blown account: no new risk whatever the market does
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
