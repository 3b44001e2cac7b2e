"""The P2.6 decision: permit or deny one proposal. Pure: no Redis, no clock, no metrics.

Figures (each in [0, 1]; seed 001 logs them as
``heat=1.000, conc=1.000, corr_proxy=1.000, K=0.748 (cluster), stress=0.962``).
With e_s the signed USD exposure of symbol s (position_amt * mark_price),
G = sum |e_s| (gross), E the account equity and C = E * leverage_cap the book's
risk capacity (default 3x equity):

* ``heat = min(1, G / C)``: gross leverage as a share of the most the desk accepts.
* ``conc = min(1, max_s |e_s| / C)``: the largest single position's share of the
  capacity (its own heat). A share of *capacity*, not of the gross book: adding to
  a small position would dilute a share of the book (max share or Herfindahl both
  fall), so a bigger book could score as safer; a share of capacity never falls
  when a position grows. A single position at the cap scores 1, as in seed 001.
* ``corr_proxy = min(1, |sum_s e_s| / C)``: the net one-way exposure as a share of
  capacity. It assumes every pair is perfectly correlated (crude, but near the truth
  for crypto books) so longs and shorts offset: a balanced hedge scores 0.
* Unknown equity (missing or <= 0) means no capacity: every figure is 1 whenever
  anything is held (and the proposal is denied ``equity_unknown`` unless it reduces).
* ``K``: ClusterStress from cluster_state when it is fresh (:mod:`..runtime.freshness`:
  ``-5 s <= now - updated_ts <= cluster_stale_seconds``, 120 s inclusive), a finite
  number in [0, 1], and it covers the book after the trade (every symbol held then is
  among the state's ``symbols``); ``corr_proxy`` when it is missing, stale, from the
  future or invalid. A fresh state that does not cover the book (a new symbol, or a
  state from an older writer without ``symbols``) gives ``max(ClusterStress,
  corr_proxy)``: a proposal adding a symbol the clusters worker has not correlated
  yet is judged at least as strictly as by the proxy (review D4). ``k_source`` says
  which value K is, ``k_fallback`` why the cluster value was not used as is
  (missing, stale, future, invalid, uncovered; degraded when a symbol of the book is
  not covered because its feed froze and clusters left it out).
* ``stress = min(1, w_heat * G / C + w_conc * conc + w_k * K)`` with weights summing
  to 1 (0.50, 0.35, 0.15) and ``w_heat >= w_k``. The heat term is not capped at 1
  inside the sum, so the stress never falls when a proposal adds to a position: the
  heat term rises by ``w_heat * d / C`` for ``d`` USD added, conc never falls and K
  falls by at most ``w_k * d / C`` (the proxy of a hedge leg growing). The weights
  reproduce seed 001's line (1, 1, 0.748 -> 0.962).

Exposure counts what is held and what granted permits still reserve
(:mod:`.reservations`): per symbol the position that the outstanding reservations
may make of it, whichever of their subsets fills, at its larger magnitude.

Decision, in this order (figures are those after the proposed trade fills):

1. A reducing trade (opposite side to the position, qty no larger than it) is always
   permitted (``reducing``): lowering exposure must never be blocked by the gate, even
   when the gate's inputs are stale. A trade that flips the position is not reducing
   (the bots send a flip as an exit and a separate entry).
2. Deny ``proposal_expired`` when the proposal is not fresh: older than
   ``max_proposal_age_s`` (after a backlog its bot has moved on, and the market with
   it), or stamped more than 5 s ahead (a millisecond timestamp).
3. Deny ``equity_unknown`` (no equity) or ``portfolio_stale`` (portfolio state not
   fresh by the same rule, 30 s): without equity, heat means nothing (fail closed).
4. Deny ``snapshot_malformed`` when a position snapshot could not be read: the book,
   and so every figure, is unknown (fail closed; review D7).
5. Deny ``heat_limit`` when heat after > ``max_heat`` (0.90).
6. Deny ``stress_limit`` when stress after > ``max_stress`` (0.85).
7. Otherwise permit (``ok``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from ..runtime.freshness import is_fresh, is_future
from ..wire.proposal import KSource, Proposal
from .book import FLAT, Book, gaps
from .figures import Figures, figures_of
from .reservations import Reserved


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
    #: The symbols the stress was computed over; None from a writer that does not say.
    symbols: frozenset[str] | None = None
    #: Symbols clusters left out because their feed froze (a subset of the uncovered).
    frozen: tuple[str, ...] = ()


@dataclass(frozen=True)
class PortfolioView:
    """What the gate knows when a proposal is judged; every input is a value here."""

    equity_usd: float | None
    equity_ts: float | None
    positions: Mapping[str, Position]
    cluster: ClusterState | None
    now: float
    #: Symbols whose snapshot exists but could not be read.
    unreadable: frozenset[str] = field(default_factory=frozenset)
    #: Unexpired reservations of granted permits, by symbol.
    reserved: Mapping[str, Reserved] = field(default_factory=dict)


@dataclass(frozen=True)
class GateLimits:
    leverage_cap: float = 3.0
    max_heat: float = 0.90
    max_stress: float = 0.85
    w_heat: float = 0.50
    w_conc: float = 0.35
    w_k: float = 0.15
    cluster_stale_s: float = 120.0
    portfolio_stale_s: float = 30.0
    max_proposal_age_s: float = 60.0


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


def correlation_k(
    view: PortfolioView, book: Collection[str], corr_proxy: float, limits: GateLimits
) -> tuple[float, KSource, str | None]:
    """K, its source, and why the cluster value was not used as is (None when it was)."""
    cluster = view.cluster
    covered, frozen = (None, ()) if cluster is None else (cluster.symbols, cluster.frozen)
    return _k(view, corr_proxy, limits, *gaps(book, covered, frozen))


def _k(
    view: PortfolioView, corr_proxy: float, limits: GateLimits, uncovered: bool, frozen: bool
) -> tuple[float, KSource, str | None]:
    """:func:`correlation_k` of a book after whose :func:`~.book.gaps` are given."""
    cluster = view.cluster
    if cluster is None:
        return corr_proxy, "proxy", "missing"
    if is_future(cluster.updated_ts, view.now):
        return corr_proxy, "proxy", "future"
    if not is_fresh(cluster.updated_ts, view.now, limits.cluster_stale_s):
        return corr_proxy, "proxy", "stale"
    stress = cluster.cluster_stress
    if not math.isfinite(stress) or not 0.0 <= stress <= 1.0:
        return corr_proxy, "proxy", "invalid"
    if uncovered:
        # "degraded" says why a symbol is not covered: its feed froze and clusters left it
        # out (case 07); the figure is the same as for any symbol not covered.
        why = "degraded" if frozen else "uncovered"
        if corr_proxy > stress:
            return corr_proxy, "proxy", why
        return stress, "cluster", why
    return stress, "cluster", None


def stress_of(fig: Figures, k: float, limits: GateLimits) -> float:
    load = max(fig.load, fig.heat)
    value = limits.w_heat * load + limits.w_conc * fig.conc + limits.w_k * k
    return min(1.0, max(0.0, value))


def is_reducing(proposal: Proposal, position: Position | None) -> bool:
    """Opposite side to a held position and no larger than it (closing or shrinking)."""
    if position is None or abs(position.amt) <= FLAT:
        return False
    opposite = (position.amt > 0) != (proposal.signed_qty > 0)
    return opposite and proposal.qty <= abs(position.amt) * (1 + 1e-9)


def _denial(
    proposal: Proposal, view: PortfolioView, limits: GateLimits, fig: Figures, stress: float
) -> str | None:
    if not is_fresh(proposal.ts, view.now, limits.max_proposal_age_s):
        return "proposal_expired"
    if view.equity_usd is None or view.equity_usd <= 0:
        return "equity_unknown"
    if view.equity_ts is None or not is_fresh(view.equity_ts, view.now, limits.portfolio_stale_s):
        return "portfolio_stale"
    if view.unreadable:
        return "snapshot_malformed"
    if fig.heat > limits.max_heat:
        return "heat_limit"
    if stress > limits.max_stress:
        return "stress_limit"
    return None


def decide(
    proposal: Proposal, view: PortfolioView, limits: GateLimits, book: Book | None = None
) -> Verdict:
    """Permit or deny, with the reason and the figures that led there.

    ``book``: the view's :class:`~.book.Book` with the reservations of grants made since
    the view was read (a batch judged on one view); the view's own when None.
    """
    if book is None:
        book = Book(view, limits.leverage_cap)
    after = book.after(proposal)
    fig = figures_of(after.gross, after.net, after.largest, view.equity_usd, limits.leverage_cap)
    k, source, fallback = _k(view, fig.corr_proxy, limits, after.uncovered, after.frozen)
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
        heat_now=book.heat_now,
        k_fallback=fallback,
    )
