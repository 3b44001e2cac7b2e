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
  one event three times; a mean counts it once. The weights are seed 002's
  (0.4 / 0.4 / 0.2): the book's own crowding matters most, the market-wide
  regime least, also because its unknown-input fallback (0.33, NORMAL) then
  costs a standing haircut of only 6.6 %. They sum to 1, so no clipping is
  needed and the mean stays in [0, 1].
* **Drawdown multiplies.** It measures something else: the account's capacity
  to take losses, whatever the market does. As in constant-proportion
  portfolio insurance, risk is kept proportional to the cushion left above the
  stop-out floor (peak equity less ``max_drawdown_pct``), which falls linearly
  with the drawdown and reaches zero at the floor: no new risk there. The seed's
  formula ignored drawdown although it read it.
* **Bounds and monotonicity follow from the shape.** Both factors lie in [0, 1]
  and neither increases with any stress input, so the budget lies in
  [0, base_usd] and never increases when any input rises. Inputs outside [0, 1]
  are clamped first (clamping is monotone too). The seed's absolute floor and
  cap (500 / 10 000 USD) are gone: a 500 USD floor let a small account put a
  large share of its equity in one symbol, and a floor above zero defeats the
  drawdown stop.
"""

from __future__ import annotations

from ..wire.ledger import EXTREME_SIGMA, HIGH_SIGMA, LOW_SIGMA
from .inputs import MarketState

HEAT_WEIGHT = 0.4
CLUSTER_WEIGHT = 0.4
VOL_WEIGHT = 0.2

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


def market_stress(heat: float, cluster_stress: float, vol: float) -> float:
    return (
        HEAT_WEIGHT * _unit(heat) + CLUSTER_WEIGHT * _unit(cluster_stress) + VOL_WEIGHT * _unit(vol)
    )


def stress_factor(
    *, drawdown_pct: float, max_drawdown_pct: float, heat: float, cluster_stress: float, vol: float
) -> float:
    """The composite stress in [0, 1]; the budget keeps ``1 - stress_factor`` of its base."""
    keep = (1.0 - drawdown_factor(drawdown_pct, max_drawdown_pct)) * (
        1.0 - market_stress(heat, cluster_stress, vol)
    )
    return _unit(1.0 - keep)


def budget_usd(equity_usd: float, base_risk_pct: float, stress: float) -> float:
    """Never negative: a negative budget has no meaning to the bots."""
    return max(0.0, equity_usd) * base_risk_pct / 100.0 * (1.0 - _unit(stress))
