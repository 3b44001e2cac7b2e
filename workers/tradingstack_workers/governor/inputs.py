"""The governor's inputs as typed values, parsed from the Redis hashes that carry them.

Parsing is pure and never raises: a malformed hash becomes ``None`` (the input is
then treated as missing, and its fallback applies) together with a problem the
shell counts in ``p28_malformed_input_total``. One bad field from an upstream
writer must cost one input for one cycle, never the loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from ..runtime.freshness import FUTURE_SKEW_SECONDS, is_future
from ..wire.ledger import VOL_REGIMES

T = TypeVar("T")

InputType = Literal["portfolio_state", "portfolio_heat", "cluster_stress", "vol_regime"]
INPUT_TYPES: tuple[InputType, ...] = (
    "portfolio_state",
    "portfolio_heat",
    "cluster_stress",
    "vol_regime",
)

#: A timestamp further ahead than this is wrong (milliseconds, a broken clock), not skew:
#: trusted, it would keep a state "fresh" forever (the one rule, :mod:`..runtime.freshness`).
MAX_FUTURE_SKEW_SECONDS = FUTURE_SKEW_SECONDS


@dataclass(frozen=True)
class PortfolioState:
    """``<prefix>:state:portfolio``, the primary input; ``timestamp`` is the producer's.

    ``equity_usd`` may be zero or negative (a blown account: budgets 0);
    ``drawdown_pct`` is a percent below the peak (5 means 5 %), either sign.
    """

    equity_usd: float
    drawdown_pct: float
    timestamp: float


@dataclass(frozen=True)
class Stamped:
    """A value in [0, 1] with the time its producer wrote it (heat, cluster stress)."""

    value: float
    ts: float


@dataclass(frozen=True)
class MarketState:
    """``<prefix>:state:market:{SYMBOL}``: either field may be absent."""

    vol_regime: str | None
    sigma: float | None


@dataclass(frozen=True)
class Parsed(Generic[T]):
    """A parsed input, or None with the reasons it was rejected."""

    value: T | None
    problems: tuple[str, ...] = field(default=())


class _Bad(ValueError):
    pass


def _number(raw: Mapping[str, str], name: str) -> float:
    text = raw.get(name)
    if text is None:
        raise _Bad(f"{name} missing")
    try:
        value = float(text)
    except ValueError:
        raise _Bad(f"{name}={text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise _Bad(f"{name}={text[:40]!r} is not finite")
    return value


def _timestamp(raw: Mapping[str, str], name: str, now: float) -> float:
    ts = _number(raw, name)
    if is_future(ts, now):
        raise _Bad(f"{name}={ts:.0f} is {ts - now:.0f} s in the future")
    return ts


def parse_portfolio(raw: Mapping[str, str], now: float) -> Parsed[PortfolioState]:
    """Fields equity_usd (any finite number), drawdown (percent below peak), timestamp.

    A negative equity is a fact, not a malformed value: rejecting it would let the
    last-known-good state (a positive equity) keep budgets open on a blown account.
    """
    if not raw:
        return Parsed(None)
    try:
        equity = _number(raw, "equity_usd")
        state = PortfolioState(
            equity_usd=equity,
            drawdown_pct=_number(raw, "drawdown"),
            timestamp=_timestamp(raw, "timestamp", now),
        )
    except _Bad as exc:
        return Parsed(None, (str(exc),))
    return Parsed(state)


def parse_stamped(
    raw: Mapping[str, str], value_field: str, ts_field: str, now: float
) -> Parsed[Stamped]:
    """A stress-like value clamped into [0, 1] (clamping keeps the budget monotone)."""
    if not raw:
        return Parsed(None)
    try:
        value = _number(raw, value_field)
        ts = _timestamp(raw, ts_field, now)
    except _Bad as exc:
        return Parsed(None, (str(exc),))
    return Parsed(Stamped(value=min(1.0, max(0.0, value)), ts=ts))


def parse_market(raw: Mapping[str, str]) -> Parsed[MarketState]:
    """Keep whichever of vol_regime and sigma is usable; report the other as a problem."""
    if not raw:
        return Parsed(None)
    problems: list[str] = []
    regime: str | None = None
    sigma: float | None = None
    if "vol_regime" in raw:
        text = raw["vol_regime"].strip().upper()
        if text in VOL_REGIMES:
            regime = text
        else:
            problems.append(f"vol_regime={raw['vol_regime'][:40]!r} is not one of {VOL_REGIMES}")
    if "sigma" in raw:
        try:
            sigma = _number(raw, "sigma")
            if sigma < 0:
                sigma = None
                problems.append(f"sigma={raw['sigma'][:40]!r} is negative")
        except _Bad as exc:
            problems.append(str(exc))
    if regime is None and sigma is None:
        if not problems:
            problems.append("neither vol_regime nor sigma present")
        return Parsed(None, tuple(problems))
    return Parsed(MarketState(vol_regime=regime, sigma=sigma), tuple(problems))


def drawdown_looks_like_a_fraction(state: PortfolioState) -> bool:
    """True for 0 < |drawdown| < 1: likely a fraction (0.05) where a percent (5) is due.

    A genuine drawdown under 1 % also matches, so the shell only warns about it.
    """
    return 0.0 < abs(state.drawdown_pct) < 1.0
