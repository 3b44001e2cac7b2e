"""How soon a standby bot takes over an account: after kill -9 of the leader, after SIGTERM.

Starts one redis-server and real bot workers (``tradingstack worker bots``, the Redis
lease, a replay feed whose first signal is out of reach) on loopback; every process is
stopped by PID. Each round: leader and standby up, kill -9 of the leader; a new standby,
SIGTERM of the new leader.

- ``takeover after kill -9``: seconds from the kill to the standby's ``leading`` line, by
  that line's own timestamp. Baseline: seconds from the kill until Redis no longer holds
  the lease key (polled every 2 ms): the expiry that any takeover must wait for. A ratio
  near 1: the standby takes over within a cycle of the lease's end.
- ``handover after SIGTERM``: the same, from SIGTERM of the leader. Baseline: the kill -9
  takeover of the same round. A ratio well below 1: the lease was released, not waited out.

The tests assert only who leads and in which order (tests/integration/test_bots.py).
"""

from __future__ import annotations

import json
import signal
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.harness.bot_bars import BUY_AT, PARAMS, feed_doc, write_csv
from tests.harness.processes import DEADLINE, WorkerProcess, start_worker, worker_env
from tests.harness.redis_procs import RedisProcess, redis_server, wait_for

from bench.common import emit, parser
from tradingstack_workers.keys import Keys

NAME = "bot_takeover"
ACCOUNT = "bench"
BAR_SECONDS = 0.5
CYCLE = 0.2


def bot(
    server: RedisProcess, feed: dict[str, object], instance: str, lease: float
) -> WorkerProcess:
    env = worker_env(
        f"redis://127.0.0.1:{server.port}/0",
        None,
        TS_BOT_NAME="bench",
        TS_ACCOUNT=ACCOUNT,
        TS_STRATEGY="breakout_momentum",
        TS_SYMBOLS="BTCUSDT",
        TS_PARAMS=json.dumps(PARAMS),
        TS_FEED=json.dumps(feed),
        TS_CYCLE_SECONDS=str(CYCLE),
        TS_LEASE_SECONDS=str(lease),
        TS_LEASE_SAFETY_SECONDS="0.3",
        TS_HEARTBEAT_INTERVAL_SECONDS="5",
        TS_PERMIT_WAIT_SECONDS="3",
        TS_INSTANCE=instance,
    )
    process = start_worker("bots", env)
    wait_for(lambda: process.get("/readyz")[0] == 200, DEADLINE, f"{instance} ready")
    return process


def led_at(process: WorkerProcess) -> float:
    """Wall time of the process's first ``leading`` line, by the line's own timestamp."""
    line = process.wait_log("leading")
    return datetime.strptime(line["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def lease_gone_at(server: RedisProcess, key: str) -> float:
    client = server.client()
    deadline = time.monotonic() + DEADLINE
    while client.exists(key):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{key} still held")
        time.sleep(0.002)
    return time.time()


def one_round(server: RedisProcess, tmp: Path, lease: float, n: int) -> tuple[float, float, float]:
    """(takeover after kill -9, lease expiry after kill -9, handover after SIGTERM), seconds."""
    server.client().flushall()
    path = write_csv(tmp / f"bars-{n}.csv", "BTCUSDT", 2)
    feed = feed_doc(path, time.time() + 3600 - BUY_AT * BAR_SECONDS, BAR_SECONDS)
    started: list[WorkerProcess] = []
    try:
        started.append(first := bot(server, feed, f"bot-{n}-a", lease))
        led_at(first)
        started.append(second := bot(server, feed, f"bot-{n}-b", lease))
        killed = time.time()
        first.proc.send_signal(signal.SIGKILL)
        expired = lease_gone_at(server, Keys().leader(ACCOUNT)) - killed
        took = led_at(second) - killed
        started.append(third := bot(server, feed, f"bot-{n}-c", lease))
        stopped = time.time()
        second.proc.send_signal(signal.SIGTERM)
        handed = led_at(third) - stopped
        return took, expired, handed
    finally:
        for process in started:
            process.stop()


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    rounds = 1 if args.quick else 5
    lease = 1.5 if args.quick else 5.0
    with tempfile.TemporaryDirectory() as tmp:
        server = redis_server(Path(tmp) / "redis").start()
        try:
            results = [one_round(server, Path(tmp), lease, n) for n in range(rounds)]
        finally:
            server.stop()
    took = statistics.median(r[0] for r in results)
    params = {"lease_s": lease, "cycle_s": CYCLE, "rounds": rounds}
    emit(
        NAME,
        "takeover after kill -9",
        unit="s",
        value=took,
        baseline_case="lease key expiry after kill -9",
        baseline_value=statistics.median(r[1] for r in results),
        **params,
    )
    emit(
        NAME,
        "handover after SIGTERM",
        unit="s",
        value=statistics.median(r[2] for r in results),
        baseline_case="takeover after kill -9",
        baseline_value=took,
        **params,
    )


if __name__ == "__main__":
    main()
