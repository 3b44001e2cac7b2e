"""The three hashes the bots' ledger writes: the inputs of clusters, gate and governor.

Readers today parse the same fields in their own modules: ``gate/store.py``
``parse_snapshot`` and ``read_view`` (portfolio ``equity_usd``, ``timestamp``),
``clusters/snapshots.py`` ``parse_snapshot`` / ``FIELDS``, ``governor/inputs.py``
``parse_portfolio`` and ``parse_market``. ``tests/integration/test_ledger.py`` parses
what the ledger writes with those readers' own functions.

Every value is text; floats use ``repr`` so they round-trip exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

VOL_REGIMES = ("LOW_VOL", "NORMAL_VOL", "HIGH_VOL", "EXTREME_VOL")
#: sigma (per-period return standard deviation, a fraction) -> regime, the seed's cut-offs:
#: below LOW_SIGMA is LOW, above HIGH_SIGMA is HIGH, above EXTREME_SIGMA is EXTREME. The
#: bots write the label beside the sigma and the governor derives it from a bare sigma:
#: both read these.
LOW_SIGMA = 0.005
HIGH_SIGMA = 0.02
EXTREME_SIGMA = 0.03


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name}: {value!r} is not finite")
    return value


@dataclass(frozen=True)
class PositionSnapshot:
    """``Keys.snapshot(symbol)``: signed units held, the mark, when (epoch seconds)."""

    symbol: str
    position_amt: float
    mark_price: float
    ts_epoch: float

    def __post_init__(self) -> None:
        _finite("position_amt", self.position_amt)
        _finite("ts_epoch", self.ts_epoch)
        if not (_finite("mark_price", self.mark_price) > 0):
            raise ValueError(f"mark_price: {self.mark_price!r} must be above 0")

    def to_fields(self) -> dict[str, str]:
        return {
            "position_amt": repr(self.position_amt),
            "mark_price": repr(self.mark_price),
            "ts_epoch": repr(self.ts_epoch),
        }


@dataclass(frozen=True)
class PortfolioStateHash:
    """``Keys.portfolio_state``: equity, drawdown in percent below the peak (>= 0), time."""

    equity_usd: float
    drawdown_pct: float
    timestamp: float

    def __post_init__(self) -> None:
        _finite("equity_usd", self.equity_usd)
        _finite("drawdown", self.drawdown_pct)
        _finite("timestamp", self.timestamp)

    def to_fields(self) -> dict[str, str]:
        return {
            "equity_usd": repr(self.equity_usd),
            "drawdown": repr(self.drawdown_pct),
            "timestamp": repr(self.timestamp),
        }


@dataclass(frozen=True)
class MarketStateHash:
    """``Keys.market_state(symbol)``: the caller's regime label and/or sigma (a fraction)."""

    vol_regime: str | None = None
    sigma: float | None = None

    def __post_init__(self) -> None:
        if self.vol_regime is None and self.sigma is None:
            raise ValueError("market state needs vol_regime or sigma")
        if self.vol_regime is not None and self.vol_regime not in VOL_REGIMES:
            raise ValueError(f"vol_regime: {self.vol_regime!r} is not one of {VOL_REGIMES}")
        if self.sigma is not None and not (_finite("sigma", self.sigma) >= 0):
            raise ValueError(f"sigma: {self.sigma!r} must not be negative")

    def to_fields(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        if self.vol_regime is not None:
            fields["vol_regime"] = self.vol_regime
        if self.sigma is not None:
            fields["sigma"] = repr(self.sigma)
        return fields
