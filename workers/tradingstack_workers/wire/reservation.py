"""The exposure a granted permit holds until its order fills, is refused or expires.

One field per proposal in the hash ``Keys.reservations``, its value a JSON object: the
gate writes it with the permit (atomically, see ``gate/reservations.py``); the bots'
chokepoint removes it when the order fills or is refused (``bots/execution/chokepoint.py``
reads ``expires_ts`` from the JSON, so the field names are fixed here and there); the
bot's trader removes it when it gives the trade up before the chokepoint (budget,
leadership, an error). The bots' removals go through ``runtime/releases.py``, which
counts and logs each for the gates. Parsed by the same field rules as every wire format.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import orjson
from pydantic.dataclasses import dataclass

from .errors import BadEntry
from .fields import WIRE, EpochSeconds, Finite, Id, Positive, Symbol, WireFormat, parse, text_of


@dataclass(frozen=True, config=WIRE)
class Reservation(WireFormat):
    """``qty`` signed units (> 0 buys, < 0 sells) of ``symbol`` at ``price`` (USD), held
    until ``expires_ts`` (epoch seconds: the permit's own expiry)."""

    proposal_id: Id
    symbol: Symbol
    qty: Finite
    price: Positive
    expires_ts: EpochSeconds

    def to_json(self) -> str:
        """The hash field's value (``proposal_id`` is the field's name): the other fields
        as Redis text, keys sorted. (Names listed once, not looked up per call, and
        orjson: the gate writes one per grant.)"""
        return orjson.dumps(text_of((name, getattr(self, name)) for name in _JSON_FIELDS)).decode()

    @classmethod
    def from_json(cls, proposal_id: str, text: str) -> Reservation:
        """Parse one hash field; :class:`BadEntry` names the first bad part."""
        try:
            raw: Any = json.loads(text)
        except ValueError:
            raise BadEntry("reservation", f"{text[:80]!r} is not JSON") from None
        if not isinstance(raw, dict):
            raise BadEntry("reservation", "is not an object")
        # The expiry is in the future by design: only its unit is checked (no clock).
        return parse(cls, {**raw, "proposal_id": proposal_id}, None)


_JSON_FIELDS = sorted(f.name for f in dataclasses.fields(Reservation) if f.name != "proposal_id")
