"""Pure parts of execution: deterministic client order ids, results, ledger arithmetic."""

from __future__ import annotations

import re

import pytest

from tradingstack_workers.bots.execution import ExecResult, OrderIntent, client_order_id
from tradingstack_workers.bots.execution.ledger import drawdown_pct, equity_usd
from tradingstack_workers.wire.ledger import PortfolioStateHash, PositionSnapshot
from tradingstack_workers.wire.proposal import Proposal

BASE = ("acct", "bot-1", "prop-1", "BUY", 0.5)


def test_the_same_intent_always_maps_to_the_same_id() -> None:
    assert client_order_id(*BASE) == client_order_id(*BASE)  # type: ignore[arg-type]
    assert client_order_id("acct", "bot-1", "prop-1", "BUY", 0.5) == client_order_id(
        "acct", "bot-1", "prop-1", "BUY", 0.50000000000000000001
    )


@pytest.mark.parametrize("index", range(5))
def test_every_component_changes_the_id(index: int) -> None:
    changed = list(BASE)
    changed[index] = {0: "other", 1: "bot-2", 2: "prop-2", 3: "SELL", 4: 0.25}[index]
    assert client_order_id(*changed) != client_order_id(*BASE)  # type: ignore[arg-type]


def test_components_cannot_run_into_each_other() -> None:
    assert client_order_id("a", "bc", "d", "BUY", 1.0) != client_order_id(
        "ab", "c", "d", "BUY", 1.0
    )


def test_the_id_fits_a_live_exchange() -> None:
    """Binance: at most 36 characters of [.A-Z:/a-z0-9_-]."""
    assert re.fullmatch(r"[.A-Z:/a-z0-9_-]{1,36}", client_order_id(*BASE))  # type: ignore[arg-type]


def test_an_intent_from_a_proposal_uses_the_proposal_id() -> None:
    proposal = Proposal(
        proposal_id="prop-1",
        bot="bot-1",
        strategy="rsi",
        symbol="BTCUSDT",
        side="BUY",
        qty=0.5,
        price=100.0,
        notional_usd=50.0,
        ts=1.8e9,
    )
    intent = OrderIntent.from_proposal("acct", proposal)
    assert intent.client_order_id == client_order_id(*BASE)  # type: ignore[arg-type]
    assert (intent.symbol, intent.side, intent.qty) == ("BTCUSDT", "BUY", 0.5)


@pytest.mark.parametrize("qty", [0.0, -1.0, float("nan"), float("inf")])
def test_an_intent_needs_a_positive_finite_qty(qty: float) -> None:
    with pytest.raises(ValueError, match="qty"):
        OrderIntent("acct", "bot", "i", "BTCUSDT", "BUY", qty)


def test_result_labels() -> None:
    assert ExecResult("rejected", reason="halted").label == "rejected:halted"
    assert ExecResult("stale_epoch", reason="current epoch is 3").label == "stale_epoch"


def test_equity_and_drawdown() -> None:
    assert equity_usd(1_000.0, {"A": 2.0, "B": -1.0}, {"A": 10.0, "B": 5.0, "C": 1.0}) == 1_015.0
    with pytest.raises(ValueError, match="B"):
        equity_usd(0.0, {"B": 1.0}, {})
    assert drawdown_pct(900.0, 1_000.0) == pytest.approx(10.0)
    assert drawdown_pct(1_100.0, 1_000.0) == 0.0
    assert drawdown_pct(5.0, 0.0) == 0.0


def test_hash_fields_round_trip_floats_exactly() -> None:
    state = PortfolioStateHash(equity_usd=0.1 + 0.2, drawdown=1 / 3, timestamp=1.8e9 + 0.123)
    fields = state.to_fields()
    assert set(fields) == {"equity_usd", "drawdown", "timestamp"}
    assert float(fields["equity_usd"]) == 0.1 + 0.2
    snap = PositionSnapshot(symbol="BTCUSDT", position_amt=-0.1, mark_price=1 / 7, ts_epoch=1.8e9)
    text = snap.to_fields()
    assert (float(text["position_amt"]), float(text["mark_price"])) == (-0.1, 1 / 7)
    with pytest.raises(ValueError, match="mark_price"):
        PositionSnapshot(symbol="BTCUSDT", position_amt=1.0, mark_price=0.0, ts_epoch=1.8e9)
