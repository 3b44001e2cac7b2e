"""What clusters publishes: the cluster-state hash (gate, governor) and its audit entry.

``<prefix>:portfolio:cluster_state`` holds the last valid answer; every update also
goes to ``<prefix>:stream:portfolio.cluster_state`` with the clusters themselves.
``symbols`` is the book the stress was computed over (absent from an older writer);
``frozen`` the symbols whose snapshot stopped changing: clusters left them out of the
correlation window, so the state does not describe them (clusters/freshness.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic.dataclasses import dataclass

from .fields import WIRE, EpochSeconds, Symbol, UnitInterval, WireFormat, text_fields

#: A state lists at most this many symbols. Not the spec's bound on spec.symbols (200):
#: clusters takes every snapshot when it has no allowlist, and is sized for books of
#: 1000 symbols (issue #18); above this bound a state would never be published.
MAX_SYMBOLS = 5000


def _symbols(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


SymbolList = Annotated[tuple[Symbol, ...], BeforeValidator(_symbols), Field(max_length=MAX_SYMBOLS)]


@dataclass(frozen=True, kw_only=True, config=WIRE)
class ClusterStateHash(WireFormat):
    """``Keys.cluster_state``: ClusterStress in [0, 1], clusters (singletons count), when
    (epoch seconds), the symbols it covers (None when not written) and those left out as
    frozen (both comma-separated)."""

    cluster_stress: UnitInterval
    clusters_count: Annotated[int, Field(ge=0)]
    updated_ts: EpochSeconds
    symbols: SymbolList | None = None
    frozen: SymbolList = ()

    @property
    def degraded(self) -> bool:
        """True when some symbols' feeds were frozen and left out of the state."""
        return bool(self.frozen)

    def to_fields(self) -> dict[str, str]:
        fields = text_fields(self, exclude=("symbols", "frozen"))
        if self.symbols is not None:
            fields["symbols"] = ",".join(self.symbols)
        fields["frozen"] = ",".join(self.frozen)
        return fields


def audit_fields(
    state: ClusterStateHash, clusters: Sequence[Sequence[str]], points: int
) -> dict[str, str]:
    """One entry of ``Keys.cluster_state_stream``: the state plus what it was built from."""
    return {
        **state.to_fields(),
        "clusters": json.dumps([list(c) for c in clusters]),
        "points": str(points),
    }
