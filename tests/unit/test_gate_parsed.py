"""Hashes parsed once while their fields stay the same (gate/parsed.py)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from tradingstack_workers.gate.parsed import ParsedHashes
from tradingstack_workers.wire import BadEntry, PositionSnapshot

NOW = 1_750_000_000.0


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, fields: Mapping[str, str], now: float) -> PositionSnapshot:
        self.calls += 1
        return PositionSnapshot.parse("BTCUSDT", fields, now)


def fields(ts: float, mark: str = "100") -> dict[str, str]:
    return {"position_amt": "1", "mark_price": mark, "ts_epoch": repr(ts)}


def test_the_same_fields_are_parsed_once_at_the_same_or_a_later_time() -> None:
    parsed: ParsedHashes[PositionSnapshot] = ParsedHashes()
    parse = Counting()
    first = parsed.parse("BTCUSDT", fields(NOW), NOW, parse)
    assert parsed.parse("BTCUSDT", fields(NOW), NOW + 1, parse) is first
    assert parse.calls == 1
    # Other fields, or an earlier clock (the future rule is stricter then): parsed again.
    assert parsed.parse("BTCUSDT", fields(NOW, "101"), NOW + 1, parse).mark_price == 101.0
    parsed.parse("BTCUSDT", fields(NOW, "101"), NOW, parse)
    assert parse.calls == 3


def test_a_timestamp_from_the_future_is_refused_at_every_read_until_it_is_not() -> None:
    parsed: ParsedHashes[PositionSnapshot] = ParsedHashes()
    parse = Counting()
    ahead = fields(NOW + 60)
    for _ in range(2):
        with pytest.raises(BadEntry) as refused:
            parsed.parse("BTCUSDT", ahead, NOW, parse)
        assert refused.value.field == "ts_epoch"
    assert parsed.parse("BTCUSDT", ahead, NOW + 60, parse).ts_epoch == NOW + 60
    assert parse.calls == 3


def test_names_not_read_since_the_last_round_are_forgotten() -> None:
    parsed: ParsedHashes[PositionSnapshot] = ParsedHashes()
    parse = Counting()
    parsed.parse("BTCUSDT", fields(NOW), NOW, parse)
    parsed.keep_only_read()
    parsed.keep_only_read()  # a round that did not read it
    parsed.parse("BTCUSDT", fields(NOW), NOW, parse)
    assert parse.calls == 2
