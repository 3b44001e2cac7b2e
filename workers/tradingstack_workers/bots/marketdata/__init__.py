"""Market data behind one interface: closed bars from a :class:`Feed`.

Implementations: :class:`SyntheticFeed` (correlated GBM, a pure function of seed,
config and bar index) and :class:`CsvReplayFeed` (recorded bars); a live exchange
adapter implements the same protocol. :func:`market_state` turns bars into the
governor's volatility input.

Names here load their module (numpy among them) on first use: the specs and bars
(:mod:`.config`, :mod:`.feed`) are read without the feeds, by the operator among others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...runtime.lazy import lazy_attributes

if TYPE_CHECKING:
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
    from .synthetic import SyntheticFeed
    from .synthetic_config import PathParams, SyntheticConfig

_HOME = {
    "Bar": ".feed",
    "CsvReplayFeed": ".csv_replay",
    "CsvSpec": ".config",
    "ExchangeSpec": ".config",
    "Feed": ".feed",
    "FeedError": ".feed",
    "FeedSpec": ".config",
    "PathParams": ".synthetic_config",
    "SyntheticConfig": ".synthetic_config",
    "SyntheticFeed": ".synthetic",
    "SyntheticSpec": ".config",
    "VolRegime": ".state",
    "VolState": ".state",
    "build_feed": ".config",
    "market_state": ".state",
    "open_feed": ".config",
    "parse_csv": ".csv_replay",
    "parse_feed_spec": ".config",
    "regime": ".state",
}

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

__getattr__ = lazy_attributes(__name__, _HOME)
