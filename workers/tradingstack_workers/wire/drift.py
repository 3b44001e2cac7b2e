"""The drift alert: the account poller found the exchange and the ledger apart.

One entry of ``Keys.exchange_drift_stream(account)`` per poll that found a difference
above tolerance (the ledger was corrected in the same write). ``field`` is ``cash``, the
symbol whose position differed, or ``order:<client order id>`` for an open order the
ledger does not hold (reported once); ``ledger`` and ``exchange`` are its values before
the correction (USD for cash, units for a position or an order's remaining quantity);
``drift_usd`` is the difference in USD; ``ts`` epoch seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import BadEntry

_FIELDS = ("ledger", "exchange", "drift_usd", "tolerance_usd", "ts")


@dataclass(frozen=True)
class DriftAlert:
    account: str
    field: str
    ledger: float
    exchange: float
    drift_usd: float
    tolerance_usd: float
    ts: float

    def to_fields(self) -> dict[str, str]:
        return {
            "account": self.account,
            "field": self.field,
            "ledger": repr(self.ledger),
            "exchange": repr(self.exchange),
            "drift_usd": repr(self.drift_usd),
            "tolerance_usd": repr(self.tolerance_usd),
            "ts": repr(self.ts),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> DriftAlert:
        """Parse a stream entry; :class:`BadEntry` names the first field at fault."""
        for name in ("account", "field"):
            if not fields.get(name):
                raise BadEntry(name, "missing")
        numbers: dict[str, float] = {}
        for name in _FIELDS:
            text = fields.get(name, "")
            try:
                value = float(text)
            except ValueError:
                raise BadEntry(name, f"{text!r} is not a number" if text else "missing") from None
            if not math.isfinite(value):
                raise BadEntry(name, f"{text!r} is not finite")
            numbers[name] = value
        return cls(account=fields["account"], field=fields["field"], **numbers)
