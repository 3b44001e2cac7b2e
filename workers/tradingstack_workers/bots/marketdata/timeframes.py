"""The bar lengths an exchange feed accepts (ccxt's timeframe names), without ccxt.

The spec checks a bot's ``feed.intervalSeconds`` against these before anything runs;
the operator must not import ccxt for that.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Bar lengths the exchange feed accepts, as ccxt's timeframe names.
TIMEFRAMES: Mapping[int, str] = {
    1: "1s",
    60: "1m",
    180: "3m",
    300: "5m",
    900: "15m",
    1800: "30m",
    3600: "1h",
    7200: "2h",
    14400: "4h",
    21600: "6h",
    28800: "8h",
    43200: "12h",
    86400: "1d",
}


def timeframe(interval_s: int) -> str:
    """ccxt's timeframe name of an exchange bar ``interval_s`` seconds long.

    Raises ValueError when the exchange has no bar of that length.
    """
    try:
        return TIMEFRAMES[interval_s]
    except KeyError:
        raise ValueError(
            f"{interval_s} is not an exchange bar length"
            f" (one of {', '.join(map(str, TIMEFRAMES))} seconds)"
        ) from None
