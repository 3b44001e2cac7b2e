"""Orders and their outcomes: the intent a bot submits, its deterministic id, the result.

The client order id is a pure function of the intent, never of time or of the
process: a bot that replays an intent after a restart, and a zombie leader that
submits the same intent late, both produce the id the chokepoint has already
recorded, and are refused as duplicates.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Literal

from ...wire.proposal import Proposal, Side

Status = Literal["filled", "stale_epoch", "duplicate", "rejected", "unknown"]

#: Binance allows 36 characters ([.A-Z:/a-z0-9_-]) in a client order id: "ts" + 32 hex fits
#: a live exchange adapter too.
_ID_HEX = 32


def canonical_qty(qty: float) -> str:
    """One text per quantity, so 0.1 and 0.10000000000000001 hash alike."""
    return repr(float(qty))


def client_order_id(account: str, bot: str, intent_id: str, side: Side, qty: float) -> str:
    """Hash of (account, bot, proposal or signal id, side, qty)."""
    text = "\x1f".join((account, bot, intent_id, side, canonical_qty(qty)))
    return "ts" + hashlib.sha256(text.encode()).hexdigest()[:_ID_HEX]


@dataclass(frozen=True)
class OrderIntent:
    """What a bot wants executed. ``intent_id`` is the proposal id (or signal id)."""

    account: str
    bot: str
    intent_id: str
    symbol: str
    side: Side
    qty: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.qty) and self.qty > 0):
            raise ValueError(f"qty: {self.qty!r} must be a finite number above 0")

    @property
    def client_order_id(self) -> str:
        return client_order_id(self.account, self.bot, self.intent_id, self.side, self.qty)

    @classmethod
    def from_proposal(cls, account: str, proposal: Proposal) -> OrderIntent:
        return cls(
            account=account,
            bot=proposal.bot,
            intent_id=proposal.proposal_id,
            symbol=proposal.symbol,
            side=proposal.side,
            qty=proposal.qty,
        )


@dataclass(frozen=True)
class Fill:
    """One executed order as the chokepoint recorded it (the order record's JSON)."""

    client_order_id: str
    bot: str
    intent_id: str
    symbol: str
    side: Side
    qty: float
    mark_price: float
    price: float
    notional_usd: float
    fee_usd: float
    epoch: int
    ts: float
    position_after: float
    cash_after: float

    @classmethod
    def from_json(cls, text: str) -> Fill:
        raw = json.loads(text)
        return cls(
            client_order_id=str(raw["client_order_id"]),
            bot=str(raw["bot"]),
            intent_id=str(raw["intent_id"]),
            symbol=str(raw["symbol"]),
            side="BUY" if raw["side"] == "BUY" else "SELL",
            qty=float(raw["qty"]),
            mark_price=float(raw["mark_price"]),
            price=float(raw["price"]),
            notional_usd=float(raw["notional_usd"]),
            fee_usd=float(raw["fee_usd"]),
            epoch=int(raw["epoch"]),
            ts=float(raw["ts"]),
            position_after=float(raw["position_after"]),
            cash_after=float(raw["cash_after"]),
        )


@dataclass(frozen=True)
class ExecResult:
    """The chokepoint's answer.

    * ``filled``: ``fill`` is the new fill (``recovered`` when this call's first
      attempt was applied but its reply lost, and a retry found it).
    * ``stale_epoch``: the order's epoch is not the account's current one;
      ``reason`` holds the current epoch.
    * ``duplicate``: the client order id was executed before; ``fill`` is that fill.
    * ``rejected``: a protection or a bad order; ``reason`` says which.
    * ``unknown``: a live exchange has not told whether the order exists yet; it stays in
      flight until the account poller looks it up by its client order id.

    A live fill may be partial (``reason`` ``partial_fill``): ``fill.qty`` is what filled.
    """

    status: Status
    reason: str = ""
    fill: Fill | None = None
    recovered: bool = False

    @property
    def label(self) -> str:
        """``filled``, ``stale_epoch``, ``duplicate`` or ``rejected:<reason>``."""
        return f"rejected:{self.reason}" if self.status == "rejected" else self.status
