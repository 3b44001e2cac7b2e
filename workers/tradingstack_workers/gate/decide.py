"""The P2.6 decision: permit or deny one proposal. Pure: no Redis, no clock, no metrics.

Figures (each in [0, 1]; seed 001 logs them as
``heat=1.000, conc=1.000, corr_proxy=1.000, K=0.748 (cluster), stress=0.962``).
With e_s the signed USD exposure of symbol s (position_amt * mark_price),
G = sum |e_s| (gross) and E the account equity:

* ``heat = min(1, (G / E) / leverage_cap)``: gross leverage as a share of the most
  the desk accepts (default 3x). Unknown equity (missing, <= 0) counts as no
  headroom: heat 1 whenever anything is held.
* ``conc = max_s |e_s| / G``: the largest position's share of gross exposure. Max
  share rather than Herfindahl because it is what a limit is read as ("40 % of the
  book is BTC") and it cannot be diluted by adding small positions around one big one
  (HHI of 60 % + 8 x 5 % is 0.38; max share says 0.60).
* ``corr_proxy = |sum_s e_s| / G``: the share of gross exposure that points the same
  way. It assumes every pair is perfectly correlated (crude, but near the truth for
  crypto books) so longs and shorts offset: all long is 1, a balanced hedge 0.
* ``K``: ClusterStress from cluster_state when ``-future_skew <= now - updated_ts <=
  cluster_stale_seconds`` (120 s; exactly 120 s is still fresh) and the value is a
  finite number in [0, 1]; otherwise ``corr_proxy``. ``k_source`` says which, and
  ``k_fallback`` why the cluster value was not used (missing, stale, future, invalid).
* ``stress = w_heat * heat + w_conc * conc + w_k * K`` with weights summing to 1
  (0.50, 0.35, 0.15), so stress stays in [0, 1]. The weights reproduce seed 001's
  line (1, 1, 0.748 -> 0.962). Shape terms alone (conc, K) reach at most 0.50, below
  the default limit: a small book is never denied for its shape, only for shape
  together with size.

Decision, in this order (figures are those after the proposed trade fills):

1. A reducing trade (opposite side to the position, qty no larger than it) is always
   permitted (``reducing``): lowering exposure must never be blocked by the gate, even
   when the gate's inputs are stale. A trade that flips the position is not reducing.
2. Deny ``proposal_expired`` when the proposal is older than ``max_proposal_age_s``:
   after a backlog, its bot has moved on and the market with it.
3. Deny ``equity_unknown`` (no equity) or ``portfolio_stale`` (portfolio state older
   than ``portfolio_stale_s``, 30 s): without equity, heat means nothing (fail closed).
4. Deny ``heat_limit`` when heat after > ``max_heat`` (0.90).
5. Deny ``stress_limit`` when stress after > ``max_stress`` (0.85).
6. Otherwise permit (``ok``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from ..wire.proposal import KSource, Proposal

#: A position smaller than this (in units) is flat; float noise must not look like one.
_FLAT = 1e-12


@dataclass(frozen=True)
class Position:
    symbol: str
    amt: float  # signed units: > 0 long, < 0 short
    mark_price: float
    ts: float

    @property
    def exposure(self) -> float:
        return self.amt * self.mark_price


@dataclass(frozen=True)
class ClusterState:
    cluster_stress: float
    clusters_count: int
    updated_ts: float


@dataclass(frozen=True)
class PortfolioView:
    """What the gate knows when a proposal is judged; every input is a value here."""

    equity_usd: float | None
    equity_ts: float | None
    positions: Mapping[str, Position]
    cluster: ClusterState | None
    now: float


@dataclass(frozen=True)
class GateLimits:
    leverage_cap: float = 3.0
    max_heat: float = 0.90
    max_stress: float = 0.85
    w_heat: float = 0.50
    w_conc: float = 0.35
    w_k: float = 0.15
    cluster_stale_s: float = 120.0
    cluster_future_skew_s: float = 5.0
    portfolio_stale_s: float = 30.0
    max_proposal_age_s: float = 60.0


@dataclass(frozen=True)
class Figures:
    heat: float
    conc: float
    corr_proxy: float


@dataclass(frozen=True)
class Verdict:
    permit: bool
    reason: str
    heat: float
    conc: float
    corr_proxy: float
    k: float
    k_source: KSource
    stress: float
    #: Heat of the book as it is now (published for the governor).
    heat_now: float
    k_fallback: str | None = None


def figures(exposures: Mapping[str, float], equity: float | None, leverage_cap: float) -> Figures:
    """heat, conc and corr_proxy of a book of signed USD exposures (see module doc)."""
    gross = sum(abs(e) for e in exposures.values())
    if gross <= 0:
        return Figures(0.0, 0.0, 0.0)
    no_equity = equity is None or equity <= 0
    heat = 1.0 if no_equity else min(1.0, gross / cast(float, equity) / leverage_cap)
    conc = max(abs(e) for e in exposures.values()) / gross
    corr_proxy = min(1.0, abs(sum(exposures.values())) / gross)
    return Figures(heat, conc, corr_proxy)


def correlation_k(
    view: PortfolioView, corr_proxy: float, limits: GateLimits
) -> tuple[float, KSource, str | None]:
    """K, its source, and why the cluster value was not used (None when it was)."""
    cluster = view.cluster
    if cluster is None:
        return corr_proxy, "proxy", "missing"
    age = view.now - cluster.updated_ts
    if age > limits.cluster_stale_s:
        return corr_proxy, "proxy", "stale"
    if age < -limits.cluster_future_skew_s:
        return corr_proxy, "proxy", "future"
    stress = cluster.cluster_stress
    if not math.isfinite(stress) or not 0.0 <= stress <= 1.0:
        return corr_proxy, "proxy", "invalid"
    return stress, "cluster", None


def stress_of(fig: Figures, k: float, limits: GateLimits) -> float:
    value = limits.w_heat * fig.heat + limits.w_conc * fig.conc + limits.w_k * k
    return min(1.0, max(0.0, value))


def is_reducing(proposal: Proposal, position: Position | None) -> bool:
    """Opposite side to a held position and no larger than it (closing or shrinking)."""
    if position is None or abs(position.amt) <= _FLAT:
        return False
    opposite = (position.amt > 0) != (proposal.signed_qty > 0)
    return opposite and proposal.qty <= abs(position.amt) * (1 + 1e-9)


def _book_after(proposal: Proposal, view: PortfolioView) -> dict[str, float]:
    book = {s: p.exposure for s, p in view.positions.items()}
    held = view.positions.get(proposal.symbol)
    price = held.mark_price if held is not None else proposal.price
    amt = (held.amt if held is not None else 0.0) + proposal.signed_qty
    book[proposal.symbol] = 0.0 if abs(amt) <= _FLAT else amt * price
    return {s: e for s, e in book.items() if e != 0.0}


def _denial(
    proposal: Proposal, view: PortfolioView, limits: GateLimits, fig: Figures, stress: float
) -> str | None:
    if view.now - proposal.ts > limits.max_proposal_age_s:
        return "proposal_expired"
    if view.equity_usd is None or view.equity_usd <= 0:
        return "equity_unknown"
    if view.equity_ts is None or view.now - view.equity_ts > limits.portfolio_stale_s:
        return "portfolio_stale"
    if fig.heat > limits.max_heat:
        return "heat_limit"
    if stress > limits.max_stress:
        return "stress_limit"
    return None


def decide(proposal: Proposal, view: PortfolioView, limits: GateLimits) -> Verdict:
    """Permit or deny, with the reason and the figures that led there."""
    now_book = {s: p.exposure for s, p in view.positions.items()}
    heat_now = figures(now_book, view.equity_usd, limits.leverage_cap).heat
    fig = figures(_book_after(proposal, view), view.equity_usd, limits.leverage_cap)
    k, source, fallback = correlation_k(view, fig.corr_proxy, limits)
    stress = stress_of(fig, k, limits)
    if is_reducing(proposal, view.positions.get(proposal.symbol)):
        reason: str | None = None
        label = "reducing"
    else:
        reason = _denial(proposal, view, limits, fig, stress)
        label = reason or "ok"
    return Verdict(
        permit=reason is None,
        reason=label,
        heat=fig.heat,
        conc=fig.conc,
        corr_proxy=fig.corr_proxy,
        k=k,
        k_source=source,
        stress=stress,
        heat_now=heat_now,
        k_fallback=fallback,
    )
