"""CSV replay: validation with line numbers, ts-ordered replay, time shifting; feed config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tradingstack_workers.bots.marketdata import (
    CsvReplayFeed,
    FeedError,
    SyntheticFeed,
    open_feed,
    parse_csv,
)
from tradingstack_workers.bots.marketdata.config import MAX_START_AHEAD_SECONDS

HEADER = "ts,symbol,open,high,low,close,volume"
#: 2026-01-01T00:00:00Z: recordings carry epoch seconds (or ISO 8601 times).
T = 1_767_225_600
# Deliberately out of order: replay must sort by (ts, symbol).
ROWS = [
    f"{T + 180},BTC,101,103,100,102,5",
    f"{T + 60},ETH,10,11,9,10.5,7",
    f"{T + 60},BTC,100,101,99,100.5,3",
    f"{T + 120},BTC,100.5,102,100,101,4",
    f"{T + 120},ETH,10.5,11,10,10.8,6",
    f"{T + 180},ETH,10.8,11.2,10.6,11,8",
]


def feed(rows: list[str] = ROWS, **kwargs: object) -> CsvReplayFeed:
    return CsvReplayFeed(parse_csv([HEADER, *rows], "bars.csv"), **kwargs)  # type: ignore[arg-type]


def test_replays_in_ts_then_symbol_order_and_never_ahead_of_now() -> None:
    replay = feed()
    assert replay.symbols == ("BTC", "ETH")
    assert replay.poll(T + 59.0) == []
    first = replay.poll(T + 120.0)
    assert [(b.ts - T, b.symbol) for b in first] == [
        (60.0, "BTC"),
        (60.0, "ETH"),
        (120.0, "BTC"),
        (120.0, "ETH"),
    ]
    assert replay.poll(T + 120.0) == []
    assert not replay.exhausted
    assert [(b.ts - T, b.symbol) for b in replay.poll(1e12)] == [(180.0, "BTC"), (180.0, "ETH")]
    assert replay.exhausted


def test_max_steps_returns_whole_time_steps() -> None:
    replay = feed()
    assert [b.ts - T for b in replay.poll(1e12, max_steps=1)] == [60.0, 60.0]
    assert replay.cursor == T + 60.0
    assert [b.ts - T for b in replay.poll(1e12, max_steps=1)] == [120.0, 120.0]


def test_seek_and_history_for_a_restart() -> None:
    replay = feed()
    replay.seek(T + 60.0)
    assert [b.ts - T for b in replay.poll(1e12)] == [120.0, 120.0, 180.0, 180.0]
    history = feed().history(until=T + 150.0, count=1)
    assert [(b.symbol, b.close) for b in history["BTC"]] == [("BTC", 101.0)]
    assert [(b.symbol, b.close) for b in history["ETH"]] == [("ETH", 10.8)]


def test_symbols_filter_the_recording_and_a_missing_one_is_an_error() -> None:
    assert {b.symbol for b in feed(symbols=["ETH"]).poll(1e12)} == {"ETH"}
    with pytest.raises(FeedError, match="symbols: no bars for SOL"):
        feed(symbols=["BTC", "SOL"])


def test_start_ts_and_speed_shift_the_recording_onto_the_bots_clock() -> None:
    start = 1_800_000_000.0
    replay = feed(start_ts=start, speed=60.0)
    # Recorded 60 s apart, replayed at 60x: one second apart from start_ts.
    expected = [start, start, start + 1, start + 1]
    assert [b.ts for b in replay.poll(start + 1)] == expected


def test_iso_timestamps_with_a_zone_are_accepted() -> None:
    bars = parse_csv([HEADER, "2026-01-01T00:01:00Z,BTC,1,1,1,1,0"])
    assert bars[0].ts == 1767225660.0
    with pytest.raises(FeedError, match=r"<csv>:2: ts: .* has no time zone"):
        parse_csv([HEADER, "2026-01-01T00:01:00,BTC,1,1,1,1,0"])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([f"{T + 60},BTC,100,101,99,abc,3"], "bars.csv:2: close: 'abc' is not a number"),
        ([f"{T + 60},BTC,100,101,99,100", ""], "bars.csv:2: 6 fields, expected 7"),
        ([f"{T + 60},BTC,100,101,99,100,3", "x,BTC,1,1,1,1,1"], "bars.csv:3: ts: 'x' is neither"),
        ([f"{T + 60},,100,101,99,100,3"], "bars.csv:2: symbol: empty"),
        ([f"{T + 60},BTC,100,99,98,100,3"], "bars.csv:2: high: 99.0 is below open, close or low"),
        ([f"{T + 60},BTC,100,101,100.5,100,3"], "bars.csv:2: low: 100.5 is above open or close"),
        ([f"{T + 60},BTC,0,101,99,100,3"], "bars.csv:2: open: 0.0 must be > 0"),
        ([f"{T + 60},BTC,100,101,99,100,-1"], "bars.csv:2: volume: -1.0 must be >= 0"),
        ([f"{T + 60},BTC,100,101,99,100,nan"], "bars.csv:2: volume: nan is not a finite number"),
        (
            [f"{T + 60},BTC,100,101,99,100,3", f"{T + 60},BTC,100,101,99,100,3"],
            f"bars.csv:3: ts: BTC at {T + 60.0}",
        ),
        # Every unit but seconds is refused at start, naming the line: never a silent wait.
        ([f"{T * 1000},BTC,1,1,1,1,0"], "bars.csv:2: ts: 1767225600000 looks like milliseconds"),
        ([f"{T * 10**6},BTC,1,1,1,1,0"], "bars.csv:2: ts: 1767225600000000 looks like micro"),
        ([f"{T * 10**9},BTC,1,1,1,1,0"], "bars.csv:2: ts: 1767225600000000000 looks like nano"),
        ([f"{T // 60},BTC,1,1,1,1,0"], "bars.csv:2: ts: 29453760.0 is before 2000-01-01"),
        (["-5,BTC,1,1,1,1,0"], "bars.csv:2: ts: -5.0 is before 2000-01-01"),
        # Digits of other scripts are no number here, as in every wire format.
        (
            [f"{T + 60},BTC,\uff11\uff10\uff10,1,1,1,0"],
            "bars.csv:2: open: '\uff11\uff10\uff10' is not",
        ),
    ],
)
def test_a_malformed_row_names_its_line_and_field(rows: list[str], message: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_csv([HEADER, *rows], "bars.csv")
    assert message in str(caught.value)


def test_header_is_checked_and_column_order_is_free() -> None:
    with pytest.raises(FeedError, match=r"bars\.csv:1: header ts,symbol,close"):
        parse_csv(["ts,symbol,close", "60,BTC,1"], "bars.csv")
    with pytest.raises(FeedError, match="empty file"):
        parse_csv([], "bars.csv")
    bars = parse_csv(["symbol,close,ts,open,high,low,volume", f"BTC,2,{T + 60},1,3,1,0"])
    assert (bars[0].ts, bars[0].open, bars[0].close, bars[0].high) == (T + 60.0, 1.0, 2.0, 3.0)


def test_open_feed_reads_a_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    replay = open_feed({"kind": "csv", "path": str(path)}, ["BTC"], now=T + 3600.0)
    assert [b.close for b in replay.poll(1e12)] == [100.5, 101.0, 102.0]
    with pytest.raises(FeedError, match=r"missing.csv: cannot read"):
        open_feed({"kind": "csv", "path": str(tmp_path / "missing.csv")}, ["BTC"])


def test_open_feed_builds_a_synthetic_feed_from_one_json_document() -> None:
    doc = json.loads(f'{{"kind": "synthetic", "seed": 7, "interval_s": 1, "origin_ts": {T}}}')
    synthetic = open_feed(doc, ["BTC", "ETH"])
    assert isinstance(synthetic, SyntheticFeed)
    assert synthetic.symbols == ("BTC", "ETH")
    assert [b.ts - T for b in synthetic.poll(T + 2.0)] == [1.0, 1.0, 2.0, 2.0]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"kind": "kafka"}, "feed.kind: 'kafka' is not one of synthetic, csv"),
        ({"seed": 1}, "feed.kind: None is not one of"),
        ({"kind": "synthetic", "seed": 1, "interval_s": 0}, "feed.interval_s: "),
        ({"kind": "synthetic", "seed": 1}, "feed.origin_ts: Field required"),
        ({"kind": "synthetic", "seed": 1, "origin_ts": T, "typo": 1}, "feed.typo: Extra inputs"),
        ({"kind": "synthetic", "seed": 1, "symbols": ["X"]}, "feed.symbols: set by the bot"),
        (
            {"kind": "synthetic", "seed": 1, "origin_ts": T, "correlation": [[1, 2], [2, 1]]},
            "feed.correlation[BTC][ETH]: 2.0 is outside [-1, 1]",
        ),
        ({"kind": "csv", "path": "x.csv", "speed": 0}, "feed.speed: "),
    ],
)
def test_feed_documents_are_validated_naming_the_field(
    doc: dict[str, object], message: str
) -> None:
    with pytest.raises(FeedError) as caught:
        open_feed(doc, ["BTC", "ETH"])
    assert message in str(caught.value)


def test_a_replay_in_the_future_is_refused_at_start(tmp_path: Path) -> None:
    """Recorded ahead of the clock, a replay would wait silently: refused at start."""
    path = tmp_path / "bars.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    with pytest.raises(FeedError, match=r"bars.csv: ts: the first bar closes at .* in the future"):
        open_feed({"kind": "csv", "path": str(path)}, ["BTC"], now=T - 3600.0)
    doc = {"kind": "csv", "path": str(path), "start_ts": T + 60.0}  # scheduled: fine
    assert open_feed(doc, ["BTC"], now=float(T)) is not None
    with pytest.raises(FeedError, match=r"feed.start_ts: .*looks like milliseconds"):
        open_feed({**doc, "start_ts": T * 1000.0}, ["BTC"], now=float(T))
    assert open_feed({**doc, "start_ts": float(T)}, ["BTC"], now=float(T)) is not None


@pytest.mark.parametrize("kind", ["csv", "synthetic"])
def test_a_feed_scheduled_beyond_a_day_ahead_is_refused_at_start(tmp_path: Path, kind: str) -> None:
    """A start a year ahead (a wrong date, or seconds from the wrong clock) would leave
    the bot silent, with no bar and no error, until then: refused, naming the field."""
    path = tmp_path / "bars.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    field = "start_ts" if kind == "csv" else "origin_ts"
    doc: dict[str, object] = (
        {"kind": "csv", "path": str(path)} if kind == "csv" else {"kind": "synthetic", "seed": 1}
    )
    now = float(T)
    within = now + MAX_START_AHEAD_SECONDS
    assert open_feed({**doc, field: within}, ["BTC"], now=now) is not None
    for ahead in (MAX_START_AHEAD_SECONDS + 1, 365 * 86_400.0):
        with pytest.raises(FeedError, match=rf"^feed.{field}: .* s ahead; a feed may begin"):
            open_feed({**doc, field: now + ahead}, ["BTC"], now=now)
