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

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .csv_replay import CsvReplayFeed
from .feed import Feed, FeedError
from .synthetic import SyntheticConfig, SyntheticFeed


class SyntheticSpec(SyntheticConfig):
    kind: Literal["synthetic"] = "synthetic"


class CsvSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["csv"]
    symbols: tuple[str, ...] = Field(min_length=1)
    path: Path
    start_ts: float | None = Field(default=None, allow_inf_nan=False)
    speed: float = Field(default=1.0, gt=0, allow_inf_nan=False)


FeedSpec = Annotated[SyntheticSpec | CsvSpec, Field(discriminator="kind")]
_KINDS: dict[str, type[SyntheticSpec] | type[CsvSpec]] = {
    "synthetic": SyntheticSpec,
    "csv": CsvSpec,
}


def describe(error: ValidationError, prefix: str) -> str:
    """Pydantic's errors as ``prefix.field: message`` lines joined by ``; ``."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in (prefix, *item["loc"]))
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def parse_feed_spec(raw: Mapping[str, Any], symbols: Sequence[str]) -> SyntheticSpec | CsvSpec:
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


def open_feed(raw: Mapping[str, Any], symbols: Sequence[str]) -> Feed:
    """Build the feed ``raw`` describes; reads the CSV (the only I/O) when it is one."""
    spec = parse_feed_spec(raw, symbols)
    if isinstance(spec, CsvSpec):
        return CsvReplayFeed.from_path(
            spec.path, symbols=spec.symbols, start_ts=spec.start_ts, speed=spec.speed
        )
    try:
        return SyntheticFeed(spec)
    except FeedError as exc:
        raise FeedError(f"feed.{exc}") from None
