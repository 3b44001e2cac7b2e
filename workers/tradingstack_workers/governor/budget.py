"""The budget formula: how much new risk, in USD, each symbol may carry.

::

    base_usd      = equity_usd * base_risk_pct / 100
    dd            = clamp(|drawdown_pct| / max_drawdown_pct, 0, 1)
    market_stress = 0.4 * heat + 0.4 * cluster_stress + 0.2 * vol_regime      (each in [0, 1])
    stress_factor = 1 - (1 - dd) * (1 - market_stress)                        (in [0, 1])
    budget_usd    = base_usd * (1 - stress_factor) = base_usd * (1 - dd) * (1 - market_stress)

Why this shape:

* **Market stress is a weighted mean.** Portfolio heat (how much of the risk
  limit the book uses), cluster stress (how much of it sits in one correlated
  cluster) and the volatility regime are three views of one condition: a
  volatility spike raises all three at once. Multiplying them would count that
  one event three times; a mean counts it once. The default weights (0.4 / 0.4 /
  0.2) and the sigma cut-offs below are the old P2.8 service's defaults (its
  ALPHA_HEAT, BETA_CLUSTER, GAMMA_VOL settings), not seed 002's text, which names
  the inputs but no formula. They are settings here (``TS_HEAT_WEIGHT``,
  ``TS_CLUSTER_WEIGHT``, ``TS_VOL_WEIGHT``, rendered from the spec's
  ``workers.governor.stressWeights``), validated to sum to 1 so the mean stays in
  [0, 1] without clipping. The book's own crowding weighs most, the
  market-wide regime least, also because its unknown-input fallback (0.33, NORMAL)
  then costs a standing haircut of only 6.6 %.
* **Drawdown multiplies.** It measures something else: the account's capacity
  to take losses, whatever the market does. As in constant-proportion
  portfolio insurance, risk is kept proportional to the cushion left above the
  stop-out floor (peak equity less ``max_drawdown_pct``), which falls linearly
  with the drawdown and reaches zero at the floor: no new risk there. The old
  service's formula ignored drawdown although it read it. ``drawdown`` is a
  percent (seed 002): 5 means 5 %; a producer writing the fraction 0.05 gets
  0.05 % (the worker logs a warning when it sees 0 < |drawdown| < 1).
* **Bounds and monotonicity follow from the shape.** Both factors lie in [0, 1]
  and neither increases with any stress input, so the budget lies in
  [0, base_usd] and never increases when any input rises. Inputs outside [0, 1]
  are clamped first (clamping is monotone too). The old service's absolute floor
  and cap (500 / 10 000 USD) are gone: a 500 USD floor let a small account put a
  large share of its equity in one symbol, and a floor above zero defeats the
  drawdown stop. Equity at or below zero gives 0 (a blown account).
* **An aggregate cap.** Each symbol may carry ``base_risk_pct`` of equity, so N
  symbols could carry N times that. When the per-symbol budgets add up to more
  than ``total_risk_pct`` of equity (10 % by default), every one is scaled by
  the same factor so that their sum is exactly the cap: the ranking between
  symbols stays, the total is bounded.

On the wire (the budget hash) ``base_risk_pct`` is a *fraction* (0.02 for 2 %), as
the old P2.8 service wrote its BASE_RISK_PCT; the setting and the CRD field stay in
percent (``2.0``), like ``max_drawdown_pct``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from ..wire.ledger import EXTREME_SIGMA, HIGH_SIGMA, LOW_SIGMA
from .inputs import MarketState


@dataclass(frozen=True)
class Weights:
    """Weights of heat, cluster stress and volatility in market stress; they sum to 1."""

    heat: float = 0.4
    cluster: float = 0.4
    vol: float = 0.2


DEFAULT_WEIGHTS = Weights()

#: vol_regime labels normalised to [0, 1] (seed 002's scale).
VOL_LEVELS: dict[str, float] = {
    "LOW_VOL": 0.0,
    "NORMAL_VOL": 0.33,
    "HIGH_VOL": 0.67,
    "EXTREME_VOL": 1.0,
}
#: Used when the market state gives neither a regime nor a sigma.
VOL_FALLBACK = VOL_LEVELS["NORMAL_VOL"]


def _unit(x: float) -> float:
    return min(1.0, max(0.0, x))


def vol_level(market: MarketState | None) -> float | None:
    """The normalised volatility regime: the label when given, else sigma, else None."""
    if market is None:
        return None
    if market.vol_regime is not None:
        return VOL_LEVELS[market.vol_regime]
    sigma = market.sigma
    if sigma is None:
        return None
    if sigma > EXTREME_SIGMA:
        return VOL_LEVELS["EXTREME_VOL"]
    if sigma > HIGH_SIGMA:
        return VOL_LEVELS["HIGH_VOL"]
    if sigma < LOW_SIGMA:
        return VOL_LEVELS["LOW_VOL"]
    return VOL_LEVELS["NORMAL_VOL"]


def drawdown_factor(drawdown_pct: float, max_drawdown_pct: float) -> float:
    """Share of the stop-out cushion used; either sign means 'below the peak'."""
    return _unit(abs(drawdown_pct) / max_drawdown_pct)


def market_stress(
    heat: float, cluster_stress: float, vol: float, weights: Weights = DEFAULT_WEIGHTS
) -> float:
    w = weights
    return _unit(w.heat * _unit(heat) + w.cluster * _unit(cluster_stress) + w.vol * _unit(vol))


def stress_factor(
    *,
    drawdown_pct: float,
    max_drawdown_pct: float,
    heat: float,
    cluster_stress: float,
    vol: float,
    weights: Weights = DEFAULT_WEIGHTS,
) -> float:
    """The composite stress in [0, 1]; the budget keeps ``1 - stress_factor`` of its base."""
    keep = (1.0 - drawdown_factor(drawdown_pct, max_drawdown_pct)) * (
        1.0 - market_stress(heat, cluster_stress, vol, weights)
    )
    return _unit(1.0 - keep)


def budget_usd(equity_usd: float, base_risk_pct: float, stress: float) -> float:
    """Never negative: a negative budget has no meaning to the bots."""
    return max(0.0, equity_usd) * base_risk_pct / 100.0 * (1.0 - _unit(stress))


def cap_total(budgets: Sequence[float], equity_usd: float, total_risk_pct: float) -> list[float]:
    """Scale ``budgets`` down by one factor when their sum passes ``total_risk_pct`` of equity."""
    cap = max(0.0, equity_usd) * total_risk_pct / 100.0
    total = sum(budgets)
    if total <= cap:
        return list(budgets)
    # A few ulps under the exact factor, so float rounding cannot lift the sum over the cap.
    scale = cap / total * (1.0 - 4.0 * len(budgets) * sys.float_info.epsilon)
    return [b * scale for b in budgets]
