"""The governor's per-symbol budget hash, ``<prefix>:portfolio:budget:{SYMBOL}`` (TTL).

Fields as seed 002 lists them; the governor writes it, the bots read ``budget_usd`` and
``mode`` before an entry. ``base_risk_pct`` is held in percent (the setting's unit) and
written as a fraction (0.02 for 2 %), as the old P2.8 service wrote its BASE_RISK_PCT:
the desk's panels read that unit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import StringConstraints
from pydantic.dataclasses import dataclass

from .errors import BadEntry, Fault
from .fields import (
    WIRE,
    EpochSecondsInt,
    Finite,
    NonNegative,
    Symbol,
    WireFormat,
    parse,
    text_fields,
)


@dataclass(frozen=True, kw_only=True, config=WIRE)
class Budget(WireFormat):
    """How much new risk (USD) ``symbol`` may take, and the figures it came from.

    ``stress_factor``, ``portfolio_heat``, ``cluster_stress`` and ``vol_regime`` (the
    regime's level) are in [0, 1]; ``base_risk_pct`` a percent of equity; ``timestamp``
    when it was computed (epoch seconds).
    """

    symbol: Symbol
    budget_usd: NonNegative
    stress_factor: Finite
    equity_usd: Finite
    portfolio_heat: Finite
    cluster_stress: Finite
    vol_regime: Finite
    mode: Annotated[str, StringConstraints(pattern="^(shadow|enforce)$")]
    timestamp: EpochSecondsInt
    base_risk_pct: Finite

    @classmethod
    def parse(cls, fields: Mapping[str, str], now: float | None) -> Self:
        """The hash read at ``now``; ``base_risk_pct`` comes back in percent."""
        written = parse(cls, fields, now)
        return dataclasses.replace(written, base_risk_pct=written.base_risk_pct * 100.0)

    def of(self, symbol: str) -> Self:
        """This budget, when it is ``symbol``'s; :class:`BadEntry` (``inconsistent``)
        when the hash under ``symbol``'s key holds another symbol's budget."""
        if self.symbol != symbol:
            raise BadEntry(
                "symbol", f"{self.symbol!r} is not the key's {symbol!r}", Fault.INCONSISTENT
            )
        return self

    def to_fields(self) -> dict[str, str]:
        fields = text_fields(self)
        fields["base_risk_pct"] = repr(self.base_risk_pct / 100.0)  # a fraction, as the old P2.8
        return fields
