"""The clusters worker's snapshot reading in one pass agrees with the wire's own parse."""

from __future__ import annotations

import math

import numpy as np
import pytest
import redis
from hypothesis import example, given
from hypothesis import strategies as st

from tradingstack_workers.clusters.snapshots import (
    _NUMBER,
    FIELDS,
    parse_snapshots,
)
from tradingstack_workers.wire import BadEntry, Fault, PositionSnapshot

NOW = 1_769_000_000.0

#: Texts a writer sends, and texts the wire refuses or reads its own way.
texts = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=NOW - 1e5, max_value=NOW + 60).map(repr),
    st.floats(min_value=NOW * 1000, max_value=NOW * 1001).map(repr),  # milliseconds
    st.integers(-(10**6), 10**6).map(str),
    st.from_regex(_NUMBER, fullmatch=True),
    st.sampled_from(
        ["", " 1", "+2", "1_0", "0x10", "1e400", "nan", "inf", "١٢", "1 2", "\udcff", "1\n2"]
    ),
    st.text(max_size=8),
)


def wire(symbol: str, fields: dict[str, str]) -> tuple[float, float, float] | Fault:
    try:
        s = PositionSnapshot.parse(symbol, fields, NOW)
    except BadEntry as exc:
        return exc.fault
    return (s.position_amt, s.mark_price, s.ts_epoch)


@given(st.lists(st.tuples(texts, texts, texts), max_size=12))
@example(rows=[("1\n2", "3", repr(NOW))])  # two plain numbers to the joined text's regex
@example(rows=[("1", "2\n3", repr(NOW)), ("4", "5", repr(NOW))])
def test_every_row_gets_the_wires_verdict_and_values(rows: list[tuple[str, str, str]]) -> None:
    symbols = [f"S{i}USDT" for i in range(len(rows))]
    values = [text for row in rows for text in row]
    snapshots, skipped = parse_snapshots(symbols, values, {}, NOW)
    expected = {
        s: wire(s, dict(zip(FIELDS, row, strict=True)))
        for s, row in zip(symbols, rows, strict=True)
    }
    assert {s.symbol: s.error.fault for s in skipped} == {
        s: v for s, v in expected.items() if isinstance(v, Fault)
    }
    kept = {s: v for s, v in expected.items() if not isinstance(v, Fault)}
    assert snapshots.symbols == tuple(kept)  # in the order read
    got = zip(snapshots.position_amt, snapshots.mark_price, snapshots.ts_epoch, strict=True)
    assert [tuple(map(float, g)) for g in got] == list(kept.values())


@given(st.from_regex(_NUMBER, fullmatch=True))
def test_a_plain_number_is_what_the_wire_reads(text: str) -> None:
    value = float(text)
    if not math.isfinite(value):
        return  # refused by the rules checked after the reading, as by the wire
    fields = {"position_amt": text, "mark_price": "1", "ts_epoch": repr(NOW)}
    assert PositionSnapshot.parse("BTCUSDT", fields, NOW).position_amt == value


def test_rows_read_whole_are_judged_as_whole_hashes() -> None:
    good = ["1", "100.5", repr(NOW)]
    symbols = ["AAAUSDT", "GONEUSDT", "NOTAHASH", "NOTS", "BBBUSDT"]
    whole = {
        1: {},  # deleted since the scan
        2: redis.ResponseError("WRONGTYPE Operation against a key"),
        3: {"position_amt": "1", "mark_price": "100"},
    }
    values = good + ["", "", ""] * 3 + ["-2", "3", repr(NOW - 5)]
    snapshots, skipped = parse_snapshots(symbols, values, whole, NOW)
    assert snapshots.symbols == ("AAAUSDT", "BBBUSDT")
    assert snapshots.exposure.tolist() == [100.5, -6.0]
    assert [(s.symbol, s.error.field, s.error.fault) for s in skipped] == [
        ("GONEUSDT", "snapshot", Fault.MISSING),
        ("NOTAHASH", "type", Fault.BAD_FORMAT),
        ("NOTS", "ts_epoch", Fault.MISSING),
    ]


def test_values_must_come_three_per_symbol() -> None:
    with pytest.raises(ValueError, match="4 values for 1 symbols"):
        parse_snapshots(["AAAUSDT"], ["1", "2", "3", "4"], {}, NOW)
    snapshots, skipped = parse_snapshots([], [], {}, NOW)
    assert (len(snapshots), skipped) == (0, [])
    assert snapshots.exposure.dtype == np.float64
