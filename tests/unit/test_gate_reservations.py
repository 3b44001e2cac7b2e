"""Reservations in the gate's decision: granted but unfilled exposure counts, at its worst."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tradingstack_workers.gate.decide import GateLimits, PortfolioView, Position, decide
from tradingstack_workers.gate.known import KnownReservations
from tradingstack_workers.gate.reservations import Grants, Reserved, parse_all
from tradingstack_workers.wire import BadEntry, Proposal, Reservation
from tradingstack_workers.wire.proposal import Side

NOW = 1_800_000_000.0
LIMITS = GateLimits()  # heat 0.9 at 3x: 27,000 USD gross on 10,000 equity


def proposal(symbol: str = "ETHUSDT", side: Side = "BUY", qty: float = 10.0) -> Proposal:
    return Proposal(
        proposal_id="p", bot="bot", strategy="s", symbol=symbol, side=side, qty=qty,
        price=100.0, notional_usd=qty * 100.0, ts=NOW,
    )  # fmt: skip


def view(positions: dict[str, float] | None = None, **reserved: Reserved) -> PortfolioView:
    held = {s: Position(s, a, 100.0, NOW) for s, a in (positions or {}).items()}
    return PortfolioView(10_000.0, NOW, held, None, NOW, reserved=reserved)


def test_reserved_exposure_counts_like_a_position() -> None:
    # 200 units reserved at 100 = 20,000 USD; 100 more would make heat 1.0 > 0.9.
    alone = decide(proposal(qty=100.0), view(), LIMITS)
    assert alone.permit
    crowded = decide(proposal(qty=100.0), view(ETHUSDT=Reserved(long=200.0, price=100.0)), LIMITS)
    assert (crowded.permit, crowded.reason) == (False, "heat_limit")
    assert crowded.heat == pytest.approx(1.0)
    # The same reservation held as a position decides the same way.
    held = decide(proposal(qty=100.0), view({"ETHUSDT": 200.0}), LIMITS)
    assert (held.heat, held.reason) == (crowded.heat, crowded.reason)


def test_opposite_reservations_do_not_net_off() -> None:
    # +200 and -200 reserved: either may fill alone, so 200 units count, not 0.
    both = Reserved(long=200.0, short=-200.0, price=100.0)
    assert both.worst(0.0) == 200.0
    verdict = decide(proposal(qty=100.0), view(ETHUSDT=both), LIMITS)
    assert (verdict.permit, verdict.reason) == (False, "heat_limit")
    # A reservation on another symbol, valued at its own price, counts as well.
    other = Reserved(long=0.0, short=-100.0, price=200.0)  # a 20,000 USD short
    assert not decide(proposal(qty=100.0), view(BTCUSDT=other), LIMITS).permit


def test_worst_case_bounds_every_subset_that_may_fill() -> None:
    held, reserved = 5.0, [3.0, -8.0, 2.0, -1.0]
    r = Reserved(long=5.0, short=-9.0)
    bound = abs(r.worst(held))
    for mask in range(1 << len(reserved)):
        subset = sum(q for i, q in enumerate(reserved) if mask >> i & 1)
        assert abs(held + subset) <= bound
    assert bound in {abs(held + 5.0), abs(held - 9.0)}  # and it is reached


def test_a_reducing_trade_is_permitted_whatever_is_reserved() -> None:
    full = view({"ETHUSDT": 250.0}, BTCUSDT=Reserved(long=300.0, price=100.0))
    verdict = decide(proposal(side="SELL", qty=100.0), full, LIMITS)
    assert (verdict.permit, verdict.reason) == (True, "reducing")


def test_expired_and_unreadable_reservations_are_left_out() -> None:
    live = Reservation("a", "ETHUSDT", 2.0, 100.0, NOW + 1)
    gone = Reservation("b", "ETHUSDT", 50.0, 100.0, NOW - 1)
    short = Reservation("c", "ETHUSDT", -3.0, 101.0, NOW + 60)
    known = KnownReservations.read([live, gone, short], Grants(), 3, now=NOW)
    assert known.reserved == {"ETHUSDT": Reserved(2.0, -3.0, 101.0)}
    fields = {r.proposal_id: r.to_json() for r in (live, gone)} | {"bad": "{", "neg": "[]"}
    parsed, bad = parse_all(fields)
    assert parsed == [live, gone]
    assert sorted(bad) == ["bad", "neg"]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"qty": "1", "price": "1", "expires_ts": "1"}', "symbol"),
        ('{"symbol": "a:b", "qty": "1", "price": "1", "expires_ts": "1"}', "symbol"),
        ('{"symbol": "BTCUSDT", "qty": "one", "price": "1", "expires_ts": "1"}', "qty"),
        ('{"symbol": "BTCUSDT", "qty": "1", "price": "0", "expires_ts": "1"}', "price"),
        ('{"symbol": "BTCUSDT", "qty": "1", "price": "1", "expires_ts": "nan"}', "expires_ts"),
    ],
)
def test_a_malformed_reservation_names_its_field(text: str, field: str) -> None:
    with pytest.raises(BadEntry) as caught:
        Reservation.from_json("p", text)
    assert caught.value.field == field


def test_round_trip() -> None:
    r = Reservation("p-1", "SOLUSDT", -0.1, 123.45, NOW)
    assert Reservation.from_json("p-1", r.to_json()) == r
    assert replace(r, qty=0.1) != r
