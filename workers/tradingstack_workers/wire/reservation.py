"""The exposure a granted permit holds until its order fills, is refused or expires.

One field per proposal in the hash ``Keys.reservations``: the gate writes it with the
permit (atomically, see ``gate/reservations.py``); the bots' chokepoint removes it when
the order fills or is refused (``bots/execution/chokepoint.py`` reads ``expires_ts``
from the JSON, so the field names are fixed here and there); the bot's trader removes
it when it gives the trade up before the chokepoint (budget, leadership, an error).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from .errors import BadEntry, Fault
from .fields import is_symbol


@dataclass(frozen=True)
class Reservation:
    """``qty`` signed units (> 0 buys, < 0 sells) of ``symbol`` at ``price`` (USD), held
    until ``expires_ts`` (Unix seconds: the permit's own expiry)."""

    proposal_id: str
    symbol: str
    qty: float
    price: float
    expires_ts: float

    def to_json(self) -> str:
        return json.dumps(
            {
                "symbol": self.symbol,
                "qty": repr(self.qty),
                "price": repr(self.price),
                "expires_ts": repr(self.expires_ts),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, proposal_id: str, text: str) -> Reservation:
        """Parse one hash field; :class:`BadEntry` names the first bad part."""
        try:
            raw = json.loads(text)
        except ValueError:
            raise BadEntry("reservation", f"{text[:80]!r} is not JSON") from None
        if not isinstance(raw, dict):
            raise BadEntry("reservation", "is not an object")
        symbol = raw.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise BadEntry("symbol", "missing", Fault.MISSING)
        if not is_symbol(symbol):
            raise BadEntry("symbol", f"{symbol[:80]!r} is not a symbol")
        numbers = {}
        for name in ("qty", "price", "expires_ts"):
            try:
                numbers[name] = float(raw[name])
            except (KeyError, TypeError, ValueError):
                raise BadEntry(name, f"{raw.get(name)!r} is not a number") from None
            if not math.isfinite(numbers[name]):
                raise BadEntry(name, f"{raw[name]!r} is not finite")
        if numbers["price"] <= 0:
            raise BadEntry("price", f"{raw['price']!r} must be above 0")
        return cls(proposal_id, symbol, numbers["qty"], numbers["price"], numbers["expires_ts"])
