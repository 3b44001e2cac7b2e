"""A recording whose bars make breakout_momentum (lookback 5) signal at known bars.

Every period of 20 bars: 10 flat bars, a jump (BUY ``breakout_high`` on bar 10 of the
period), four rising bars, a drop into the exit channel (EXIT ``channel_exit`` on bar
15), flat again at the new level. Bar ``i`` closes ``i * INTERVAL`` seconds after the
first, so with ``start_ts``/``speed`` the replay maps each bar onto the wall clock.
"""

from __future__ import annotations

from pathlib import Path

PARAMS = {"lookback": 5.0, "exit_lookback": 2.0}
PERIOD = 20
BUY_AT = 10
EXIT_AT = 15
INTERVAL = 60.0  # recorded seconds between bars
EPOCH0 = 1_700_000_000.0


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
