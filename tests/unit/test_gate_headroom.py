"""A batch's headroom (hypothesis): grants written elsewhere on held symbols within it
never turn one of its grants into a denial, whatever book, cluster state, weights and
other grants. (Grants on symbols the view does not hold are refused by the write
script whatever their size: tests/integration/test_gate_batches.py.)"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import assume, given
from hypothesis import strategies as st
from tests.unit.test_gate_properties import NOW, SYMBOLS, prices, views, weights

from tradingstack_workers.gate.decide import GateLimits, PortfolioView, Position, decide
from tradingstack_workers.gate.reservations import NOTHING, add, headroom_usd
from tradingstack_workers.wire import Proposal, Reservation
from tradingstack_workers.wire.proposal import Side


def granted_elsewhere(
    view: PortfolioView, symbol: str, qty: float, price: float, pid: str
) -> tuple[PortfolioView, float]:
    """``view`` with another replica's grant added, and the USD it counts that grant for
    (the gate's rule: the larger of its price and the symbol's mark)."""
    held = view.positions.get(symbol)
    usd = abs(qty) * max(price, held.mark_price if held is not None else 0.0)
    r = Reservation(pid, symbol, qty, price, NOW + 60)
    reserved = dict(view.reserved)
    reserved[symbol] = add(reserved.get(symbol, NOTHING), r)
    return replace(view, reserved=reserved), usd


@given(views(), weights(), st.data())
def test_grants_within_the_headroom_leave_every_grant_a_grant(
    view: PortfolioView, limits: GateLimits, data: st.DataObject
) -> None:
    symbol = data.draw(st.sampled_from(SYMBOLS))
    side: Side = data.draw(st.sampled_from(["BUY", "SELL"]))
    qty = data.draw(st.floats(min_value=1e-6, max_value=1e3))
    proposal = Proposal(proposal_id="p", bot="b", strategy="s", symbol=symbol, side=side,
                        qty=qty, price=10.0, notional_usd=qty * 10.0, ts=NOW)  # fmt: skip
    verdict = decide(proposal, view, limits)
    assume(verdict.permit and verdict.reason == "ok")
    assert view.equity_usd is not None
    room = headroom_usd(verdict, view.equity_usd, limits)
    assume(room > 0)
    others, spent = view, 0.0
    for i in range(data.draw(st.integers(min_value=1, max_value=4))):
        other = data.draw(st.sampled_from(sorted(view.positions)))
        sign = data.draw(st.sampled_from([-1.0, 1.0]))
        price = data.draw(prices)
        held = others.positions.get(other)
        worth = max(price, held.mark_price if held is not None else 0.0)
        share = data.draw(st.floats(min_value=0.0, max_value=1.0))
        budget = (room - spent) * share
        assume(budget / worth > 1e-9)
        others, usd = granted_elsewhere(others, other, sign * budget / worth, price, f"o{i}")
        spent += usd
    assert spent <= room * (1 + 1e-9)
    again = decide(proposal, others, limits)
    assert again.permit, (again.reason, again.heat, again.stress, room, spent)


def test_no_room_left_at_the_limit() -> None:
    # Heat exactly at the limit after the grant: nothing more may be granted elsewhere.
    view = PortfolioView(10_000.0, NOW, {}, None, NOW)
    limits = GateLimits(max_stress=1.0)
    qty = 0.9 * 3 * 10_000.0 / 100.0
    proposal = Proposal(proposal_id="p", bot="b", strategy="s", symbol="BTCUSDT", side="BUY",
                        qty=qty, price=100.0, notional_usd=qty * 100.0, ts=NOW)  # fmt: skip
    verdict = decide(proposal, view, limits)
    assert verdict.permit
    assert abs(headroom_usd(verdict, 10_000.0, limits)) < 1e-6


def test_a_grant_filling_the_room_exactly_leaves_no_grant_a_rounding_over() -> None:
    """Hypothesis' find: without a margin the room was 2.535 USD, another grant of
    exactly that left this grant's stress at 0.8500000000000001 > 0.85, a denial."""
    held = Position("BTCUSDT", -1.0, 0.01, NOW)
    view = PortfolioView(1.0, NOW - 1, {"BTCUSDT": held}, None, NOW)
    limits = GateLimits(w_heat=0.0, w_conc=1.0, w_k=0.0)
    proposal = Proposal(proposal_id="p", bot="b", strategy="s", symbol="BTCUSDT", side="SELL",
                        qty=0.5, price=10.0, notional_usd=5.0, ts=NOW)  # fmt: skip
    verdict = decide(proposal, view, limits)
    assert verdict.permit
    room = headroom_usd(verdict, 1.0, limits)
    others, spent = granted_elsewhere(view, "BTCUSDT", -room / 0.01, 0.01, "o0")
    assert spent <= room
    again = decide(proposal, others, limits)
    assert again.permit, (again.reason, again.stress)
