"""The three hashes the bots' ledger writes: the inputs of clusters, gate and governor.

Defined once, here. Readers today parse the same fields in their own modules (the
lead may fold them onto these classes): ``gate/store.py`` ``parse_snapshot`` and
``read_view`` (portfolio ``equity_usd``, ``timestamp``), ``clusters/snapshots.py``
``parse_snapshot`` / ``FIELDS``, ``governor/inputs.py`` ``parse_portfolio`` and
``parse_market``. ``tests/integration/test_ledger.py`` parses what the
ledger writes with those readers' own functions.

Every value is text; floats use ``repr`` so they round-trip exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ...governor.inputs import VOL_REGIMES


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


def equity_usd(cash: float, positions: Mapping[str, float], marks: Mapping[str, float]) -> float:
    """Cash plus every position at its mark (a position without a mark is an error)."""
    missing = sorted(set(positions) - set(marks))
    if missing:
        raise ValueError(f"no mark price for held symbols: {', '.join(missing)}")
    return cash + sum(qty * marks[symbol] for symbol, qty in positions.items())


def drawdown_pct(equity: float, peak: float) -> float:
    """Percent below the peak, 0 at or above it (and when no peak is known)."""
    if peak <= 0 or equity >= peak:
        return 0.0
    return (peak - equity) / peak * 100.0
