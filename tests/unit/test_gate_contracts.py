"""Proposal and Permit: exact round trips, and BadEntry naming the offending field."""

from __future__ import annotations

import pytest

from tradingstack_workers.wire.errors import BadEntry
from tradingstack_workers.wire.proposal import Permit, Proposal

GOOD = {
    "proposal_id": "bot-a:ETHUSDT:1769492127.5",
    "bot": "bot-a",
    "strategy": "bollinger_bounce",
    "symbol": "ETHUSDT",
    "side": "BUY",
    "qty": "0.3",
    "price": "3012.25",
    "notional_usd": "903.675",
    "ts": "1769492127.5",
}


def test_proposal_round_trips_exactly() -> None:
    p = Proposal.parse(GOOD, None)
    assert p.side == "BUY"
    assert p.signed_qty == 0.3
    assert Proposal.parse(p.to_fields(), None) == p
    odd = Proposal(
        proposal_id="x",
        bot="b",
        strategy="s",
        symbol="BTCUSDT",
        side="SELL",
        qty=0.1 + 0.2,
        price=1 / 3,
        notional_usd=(0.1 + 0.2) / 3,
        ts=1e9 + 0.1,
    )
    assert Proposal.parse(odd.to_fields(), None) == odd
    assert odd.signed_qty < 0


def test_side_is_case_insensitive_on_input() -> None:
    assert Proposal.parse({**GOOD, "side": "sell"}, None).side == "SELL"


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("proposal_id", None, "missing"),
        ("proposal_id", "has space", "does not match"),
        ("proposal_id", "x" * 129, "does not match"),
        ("bot", "  ", "missing"),
        ("strategy", None, "missing"),
        ("symbol", "ethusdt", "does not match"),
        ("symbol", None, "missing"),
        ("side", "HOLD", "is not 'BUY' or 'SELL'"),
        ("qty", "abc", "not a number"),
        ("qty", "0", "above 0"),
        ("qty", "-1", "above 0"),
        ("qty", "nan", "not finite"),
        ("price", "inf", "not finite"),
        ("price", "", "missing"),
        ("notional_usd", "1000", "is not qty * price"),
        ("ts", "yesterday", "not a number"),
        ("ts", None, "missing"),
    ],
)
def test_bad_entry_names_the_field(field: str, value: str | None, fragment: str) -> None:
    fields = {k: v for k, v in GOOD.items() if k != field}
    if value is not None:
        fields[field] = value
    with pytest.raises(BadEntry) as err:
        Proposal.parse(fields, None)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")
    assert fragment in str(err.value)


def test_an_empty_entry_names_the_first_field() -> None:
    with pytest.raises(BadEntry) as err:
        Proposal.parse({}, None)
    assert err.value.field == "proposal_id"


def test_notional_tolerates_rounding() -> None:
    assert Proposal.parse({**GOOD, "notional_usd": "903.68"}, None).notional_usd == 903.68


PERMIT = Permit(
    granted=True,
    reason="ok",
    proposal_id="p-1",
    symbol="ETHUSDT",
    side="SELL",
    heat=0.25,
    conc=1 / 3,
    corr_proxy=0.0,
    k=0.748,
    k_source="cluster",
    stress=0.3123456789,
    issued_ts=1769492127.123,
)


def test_permit_round_trips_exactly() -> None:
    fields = PERMIT.to_fields()
    assert fields["granted"] == "1"
    assert set(fields) == {
        "granted", "reason", "proposal_id", "symbol", "side", "heat", "conc", "corr_proxy",
        "k", "k_source", "stress", "issued_ts",
    }  # fmt: skip
    assert Permit.parse(fields, None) == PERMIT
    denied = Permit(**{**PERMIT.__dict__, "granted": False, "k_source": "proxy"})
    assert Permit.parse(denied.to_fields(), None) == denied


@pytest.mark.parametrize(
    ("field", "value"),
    [("granted", "yes"), ("k_source", "guess"), ("heat", "hot"), ("side", "x"), ("stress", "")],
)
def test_permit_bad_entry_names_the_field(field: str, value: str) -> None:
    with pytest.raises(BadEntry) as err:
        Permit.parse({**PERMIT.to_fields(), field: value}, None)
    assert err.value.field == field
