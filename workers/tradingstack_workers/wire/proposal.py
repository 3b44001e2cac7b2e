"""What bots and the gate exchange through Redis: the proposal entry and the permit hash.

The bots write proposals (``to_fields``) and read permits (``Permit.parse``), the gate
the other way round, so neither side retypes a field name. Every value travels as a
string; floats use ``repr`` so they round-trip exactly. Parsing raises
:class:`BadEntry` naming the first offending field.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Self

from pydantic import BeforeValidator, model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from .errors import BadEntry, Fault
from .fields import WIRE, EpochSeconds, Finite, Id, Positive, Symbol, Text, WireFormat

Side = Literal["BUY", "SELL"]
KSource = Literal["cluster", "proxy"]

#: The permit's numbers, in its field order (:meth:`Permit.encode` names the first bad one).
_PERMIT_FIGURES = ("heat", "conc", "corr_proxy", "k", "stress", "issued_ts")

#: notional_usd must agree with qty * price within this relative tolerance.
NOTIONAL_TOLERANCE = 1e-3


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _flag(value: object) -> object:
    if value in ("0", "1"):
        return value == "1"
    if isinstance(value, bool):
        return value
    raise PydanticCustomError(Fault.BAD_FORMAT.value, f"{value!r} is not 0 or 1")


@dataclass(frozen=True, kw_only=True, config=WIRE)
class Proposal(WireFormat):
    """A bot's request to trade, one entry of ``<prefix>:stream:trade.proposal``.

    ``qty`` in units, ``price`` and ``notional_usd`` in USD (``qty * price``), ``ts``
    when the bot proposed it (epoch seconds).
    """

    proposal_id: Id
    bot: Text
    strategy: Text
    symbol: Symbol
    side: Annotated[Side, BeforeValidator(_upper)]
    qty: Positive
    price: Positive
    notional_usd: Positive
    ts: EpochSeconds

    @model_validator(mode="after")
    def _notional(self) -> Self:
        expected = self.qty * self.price
        if not math.isclose(self.notional_usd, expected, rel_tol=NOTIONAL_TOLERANCE, abs_tol=0.01):
            raise PydanticCustomError(
                Fault.INCONSISTENT.value,
                "{given} is not qty * price ({expected})",
                {"field": "notional_usd", "given": repr(self.notional_usd), "expected": expected},
            )
        return self

    @property
    def signed_qty(self) -> float:
        return self.qty if self.side == "BUY" else -self.qty


@dataclass(frozen=True, kw_only=True, config=WIRE)
class Permit(WireFormat):
    """The gate's answer, hash ``<prefix>:permit:{proposal_id}`` with a TTL (60 s).

    A bot trades only when the hash exists and ``granted`` is true; a missing hash
    (not decided yet, or expired) means no. The figures are those after the
    proposed trade, as the decision used them; ``issued_ts`` in epoch seconds.
    """

    granted: Annotated[bool, BeforeValidator(_flag)]
    reason: Text
    proposal_id: Id
    symbol: Symbol
    side: Side
    heat: Finite
    conc: Finite
    corr_proxy: Finite
    k: Finite
    k_source: KSource
    stress: Finite
    issued_ts: EpochSeconds

    @staticmethod
    def encode(
        proposal: Proposal,
        *,
        granted: bool,
        reason: str,
        heat: float,
        conc: float,
        corr_proxy: float,
        k: float,
        k_source: KSource,
        stress: float,
        issued_ts: float,
    ) -> dict[str, str]:
        """``Permit(...).to_fields()`` answering ``proposal``, without building the model:
        the gate writes one per proposal, its text fields come from a parsed
        :class:`Proposal` and its reason from a fixed set. The numbers must be finite
        (ValueError names the first that is not); the text is :func:`.fields.text_of`'s,
        as the model's. tests/unit/test_gate_batching.py holds this equal to the model's
        text and parsed back by :meth:`Permit.parse`."""
        figures = (heat, conc, corr_proxy, k, stress, issued_ts)
        if not all(map(math.isfinite, figures)):
            for name, value in zip(_PERMIT_FIGURES, figures, strict=True):
                if not math.isfinite(value):
                    raise ValueError(f"permit {name}: {value!r} is not finite")
        # text_of's rules (a bool as 1/0, a float by repr) written out: this runs per
        # proposal, and the generic loop cost as much as judging it.
        return {
            "granted": "1" if granted else "0", "reason": reason,
            "proposal_id": proposal.proposal_id, "symbol": proposal.symbol,
            "side": proposal.side, "heat": repr(float(heat)), "conc": repr(float(conc)),
            "corr_proxy": repr(float(corr_proxy)), "k": repr(float(k)), "k_source": k_source,
            "stress": repr(float(stress)), "issued_ts": repr(float(issued_ts)),
        }  # fmt: skip

    def answering(self, proposal: Proposal) -> Self:
        """This permit, when it answers ``proposal`` (same id, symbol and side).

        Raises :class:`BadEntry` (``inconsistent``) naming the first field that differs:
        a permit found under the proposal's key but written for another trade grants
        nothing.
        """
        for name in ("proposal_id", "symbol", "side"):
            mine, theirs = getattr(self, name), getattr(proposal, name)
            if mine != theirs:
                raise BadEntry(
                    name, f"{mine!r} is not the proposal's {theirs!r}", Fault.INCONSISTENT
                )
        return self
