"""A worker's Redis client writing as fast as acknowledged: ``python -m tests.harness.ack_writer``.

Configured like any worker, by ``TS_*`` variables (the rendered worker Deployment's, with
the password file where the pod would mount it), it adds member ``n`` to a set through
the workers' exactly-once writer (with Sentinel: acknowledged once a replica holds it,
WAIT 1), n = 0, 1, 2, ... Each outcome is a line of the output file, flushed at once:
``ack N T`` when acknowledged, ``fail N T REASON`` when the retry budget ran out (the
write may or may not have been applied), T being time.monotonic() (one clock for every
process of the machine). SIGTERM stops it after the write in flight.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from pathlib import Path

from tradingstack_workers.runtime import logs
from tradingstack_workers.runtime.once import OnceWriter
from tradingstack_workers.runtime.redis_client import RedisUnavailable, RetryPolicy, connect
from tradingstack_workers.runtime.settings import RuntimeSettings, load_settings


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--out", type=Path, required=True)
    args.add_argument("--key", required=True, help="the set written to (under the key prefix)")
    args.add_argument("--pause", type=float, default=0.005, help="seconds between writes")
    options = args.parse_args()
    settings = load_settings(RuntimeSettings)
    logs.configure(settings.log_level, {"kind": "ack-writer"})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = connect(settings)
    retry = RetryPolicy(budget_seconds=settings.redis_retry_budget_seconds, stop=stop)
    writer = OnceWriter(client, retry, settings.key_prefix, replicas=settings.write_replicas,
                        replica_timeout_ms=settings.redis_write_replica_timeout_ms)  # fmt: skip
    run = f"{settings.instance}-{time.time_ns()}"
    with options.out.open("a", encoding="utf-8") as out:
        out.write(f"start - {time.monotonic():.6f}\n")
        out.flush()
        n = 0
        while not stop.is_set():
            try:
                writer.apply(f"{run}:{n}", [["SADD", options.key, n]], keys=[options.key])
                out.write(f"ack {n} {time.monotonic():.6f}\n")
            except RedisUnavailable as exc:
                out.write(f"fail {n} {time.monotonic():.6f} {str(exc)[:200]!r}\n")
            except Exception as exc:  # anything else is reported, then the writer goes on
                if stop.is_set():
                    break
                out.write(f"fail {n} {time.monotonic():.6f} {type(exc).__name__}: "
                          f"{str(exc)[:200]!r}\n")  # fmt: skip
            out.flush()
            n += 1
            stop.wait(options.pause)


if __name__ == "__main__":
    main()
