"""Hashes parsed once while their fields stay the same. Pure: no I/O, no clock.

Every batch reads every snapshot and both states, and most of them did not change since
the last batch; parsing them (pydantic, per field) was a tenth of a step. A parse that
passed at ``now`` passes at any later time (the only rule that reads the clock, a
timestamp's future skew, only relaxes as time goes on), so a kept one is reused for
the same fields at the same or a later ``now``; a hash that broke its contract is
parsed again each time (it is reported each time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class ParsedHashes(Generic[T]):
    """Parsed hashes by name, kept from one read to the next."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[Mapping[str, str], float, T]] = {}
        self._read: set[str] = set()

    def parse(
        self,
        name: str,
        fields: Mapping[str, str],
        now: float,
        parse: Callable[[Mapping[str, str], float], T],
    ) -> T:
        """``parse(fields, now)``, or what it gave for the same fields at an earlier
        ``now``; its :class:`~..wire.BadEntry` when the fields break the contract."""
        self._read.add(name)
        kept = self._kept.get(name)
        if kept is None or kept[1] > now or kept[0] != fields:
            self._kept.pop(name, None)
            kept = (fields, now, parse(fields, now))
            self._kept[name] = kept
        return kept[2]

    def keep_only_read(self) -> None:
        """Forget the names not parsed since the last call (a snapshot gone, a symbol
        no longer read)."""
        self._kept = {name: kept for name, kept in self._kept.items() if name in self._read}
        self._read = set()
