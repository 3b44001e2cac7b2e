"""Property tests (hypothesis) of the gate's figures and stress: bounds, and no falling stress
when a proposal adds to a position (reviews/risk.md section 3, for every book, not five)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tradingstack_workers.gate.decide import (
    ClusterState,
    GateLimits,
    PortfolioView,
    Position,
    decide,
    stress_of,
)
from tradingstack_workers.gate.figures import Figures
from tradingstack_workers.wire.proposal import Proposal, Side

NOW = 1_800_000_000.0
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT")

units = st.floats(min_value=1e-6, max_value=1e4, allow_nan=False)
prices = st.floats(min_value=0.01, max_value=1e5, allow_nan=False)


@st.composite
def views(draw: st.DrawFn) -> PortfolioView:
    held = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=5, unique=True))
    positions = {
        s: Position(s, draw(st.sampled_from([-1.0, 1.0])) * draw(units), draw(prices), NOW)
        for s in held
    }
    kind = draw(st.sampled_from(["none", "covered", "partial", "unnamed", "stale"]))
    stress = draw(st.floats(min_value=0.0, max_value=1.0))
    covers: frozenset[str] | None = frozenset(SYMBOLS)
    if kind == "partial":
        covers = frozenset(draw(st.lists(st.sampled_from(SYMBOLS), max_size=4)))
    elif kind == "unnamed":
        covers = None
    age = 500.0 if kind == "stale" else 10.0
    cluster = None if kind == "none" else ClusterState(stress, 1, NOW - age, covers)
    equity = draw(st.floats(min_value=1.0, max_value=1e9))
    return PortfolioView(equity, NOW - 1, positions, cluster, NOW)


@st.composite
def weights(draw: st.DrawFn) -> GateLimits:
    """Any weights summing to 1 with w_heat >= w_k (the settings' rule)."""
    w_k = draw(st.floats(min_value=0.0, max_value=0.5))
    w_heat = draw(st.floats(min_value=w_k, max_value=1.0 - w_k))
    return GateLimits(w_heat=w_heat, w_conc=1.0 - w_heat - w_k, w_k=w_k)


def adding(view: PortfolioView, symbol: str, qty: float) -> Proposal:
    """A proposal that adds ``qty`` units to the held position in ``symbol`` (same side)."""
    held = view.positions[symbol]
    side: Side = "BUY" if held.amt > 0 else "SELL"
    price = held.mark_price
    return Proposal(proposal_id="p", bot="bot", strategy="s", symbol=symbol, side=side, qty=qty,
                    price=price, notional_usd=qty * price, ts=NOW)  # fmt: skip


@given(views(), weights(), st.data())
def test_every_figure_and_the_stress_stay_in_zero_one(
    view: PortfolioView, limits: GateLimits, data: st.DataObject
) -> None:
    symbol = data.draw(st.sampled_from(SYMBOLS))
    side: Side = data.draw(st.sampled_from(["BUY", "SELL"]))
    qty = data.draw(units)
    proposal = Proposal(proposal_id="p", bot="b", strategy="s", symbol=symbol, side=side,
                        qty=qty, price=10.0, notional_usd=qty * 10.0, ts=NOW)  # fmt: skip
    verdict = decide(proposal, view, limits)
    for value in (verdict.heat, verdict.conc, verdict.corr_proxy, verdict.k, verdict.stress):
        assert 0.0 <= value <= 1.0


@given(views(), weights(), st.data())
def test_stress_never_falls_when_a_proposal_adds_to_a_position(
    view: PortfolioView, limits: GateLimits, data: st.DataObject
) -> None:
    """Nothing added (a vanishing proposal) versus a small versus a large addition."""
    symbol = data.draw(st.sampled_from(sorted(view.positions)))
    small = data.draw(st.floats(min_value=1e-9, max_value=1e4))
    more = data.draw(st.floats(min_value=0.0, max_value=1e4))
    base = decide(adding(view, symbol, 1e-12), view, limits).stress
    first = decide(adding(view, symbol, small), view, limits).stress
    second = decide(adding(view, symbol, small + more), view, limits).stress
    assert base <= first + 1e-9
    assert first <= second + 1e-9


def test_seed_001_line_is_reproduced_from_its_figures() -> None:
    """heat 1, conc 1, K 0.748 -> stress 0.962 (seed 001's logged line), default weights."""
    assert round(stress_of(Figures(1.0, 1.0, 1.0), 0.748, GateLimits()), 3) == 0.962
