"""The kill switch as runtime state: ``Keys.halted`` in the stack's Redis.

"1" halts: the bots open no new positions (the execution chokepoint refuses every
entry with ``halted``), while orders that reduce or close a position still run.
Anything else (absent, "0") trades. Nothing is redeployed to halt or resume: every
bot reads the key on every cycle and the chokepoint on every order.

Three writers set it, all through :func:`engage`: the operator on every
reconciliation (from ``spec.halted``, before any child is applied, also when the
stack is paused), ``tradingstack halt|resume NAME`` (when the operator is down), and
``tradingstack up`` at start. Each reads the value back; with replicas it also waits
until one holds it, so a failover right after the write keeps the switch (Redis
persists it with the rest of the data: append-only file).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from ..keys import Keys

HALTED = "1"
TRADING = "0"


@dataclass(frozen=True)
class SwitchState:
    """What Redis holds after a write: ``halted`` read back, and whether enough replicas
    acknowledged it to survive a failover (always True when none are required)."""

    halted: bool
    replicated: bool


def read(client: redis.Redis, keys: Keys) -> bool | None:
    """True halted, False trading ("0"), None when the key was never set."""
    value = client.get(keys.halted)
    if value is None:
        return None
    return str(value) == HALTED


def engage(
    client: redis.Redis,
    keys: Keys,
    halted: bool,
    *,
    replicas: int = 0,
    replica_timeout_ms: int = 1000,
) -> SwitchState:
    """Set the switch to ``halted``, wait for ``replicas`` to hold it, read it back.

    One pipeline on one connection (WAIT counts that connection's writes). Raises
    redis errors as they come: a caller that cannot reach Redis does not know the state.
    """
    pipe = client.pipeline(transaction=False)
    pipe.set(keys.halted, HALTED if halted else TRADING)
    if replicas:
        pipe.execute_command("WAIT", replicas, replica_timeout_ms)
    pipe.get(keys.halted)
    replies = pipe.execute()
    acked = int(replies[1]) if replicas else 0
    return SwitchState(halted=str(replies[-1]) == HALTED, replicated=acked >= replicas)
