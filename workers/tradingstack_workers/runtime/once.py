"""Exactly-once writes: a write carries an operation id and is applied at most once.

The commands and a marker holding their replies are applied by one Lua script,
so they replicate together: after a failover the new master either has both
(a retry returns the recorded replies) or neither (a retry applies them). With
``replicas`` > 0 a write only counts once that many replicas hold it (WAIT), so
an acknowledged write survives the loss of the master.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis

from .redis_client import RetryPolicy

if TYPE_CHECKING:
    from .streams import ReadAlong

# A retry that finds the marker rewrites it: WAIT counts replicas that hold this
# connection's last write, and a retry on a new connection (after a failover) has written
# nothing yet, so without it WAIT would count any replica, holding the write or not.
_APPLY_ONCE = """
local done = redis.call('GET', KEYS[1])
if done then
  redis.call('SET', KEYS[1], done, 'KEEPTTL')
  return done
end
local replies = {}
for i, command in ipairs(cjson.decode(ARGV[2])) do
  replies[i] = redis.call(unpack(command))
end
local encoded = cjson.encode(replies)
redis.call('SET', KEYS[1], encoded, 'EX', tonumber(ARGV[1]))
return encoded
"""

Command = Sequence[str | int | float]


class NotReplicated(redis.ConnectionError):
    """Fewer replicas than required acknowledged a write; retried like a lost connection."""


def eval_replicated(
    client: redis.Redis,
    script: str,
    keys: Sequence[str],
    args: Sequence[str | int | float],
    *,
    replicas: int,
    replica_timeout_ms: int,
    what: str,
    along: ReadAlong | None = None,
) -> Any:
    """EVAL ``script`` once; with ``replicas`` > 0 raise NotReplicated unless that many
    replicas acknowledged it (retried like a lost connection by the caller's policy).
    ``along``: commands sent after it in the same round trip, handed their replies
    whatever the script answered."""
    pipe = client.pipeline(transaction=False)
    # EVAL, not EVALSHA: after a failover the new master lacks the script cache.
    pipe.eval(script, len(keys), *keys, *args)
    if replicas:
        # WAIT counts the writes of this connection: it must share the pipeline.
        pipe.execute_command("WAIT", replicas, replica_timeout_ms)
    if along is not None:
        along.queue(pipe)
    replies = pipe.execute(raise_on_error=False)
    if along is not None:
        along.received(replies[1 + bool(replicas) :])
    for reply in replies[: 1 + bool(replicas)]:
        if isinstance(reply, Exception):
            raise reply
    if replicas and int(replies[1]) < replicas:
        raise NotReplicated(f"write {what} reached {replies[1]} of {replicas} replicas")
    return replies[0]


class OnceWriter:
    """Apply groups of commands exactly once, keyed by an operation id."""

    def __init__(
        self,
        client: redis.Redis,
        retry: RetryPolicy,
        marker_prefix: str,
        *,
        replicas: int = 0,
        replica_timeout_ms: int = 500,
        marker_ttl_seconds: int = 86_400,
    ) -> None:
        self._client = client
        self._retry = retry
        self._marker_prefix = marker_prefix
        self._replicas = replicas
        self._replica_timeout_ms = replica_timeout_ms
        self._marker_ttl = marker_ttl_seconds

    def apply(self, op_id: str, commands: Sequence[Command], keys: Sequence[str] = ()) -> list[Any]:
        """Apply ``commands`` unless ``op_id`` was applied before; return their replies.

        ``keys`` names the keys the commands touch (documentation for Redis and
        for readers; a single-node or Sentinel setup does not require it).
        """
        marker = f"{self._marker_prefix}:once:{op_id}"
        payload = json.dumps([[str(part) for part in c] for c in commands])

        def attempt() -> list[Any]:
            reply = eval_replicated(
                self._client,
                _APPLY_ONCE,
                [marker, *keys],
                [self._marker_ttl, payload],
                replicas=self._replicas,
                replica_timeout_ms=self._replica_timeout_ms,
                what=op_id,
            )
            decoded: list[Any] = json.loads(reply)
            return decoded

        return self._retry.run(attempt, f"apply {op_id}")
