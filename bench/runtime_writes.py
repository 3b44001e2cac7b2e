"""What exactly-once and replica-acknowledged writes cost against a raw INCR round trip.

Starts a redis-server master with one online replica on loopback; measures, in one
run: raw INCR (the floor), the exactly-once writer without WAIT, and with WAIT 1.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from tests.harness.redis_procs import online_replicas, redis_server, wait_for

from bench.common import emit, parser, rate
from tradingstack_workers.runtime.once import OnceWriter
from tradingstack_workers.runtime.redis_client import RetryPolicy


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    seconds = 0.2 if args.quick else 3.0
    with tempfile.TemporaryDirectory() as tmp:
        master = redis_server(Path(tmp) / "m").start()
        replica = redis_server(Path(tmp) / "r", replica_of=master.port).start()
        try:
            wait_for(lambda: online_replicas(master.client()) == 1, 15, "replica online")
            client = master.client()
            raw = rate(lambda: client.incr("raw"), seconds)
            ids = itertools.count()
            for replicas in (0, 1):
                writer = OnceWriter(
                    client, RetryPolicy(budget_seconds=5), "bench", replicas=replicas
                )

                def write_once(w: OnceWriter = writer) -> object:
                    return w.apply(f"op{next(ids)}", [["INCR", "once"]])

                emit(
                    "runtime_writes",
                    f"once, WAIT {replicas}" if replicas else "once, no WAIT",
                    unit="ops/s",
                    value=rate(write_once, seconds),
                    baseline_case="raw INCR",
                    baseline_value=raw,
                    seconds=seconds,
                    replicas=replicas,
                )
        finally:
            replica.stop()
            master.stop()


if __name__ == "__main__":
    main()
