"""Market data behind one interface: closed bars from a :class:`Feed`.

Implementations: :class:`SyntheticFeed` (correlated GBM, a pure function of seed,
config and bar index) and :class:`CsvReplayFeed` (recorded bars); a live exchange
adapter implements the same protocol. :func:`market_state` turns bars into the
governor's volatility input.
"""

from .config import (
    CsvSpec,
    ExchangeSpec,
    FeedSpec,
    SyntheticSpec,
    build_feed,
    open_feed,
    parse_feed_spec,
)
from .csv_replay import CsvReplayFeed, parse_csv
from .feed import Bar, Feed, FeedError
from .state import VolRegime, VolState, market_state, regime
from .synthetic import PathParams, SyntheticConfig, SyntheticFeed

__all__ = [
    "Bar",
    "CsvReplayFeed",
    "CsvSpec",
    "ExchangeSpec",
    "Feed",
    "FeedError",
    "FeedSpec",
    "PathParams",
    "SyntheticConfig",
    "SyntheticFeed",
    "SyntheticSpec",
    "VolRegime",
    "VolState",
    "build_feed",
    "market_state",
    "open_feed",
    "parse_csv",
    "parse_feed_spec",
    "regime",
]
