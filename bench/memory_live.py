"""Resident memory of a live bot (its exchange through ccxt) at steady state, in a real stack.

Starts the fake Binance on loopback and runs ``tradingstack up`` on the example stack
turned live (tests/harness/live_stack.py: one bot, two replicas, on the fake), every
process under the loopback guard. Once the stack is healthy and orders reached the fake,
it waits to settle and samples the bot processes' resident set as ``bench.memory`` does
(the largest ``VmRSS`` sample over a window).

Baseline, same run: the same stack again, its processes started with
``bench/_whole_ccxt`` first on PYTHONPATH, which imports ccxt whole (every exchange)
before the bot does: the bot as it loaded ccxt before lean_ccxt.py. The target is
absolute (issue #18: at most 80 MB, ``limit_mb``); the ratio is what loading one exchange
instead of all of them leaves. Each process runs its own checkout's code (``workers/``
and ``operator/`` first on PYTHONPATH).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import yaml
from tests.harness.live_stack import live_example, synthetic_fake
from tests.harness.loopback_guard import SITE
from tests.harness.up_process import UpProcess

from bench.common import emit, parser
from bench.memory import LIMIT_MB, ROOT, peak_rss, wait_started
from tradingstack_operator.manifests import Dumper

NAME = "memory_live"
WHOLE_CCXT = ROOT / "bench" / "_whole_ccxt"
API_KEY = "bench-key-0123456789abcdef"
SECRET = "bench-secret-fedcba9876543210"


def live_bot_peak(
    site: str, settle: float, window: float, *, trading: bool
) -> tuple[float, int, int]:
    """Largest RSS (MB) of the live bot's processes with ``site`` first on PYTHONPATH,
    how many processes, and the orders the fake accepted by the end of the window;
    ``trading``: sampled only once an order reached the fake."""
    fake = synthetic_fake(API_KEY, SECRET)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = Path(tmp) / "live.yaml"
            manifest.write_text(yaml.dump(live_example(fake.url), Dumper=Dumper), "utf-8")
            path = [site, str(ROOT), str(ROOT / "workers"), str(ROOT / "operator")]
            environ = {
                "TS_EXCHANGE_API_KEY": API_KEY,
                "TS_EXCHANGE_SECRET": SECRET,
                "PYTHONPATH": os.pathsep.join(path),
            }
            up = UpProcess(manifest, Path(tmp) / "data", environ=environ)
            try:
                pids = wait_started(up, time.monotonic() + 180)
                deadline = time.monotonic() + 180
                while trading and not fake.accepted() and time.monotonic() < deadline:
                    time.sleep(0.2)
                if trading and not fake.accepted():
                    raise SystemExit("the live bot placed no order in time")
                time.sleep(settle)
                peak = peak_rss(pids, window)["bots"]
                return peak, len(pids["bots"]), len(fake.accepted())
            finally:
                up.stop()
    finally:
        fake.stop()


def main() -> None:
    args = parser(__doc__ or NAME).parse_args()
    settle, window = (3.0, 3.0) if args.quick else (30.0, 30.0)
    trading = not args.quick
    lean, processes, orders = live_bot_peak(SITE, settle, window, trading=trading)
    whole, _, whole_orders = live_bot_peak(str(WHOLE_CCXT), settle, window, trading=trading)
    emit(
        NAME,
        "live bots worker (binance through ccxt), steady-state RSS",
        unit="MB",
        value=lean,
        baseline_case="the same live bot with every ccxt exchange imported (before lean_ccxt)",
        baseline_value=whole,
        limit_mb=LIMIT_MB,
        within_limit=lean <= LIMIT_MB,
        processes=processes,
        orders_accepted=orders,
        baseline_orders_accepted=whole_orders,
        settle_seconds=settle,
        window_seconds=window,
    )


if __name__ == "__main__":
    main()
