"""A recording whose bars make breakout_momentum (lookback 5) signal at known bars.

Every period of 20 bars: 10 flat bars, a jump (BUY ``breakout_high`` on bar 10 of the
period), four rising bars, a drop into the exit channel (EXIT ``channel_exit`` on bar
15), flat again at the new level. Bar ``i`` closes ``i * INTERVAL`` seconds after the
first, so with ``start_ts``/``speed`` the replay maps each bar onto the wall clock.

Also the environment of a bots worker trading that replay, and of the gate beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import TEST_PASSWORD
from tests.harness.processes import worker_env

PARAMS = {"lookback": 5.0, "exit_lookback": 2.0}
PERIOD = 20
BUY_AT = 10
EXIT_AT = 15
INTERVAL = 60.0  # recorded seconds between bars
EPOCH0 = 1_700_000_000.0

#: The bots' cadence (seconds). The leader renews every cycle and must do so within
#: LEASE - LEASE_SAFETY, permit waits included: a margin of seconds, so that a loaded
#: machine does not change leaders.
CYCLE = 0.2
LEASE = 4.0
LEASE_SAFETY = 0.5
PERMIT_WAIT = 3.0
HEARTBEAT = 5.0  # longer than a permit wait, as the settings require


def closes(periods: int) -> list[float]:
    out: list[float] = []
    level = 100.0
    for _ in range(periods):
        for i in range(PERIOD):
            if i < BUY_AT:
                out.append(level + (0.05 if i % 2 else 0.0))
            elif i < EXIT_AT:
                out.append(level + 2.0 + 0.2 * (i - BUY_AT))
            else:
                out.append(level + 2.1 + (0.05 if i % 2 else 0.0))
        level += 2.1
    return out


def write_csv(path: Path, symbol: str, periods: int, *, bars: int | None = None) -> Path:
    """``periods`` periods of bars, cut after the first ``bars`` when given."""
    lines = ["ts,symbol,open,high,low,close,volume"]
    prev = None
    for i, close in enumerate(closes(periods)[:bars]):
        open_ = close if prev is None else prev
        high, low = max(open_, close) + 0.05, min(open_, close) - 0.05
        lines.append(f"{EPOCH0 + i * INTERVAL},{symbol},{open_},{high},{low},{close},1000")
        prev = close
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def feed_doc(path: Path, start_ts: float, bar_seconds: float) -> dict[str, object]:
    """TS_FEED for a replay whose first bar closes at ``start_ts``, one bar per ``bar_seconds``."""
    return {"kind": "csv", "path": str(path), "start_ts": start_ts, "speed": INTERVAL / bar_seconds}


def breakout_bot_env(
    feed: dict[str, object], *, bot: str, account: str, symbol: str, **extra: str
) -> dict[str, str]:
    """The TS_* variables of a bots worker running breakout_momentum (:data:`PARAMS`) on
    ``feed`` (:func:`feed_doc`) for one ``symbol``, at the cadence above, 100 USD an
    order; ``extra`` adds variables or replaces these. How it reaches Redis is the
    caller's part (e.g. :func:`tests.harness.processes.worker_env`)."""
    return {
        "TS_BOT_NAME": bot,
        "TS_ACCOUNT": account,
        "TS_STRATEGY": "breakout_momentum",
        "TS_SYMBOLS": symbol,
        "TS_PARAMS": json.dumps(PARAMS),
        "TS_FEED": json.dumps(feed),
        "TS_CYCLE_SECONDS": str(CYCLE),
        "TS_LEASE_SECONDS": str(LEASE),
        "TS_LEASE_SAFETY_SECONDS": str(LEASE_SAFETY),
        "TS_PERMIT_WAIT_SECONDS": str(PERMIT_WAIT),
        "TS_HEARTBEAT_INTERVAL_SECONDS": str(HEARTBEAT),
        "TS_ORDER_QTY_USD": "100",
        **extra,
    }


def gate_env(redis_url: str) -> dict[str, str]:
    """A gate worker on ``redis_url`` (password :data:`tests.conftest.TEST_PASSWORD`) that
    answers the bots' proposals promptly and publishes its heat every half second."""
    return worker_env(
        redis_url,
        TEST_PASSWORD,
        TS_STREAM_BLOCK_MS="200",
        TS_SNAPSHOT_RESCAN_SECONDS="0",
        TS_HEAT_PUBLISH_SECONDS="0.5",
    )
