"""A minimal active-standby trader for tests: RedisLease + PaperExchange, as a real process.

Not the bot worker (the lead composes that): just enough loop to show, across real
processes and real signals, that only the current leader's orders fill. Every
cycle it renews or acquires, and while leader submits one small order; it prints
JSON lines (``leader`` on each new epoch, ``standby`` at its first cycle and each time
it finds itself no longer leading, ``order``, ``released``) for the test to read. On
SIGTERM it releases the lease, as the bot worker must.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tradingstack_workers.bots.execution import (
    OrderIntent,
    PaperConfig,
    PaperExchange,
    Protections,
)
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.leadership import RedisLease
from tradingstack_workers.runtime.redis_client import RetryPolicy
from tradingstack_workers.wire.proposal import Side

ACCOUNT = "paper-ha"


def emit(msg: str, **fields: Any) -> None:
    print(json.dumps({"msg": msg, **fields}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--holder", required=True)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--cycle", type=float, default=0.05)
    args = parser.parse_args()
    client = redis.Redis(
        host="127.0.0.1",
        port=args.port,
        password=os.environ.get("TS_REDIS_PASSWORD"),
        decode_responses=True,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    keys = Keys()
    lease = RedisLease(client, keys.bot_leadership(ACCOUNT), args.holder, lease_seconds=args.lease)
    exchange = PaperExchange(
        client,
        RetryPolicy(budget_seconds=1.0),
        keys,
        ACCOUNT,
        config=PaperConfig(),
        protections=Protections(),
    )
    exchange.open()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    count = 0
    epoch: int | None = None
    leading: bool | None = None
    while not stop.is_set():
        held = lease.acquire_or_renew(time.monotonic())
        if held is None or not lease.is_leader(time.monotonic()):
            if leading is not False:
                emit("standby")
            leading = False
        else:
            leading = True
            if held.epoch != epoch:
                epoch = held.epoch
                emit("leader", epoch=epoch)
            count += 1
            side: Side = "BUY" if count % 2 else "SELL"
            intent_id = f"{args.holder}-{count}"
            order = OrderIntent(ACCOUNT, args.holder, intent_id, "BTCUSDT", side, 1.0)
            result = exchange.submit(order, held.epoch, 100.0, time.time())
            emit("order", label=result.label, epoch=held.epoch, n=count)
        stop.wait(args.cycle)
    lease.release()
    emit("released")


if __name__ == "__main__":
    main()
