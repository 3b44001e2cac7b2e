"""The governor's inputs as typed values, parsed from the Redis hashes that carry them.

Each hash is parsed by its one class in :mod:`..wire` (the same rules the gate and
clusters apply: finite numbers, timestamps in epoch seconds and not in the future).
Parsing here never raises: a malformed hash becomes ``None`` (the input is then
treated as missing, and its fallback applies) together with a problem the shell
counts in ``p28_malformed_input_total``. One bad field from an upstream writer must
cost one input for one cycle, never the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from ..wire import (
    BadEntry,
    ClusterStateHash,
    HeatHash,
    MarketStateHash,
    PortfolioStateHash,
)

T = TypeVar("T")

InputType = Literal["portfolio_state", "portfolio_heat", "cluster_stress", "vol_regime"]
INPUT_TYPES: tuple[InputType, ...] = (
    "portfolio_state",
    "portfolio_heat",
    "cluster_stress",
    "vol_regime",
)


@dataclass(frozen=True)
class PortfolioState:
    """``<prefix>:state:portfolio``, the primary input; ``timestamp`` is the producer's.

    ``equity_usd`` may be zero or negative (a blown account: budgets 0);
    ``drawdown_pct`` is a percent below the peak (5 means 5 %), either sign.
    """

    equity_usd: float
    drawdown_pct: float
    timestamp: float
    #: The writer said the drawdown is a percent (``drawdown_unit`` "pct").
    unit_stated: bool = False


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


def _parsed(raw: Mapping[str, str], read: Callable[[Mapping[str, str]], T]) -> Parsed[T]:
    """An absent hash is missing (no problem); a malformed one is missing with its problem."""
    if not raw:
        return Parsed(None)
    try:
        return Parsed(read(raw))
    except BadEntry as exc:
        return Parsed(None, (str(exc),))


def parse_portfolio(raw: Mapping[str, str], now: float) -> Parsed[PortfolioState]:
    """Fields equity_usd (any finite number), drawdown (percent below peak), timestamp.

    A negative equity is a fact, not a malformed value: rejecting it would let the
    last-known-good state (a positive equity) keep budgets open on a blown account.
    """

    def read(fields: Mapping[str, str]) -> PortfolioState:
        state = PortfolioStateHash.parse(fields, now)
        stated = state.drawdown_unit is not None
        return PortfolioState(state.equity_usd, state.drawdown, state.timestamp, stated)

    return _parsed(raw, read)


def parse_heat(raw: Mapping[str, str], now: float) -> Parsed[Stamped]:
    """The gate's heat hash: heat in [0, 1] and when it was computed."""

    def read(fields: Mapping[str, str]) -> Stamped:
        heat = HeatHash.parse(fields, now)
        return Stamped(value=heat.heat, ts=heat.ts)

    return _parsed(raw, read)


def parse_cluster(raw: Mapping[str, str], now: float) -> Parsed[Stamped]:
    """The clusters worker's state: ClusterStress in [0, 1] and when it was computed."""

    def read(fields: Mapping[str, str]) -> Stamped:
        cluster = ClusterStateHash.parse(fields, now)
        return Stamped(value=cluster.cluster_stress, ts=cluster.updated_ts)

    return _parsed(raw, read)


def parse_market(raw: Mapping[str, str]) -> Parsed[MarketState]:
    """The regime label and/or sigma; a hash with any bad field is unusable as a whole
    (its writer is broken, and the governor has a fallback for a missing regime)."""

    def read(fields: Mapping[str, str]) -> MarketState:
        market = MarketStateHash.parse(fields, None)
        return MarketState(vol_regime=market.vol_regime, sigma=market.sigma)

    return _parsed(raw, read)


def drawdown_looks_like_a_fraction(state: PortfolioState) -> bool:
    """True for 0 < |drawdown| < 1 with no unit stated: likely a fraction (0.05) where a
    percent (5) is due.

    A genuine drawdown under 1 % also matches, so the shell only warns about it, and
    not when the writer stated the unit (every paper stack's ledger writes 0.0006 %).
    """
    return not state.unit_stated and 0.0 < abs(state.drawdown_pct) < 1.0
