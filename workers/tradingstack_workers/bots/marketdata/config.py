"""One JSON document chooses and configures a bot's feed; the bot's symbols fill it in.

``{"kind": "synthetic", "seed": 7, "interval_s": 1, "origin_ts": 1767225600,
"default": {"volatility": 0.6}, "factors": {"crypto": {"BTCUSDT": 0.9, "ETHUSDT": 0.8}}}``
or ``{"kind": "csv", "path": "/data/bars.csv", "start_ts": 1767225600, "speed": 60}``.
Every problem surfaces at start as one :class:`FeedError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ...wire.fields import EpochSeconds, epoch_seconds_problem
from .csv_replay import CsvReplayFeed
from .feed import Feed, FeedError
from .synthetic_config import SyntheticConfig
from .timeframes import timeframe


class SyntheticSpec(SyntheticConfig):
    kind: Literal["synthetic"] = "synthetic"


class CsvSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["csv"]
    symbols: tuple[str, ...] = Field(min_length=1)
    path: Path
    start_ts: EpochSeconds | None = None
    speed: float = Field(default=1.0, gt=0, allow_inf_nan=False)


class ExchangeSpec(BaseModel):
    """Candles of the bot's exchange (``TS_EXCHANGE``), ``interval_s`` long each: one of
    the exchange's bar lengths (:data:`.timeframes.TIMEFRAMES`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["exchange"]
    symbols: tuple[str, ...] = Field(min_length=1)
    interval_s: int = Field(default=60, gt=0)

    @field_validator("interval_s")
    @classmethod
    def _exchange_bar_length(cls, interval_s: int) -> int:
        timeframe(interval_s)  # the exchange's bar lengths only: refused at start, not later
        return interval_s


FeedSpec = Annotated[SyntheticSpec | CsvSpec | ExchangeSpec, Field(discriminator="kind")]
#: How far ahead of the bot's start a feed may be scheduled to begin (``start_ts`` of a
#: replay, ``origin_ts`` of a synthetic market): further, it is a date or unit mistake,
#: and the bot would sit silent, with no bar and no error, until then.
MAX_START_AHEAD_SECONDS = 86_400.0
_KINDS: dict[str, type[SyntheticSpec] | type[CsvSpec] | type[ExchangeSpec]] = {
    "synthetic": SyntheticSpec,
    "csv": CsvSpec,
    "exchange": ExchangeSpec,
}


def describe(error: ValidationError, prefix: str) -> str:
    """Pydantic's errors as ``prefix.field: message`` lines joined by ``; ``."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in (prefix, *item["loc"]))
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def parse_feed_spec(
    raw: Mapping[str, Any], symbols: Sequence[str]
) -> SyntheticSpec | CsvSpec | ExchangeSpec:
    """Validate ``raw`` (without symbols) for the given symbols."""
    if "symbols" in raw:
        raise FeedError("feed.symbols: set by the bot's own symbols, not in the feed document")
    kind = raw.get("kind")
    model = _KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise FeedError(f"feed.kind: {kind!r} is not one of {', '.join(_KINDS)}")
    try:
        return model.model_validate({**raw, "symbols": tuple(symbols)})
    except ValidationError as exc:
        raise FeedError(describe(exc, "feed")) from None


def open_feed(raw: Mapping[str, Any], symbols: Sequence[str], now: float | None = None) -> Feed:
    """Build the feed ``raw`` describes for ``symbols``: :func:`parse_feed_spec`, then
    :func:`build_feed`.

    An exchange feed needs the bot's exchange client: the bot builds it
    (:class:`.exchange_feed.ExchangeFeed`); asking here is a :class:`FeedError`.
    """
    spec = parse_feed_spec(raw, symbols)
    if isinstance(spec, ExchangeSpec):
        raise FeedError("feed.kind: exchange is built by the bot from TS_EXCHANGE")
    return build_feed(spec, now)


def build_feed(spec: SyntheticSpec | CsvSpec, now: float | None = None) -> Feed:
    """Build the feed of a parsed ``spec``; reads the CSV (the only I/O) when it is one.

    With ``now`` (epoch seconds), a recording replayed at its own times whose first bar
    lies ahead of ``now`` is refused: the bot would wait silently for it. ``start_ts``
    (a replay) and ``origin_ts`` (a synthetic market) may schedule the feed to begin a
    little later: at most :data:`MAX_START_AHEAD_SECONDS` after ``now``. Raises
    :class:`FeedError` naming the field.
    """
    field, begins = (
        ("start_ts", spec.start_ts) if isinstance(spec, CsvSpec) else ("origin_ts", spec.origin_ts)
    )
    if now is not None and begins is not None and begins - now > MAX_START_AHEAD_SECONDS:
        raise FeedError(
            f"feed.{field}: {begins!r} is {begins - now:.0f} s ahead; a feed may begin"
            f" at most {MAX_START_AHEAD_SECONDS:.0f} s after the bot starts"
        )
    if isinstance(spec, CsvSpec):
        replay = CsvReplayFeed.from_path(
            spec.path, symbols=spec.symbols, start_ts=spec.start_ts, speed=spec.speed
        )
        first = replay.first_ts
        if now is not None and first is not None and spec.start_ts is None:
            problem = epoch_seconds_problem(first, now)
            if problem is not None:
                raise FeedError(f"{spec.path}: ts: the first bar closes at {problem[1]}")
        return replay
    from .synthetic import SyntheticFeed  # noqa: PLC0415 - numpy loads with a feed only

    try:
        return SyntheticFeed(spec)
    except FeedError as exc:
        raise FeedError(f"feed.{exc}") from None
