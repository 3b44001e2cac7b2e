"""What the kill switch and a singleton's fence cost per write, against a plain write.

Cases, each against its same-run baseline on the same Sentinel-managed master (one
master, two replicas, three sentinels on loopback):

* ``engage`` (``runtime.killswitch.engage``: SET, WAIT for one replica, GET back, as the
  operator and ``tradingstack halt`` do) against a plain SET of the same key;
* ``fenced write`` (``runtime.fencing.FencedWriter``: epoch check, a budget hash's three
  commands, the journal entry, WAIT for one replica) against the same three commands in
  a MULTI followed by the same WAIT.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis
from tests.harness.redis_procs import start_sentinel_cluster

from bench.common import emit, parser
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime import killswitch
from tradingstack_workers.runtime.fencing import FencedWriter
from tradingstack_workers.runtime.once import Command
from tradingstack_workers.runtime.redis_client import RetryPolicy

KEYS = Keys("bench")


def per_second(operation: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        operation()
    return n / (time.perf_counter() - started)


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 50 if args.quick else 3000
    with tempfile.TemporaryDirectory() as tmp:
        cluster = start_sentinel_cluster(Path(tmp) / "cluster", password="bench")
        try:
            client: redis.Redis = cluster.master().client()
            plain = per_second(lambda: client.set(KEYS.halted, "1"), n)
            engage = per_second(lambda: killswitch.engage(client, KEYS, True, replicas=1), n)
            emit("kill_switch", "engage (SET, WAIT 1, GET)", unit="ops/s", value=engage,
                 baseline_case="plain SET", baseline_value=plain, n=n)  # fmt: skip

            scope = KEYS.singleton_leadership("governor")
            client.set(scope.fence, 1)
            writer = FencedWriter(
                client, RetryPolicy(budget_seconds=5), fence=scope.fence,
                journal=KEYS.singleton_journal("governor"), holder="bench",
                marker_prefix=KEYS.prefix, replicas=1,
            )  # fmt: skip
            key = KEYS.budget("BTCUSDT")
            commands: list[Command] = [
                ["DEL", key],
                ["HSET", key, "budget_usd", "100.0", "mode", "enforce"],
                ["EXPIRE", key, 300],
            ]

            def multi() -> None:
                pipe = client.pipeline(transaction=True)
                pipe.delete(key)
                pipe.hset(key, mapping={"budget_usd": "100.0", "mode": "enforce"})
                pipe.expire(key, 300)
                pipe.execute()
                client.execute_command("WAIT", 1, 500)

            unfenced = per_second(multi, n)
            fenced = per_second(lambda: writer.apply(1, "budgets", commands), n)
            emit("kill_switch", "fenced write (epoch check + journal, WAIT 1)", unit="ops/s",
                 value=fenced, baseline_case="MULTI + WAIT 1", baseline_value=unfenced,
                 n=n)  # fmt: skip
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
