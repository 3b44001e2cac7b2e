"""``<prefix>:portfolio:heat``: the book's heat as the gate last computed it (governor reads).

Replaces scraping the gate's /metrics: ``heat`` in [0, 1], ``ts`` in epoch seconds.
"""

from __future__ import annotations

from pydantic.dataclasses import dataclass

from .fields import WIRE, EpochSeconds, UnitInterval, WireFormat


@dataclass(frozen=True, kw_only=True, config=WIRE)
class HeatHash(WireFormat):
    heat: UnitInterval
    ts: EpochSeconds
