"""A steady load on the gate and intel, counted as the bots' own writes are.

A thread adds ``rate`` proposals a second under the bot name ``chaos-load``, each with its
execution result (a SKIP: the load never trades), written as the bots write theirs: the
XADDs followed by ``WAIT 1`` in the same round trip, and counted as *acknowledged* only
once a replica holds them (what a bot's OnceWriter waits for with Sentinel). A write that
fails is not counted; it may still have landed, and then it is found in the streams and
judged like the others.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import redis

from tradingstack_workers.keys import Keys
from tradingstack_workers.wire import ExecutionResult, Proposal

from .stack import ChaosStack

LOAD_BOT = "chaos-load"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
PRICE = 100.0
#: Tiny orders: the load exercises the gate without moving its heat or concentration.
QTY = 0.01


@dataclass
class ProposalLoad:
    stack: ChaosStack
    rate: float = 10.0
    keys: Keys = field(default_factory=Keys)
    _acknowledged: dict[str, float] = field(default_factory=dict)  # proposal id -> when
    failed_writes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ProposalLoad:
        self._thread = threading.Thread(target=self._run, name="proposal-load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        client = self.stack.master()
        period = 1.0 / self.rate
        next_at = time.monotonic()
        n = 0
        while not self._stop.is_set():
            n += 1
            pid = f"load-{uuid.uuid4().hex}"
            fields = Proposal(
                proposal_id=pid, bot=LOAD_BOT, strategy="load", symbol=SYMBOLS[n % len(SYMBOLS)],
                side="BUY", qty=QTY, price=PRICE, notional_usd=QTY * PRICE, ts=time.time(),
            ).to_fields()  # fmt: skip
            result = ExecutionResult("SKIP", "chaos_load", fields["symbol"], time.time(),
                                     LOAD_BOT, "load", pid).to_fields()  # fmt: skip
            try:
                pipe = client.pipeline(transaction=False)
                pipe.xadd(self.keys.proposal_stream, fields)  # type: ignore[arg-type]
                pipe.xadd(self.keys.result_stream, result)  # type: ignore[arg-type]
                pipe.execute_command("WAIT", 1, 1000)
                *_, replicas = pipe.execute()
                if int(replicas) >= 1:
                    with self._lock:
                        self._acknowledged[pid] = time.time()
                else:
                    self.failed_writes += 1
            except redis.RedisError:
                self.failed_writes += 1
            next_at = max(next_at + period, time.monotonic())
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    @property
    def acknowledged(self) -> dict[str, float]:
        """A copy: proposal id -> when it was acknowledged (the thread adds to the original)."""
        with self._lock:
            return dict(self._acknowledged)

    def acknowledged_since(self, since: float) -> list[str]:
        return [pid for pid, at in self.acknowledged.items() if at >= since]
