"""What bots and the gate exchange through Redis: the proposal entry and the permit hash.

Defined once; the bots import these classes to write proposals (``to_fields``) and to
read permits (``Permit.from_fields``), so neither side retypes a field name. Every
value travels as a string (Redis fields); floats use ``repr`` so they round-trip
exactly. Parsing raises :class:`BadEntry` naming the first offending field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .errors import BadEntry

Side = Literal["BUY", "SELL"]
KSource = Literal["cluster", "proxy"]

#: Proposal ids become part of a Redis key (the permit), so keep them plain.
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
#: notional_usd must agree with qty * price within this relative tolerance.
NOTIONAL_TOLERANCE = 1e-3


def _text(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name)
    if value is None or not value.strip():
        raise BadEntry(name, "missing")
    return value.strip()


def _number(fields: Mapping[str, str], name: str, *, positive: bool = True) -> float:
    text = _text(fields, name)
    try:
        value = float(text)
    except ValueError:
        raise BadEntry(name, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise BadEntry(name, f"{text!r} is not finite")
    if positive and value <= 0:
        raise BadEntry(name, f"{text!r} must be above 0")
    return value


def _matching(fields: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> str:
    text = _text(fields, name)
    if not pattern.match(text):
        raise BadEntry(name, f"{text!r} does not match {pattern.pattern}")
    return text


@dataclass(frozen=True)
class Proposal:
    """A bot's request to trade, one entry of the proposal stream."""

    proposal_id: str
    bot: str
    strategy: str
    symbol: str
    side: Side
    qty: float
    price: float
    notional_usd: float
    ts: float

    @property
    def signed_qty(self) -> float:
        return self.qty if self.side == "BUY" else -self.qty

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Proposal:
        """Parse stream fields in contract order; :class:`BadEntry` names the first fault."""
        proposal_id = _matching(fields, "proposal_id", _ID)
        bot = _text(fields, "bot")
        strategy = _text(fields, "strategy")
        symbol = _matching(fields, "symbol", _SYMBOL)
        side = _text(fields, "side").upper()
        if side not in ("BUY", "SELL"):
            raise BadEntry("side", f"{side!r} is not BUY or SELL")
        qty = _number(fields, "qty")
        price = _number(fields, "price")
        notional = _number(fields, "notional_usd")
        if not math.isclose(notional, qty * price, rel_tol=NOTIONAL_TOLERANCE, abs_tol=0.01):
            raise BadEntry("notional_usd", f"{notional!r} is not qty * price ({qty * price!r})")
        return cls(
            proposal_id=proposal_id,
            bot=bot,
            strategy=strategy,
            symbol=symbol,
            side="BUY" if side == "BUY" else "SELL",
            qty=qty,
            price=price,
            notional_usd=notional,
            ts=_number(fields, "ts"),
        )

    def to_fields(self) -> dict[str, str]:
        return {
            "proposal_id": self.proposal_id,
            "bot": self.bot,
            "strategy": self.strategy,
            "symbol": self.symbol,
            "side": self.side,
            "qty": repr(self.qty),
            "price": repr(self.price),
            "notional_usd": repr(self.notional_usd),
            "ts": repr(self.ts),
        }


@dataclass(frozen=True)
class Permit:
    """The gate's answer, hash ``<prefix>:permit:{proposal_id}`` with a TTL (60 s).

    A bot trades only when the hash exists and ``granted`` is true; a missing hash
    (not decided yet, or expired) means no. The figures are those after the
    proposed trade, as the decision used them.
    """

    granted: bool
    reason: str
    proposal_id: str
    symbol: str
    side: Side
    heat: float
    conc: float
    corr_proxy: float
    k: float
    k_source: KSource
    stress: float
    issued_ts: float

    def to_fields(self) -> dict[str, str]:
        return {
            "granted": "1" if self.granted else "0",
            "reason": self.reason,
            "proposal_id": self.proposal_id,
            "symbol": self.symbol,
            "side": self.side,
            "heat": repr(self.heat),
            "conc": repr(self.conc),
            "corr_proxy": repr(self.corr_proxy),
            "k": repr(self.k),
            "k_source": self.k_source,
            "stress": repr(self.stress),
            "issued_ts": repr(self.issued_ts),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Permit:
        granted = _text(fields, "granted")
        if granted not in ("0", "1"):
            raise BadEntry("granted", f"{granted!r} is not 0 or 1")
        side = _text(fields, "side")
        if side not in ("BUY", "SELL"):
            raise BadEntry("side", f"{side!r} is not BUY or SELL")
        source = _text(fields, "k_source")
        if source not in ("cluster", "proxy"):
            raise BadEntry("k_source", f"{source!r} is not cluster or proxy")
        return cls(
            granted=granted == "1",
            reason=_text(fields, "reason"),
            proposal_id=_matching(fields, "proposal_id", _ID),
            symbol=_matching(fields, "symbol", _SYMBOL),
            side="BUY" if side == "BUY" else "SELL",
            heat=_number(fields, "heat", positive=False),
            conc=_number(fields, "conc", positive=False),
            corr_proxy=_number(fields, "corr_proxy", positive=False),
            k=_number(fields, "k", positive=False),
            k_source="cluster" if source == "cluster" else "proxy",
            stress=_number(fields, "stress", positive=False),
            issued_ts=_number(fields, "issued_ts"),
        )
