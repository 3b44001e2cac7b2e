"""The governor's per-symbol budget hash, ``<prefix>:portfolio:budget:{SYMBOL}`` (TTL).

Fields as seed 002 lists them; the governor writes it, the bots read ``budget_usd`` and
``mode`` before an entry. ``base_risk_pct`` is held in percent (the setting's unit) and
written as a fraction (0.02 for 2 %), as the old P2.8 service wrote its BASE_RISK_PCT:
the desk's panels read that unit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """One ``<prefix>:portfolio:budget:{SYMBOL}`` hash, fields as seed 002 lists them."""

    symbol: str
    budget_usd: float
    stress_factor: float
    equity_usd: float
    portfolio_heat: float
    cluster_stress: float
    vol_regime: float
    mode: str
    timestamp: int
    base_risk_pct: float

    def fields(self) -> dict[str, str]:
        return {
            "symbol": self.symbol,
            "budget_usd": repr(self.budget_usd),
            "stress_factor": repr(self.stress_factor),
            "equity_usd": repr(self.equity_usd),
            "portfolio_heat": repr(self.portfolio_heat),
            "cluster_stress": repr(self.cluster_stress),
            "vol_regime": repr(self.vol_regime),
            "mode": self.mode,
            "timestamp": str(self.timestamp),
            "base_risk_pct": repr(self.base_risk_pct / 100.0),  # a fraction, as the old P2.8
        }
