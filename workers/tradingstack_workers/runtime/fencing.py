"""Fenced writes: a singleton's write lands only while its epoch is the current one.

A leader that was paused (SIGSTOP, a long GC, a partitioned node) may wake up still
believing it leads. Every write of a singleton worker therefore goes through one Lua
script that compares the writer's epoch with the scope's fence (``LeaseKeys.fence``,
raised by whoever acquires the lease) and applies the commands only when they are
equal, atomically. A stale writer gets :class:`Fenced` and changes nothing.

Each applied write also appends ``epoch``, ``holder`` and ``what`` to the scope's
journal stream, so "who wrote the budgets at 03:12" has an answer. An optional
operation id makes a write exactly-once (its replies are kept under a marker, as in
:mod:`.once`), for writes that are not idempotent (an audit stream entry).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import redis

from .once import Command, eval_replicated
from .redis_client import RetryPolicy

#: The journal keeps about this many writes.
JOURNAL_MAXLEN = 10_000
_STALE = "STALE_EPOCH"

# KEYS: 1 fence, 2 journal, 3 marker (only when ARGV[4] is '1')
# ARGV: 1 epoch, 2 commands (JSON), 3 holder, 4 '1' with a marker, 5 marker ttl,
#       6 journal maxlen, 7 what
_APPLY_FENCED = f"""
local marked = ARGV[4] == '1'
if marked then
  local done = redis.call('GET', KEYS[3])
  if done then return done end
end
local current = redis.call('GET', KEYS[1]) or '0'
if tonumber(current) ~= tonumber(ARGV[1]) then
  return redis.error_reply('{_STALE} ' .. current)
end
local replies = {{}}
for i, command in ipairs(cjson.decode(ARGV[2])) do
  replies[i] = redis.call(unpack(command))
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
  'epoch', ARGV[1], 'holder', ARGV[3], 'what', ARGV[7])
local encoded = cjson.encode(replies)
if marked then redis.call('SET', KEYS[3], encoded, 'EX', tonumber(ARGV[5])) end
return encoded
"""


class Fenced(Exception):
    """The write carried an epoch that is no longer current: another instance leads."""

    def __init__(self, epoch: int, current: int) -> None:
        super().__init__(f"epoch {epoch} is fenced off (current epoch {current})")
        self.epoch = epoch
        self.current = current


class FencedWriter:
    """Apply groups of commands under one scope's fence, journalled."""

    def __init__(
        self,
        client: redis.Redis,
        retry: RetryPolicy,
        *,
        fence: str,
        journal: str,
        holder: str,
        marker_prefix: str,
        replicas: int = 0,
        replica_timeout_ms: int = 500,
        marker_ttl_seconds: int = 86_400,
    ) -> None:
        self._client = client
        self._retry = retry
        self._fence = fence
        self._journal = journal
        self.holder = holder
        self._marker_prefix = marker_prefix
        self._replicas = replicas
        self._replica_timeout_ms = replica_timeout_ms
        self._marker_ttl = marker_ttl_seconds

    def apply(
        self, epoch: int, what: str, commands: Sequence[Command], *, op_id: str | None = None
    ) -> list[Any]:
        """Apply ``commands`` if ``epoch`` is current; raise :class:`Fenced` otherwise.

        Without ``op_id`` the commands must be idempotent (a retry after a lost reply
        applies them again); with it they are applied at most once.
        """
        marker = f"{self._marker_prefix}:once:{op_id}" if op_id else ""
        keys = [self._fence, self._journal, *([marker] if marker else [])]
        args: list[str | int | float] = [
            epoch,
            json.dumps([[str(part) for part in c] for c in commands]),
            self.holder,
            "1" if marker else "0",
            self._marker_ttl,
            JOURNAL_MAXLEN,
            what,
        ]

        def attempt() -> list[Any]:
            reply = eval_replicated(
                self._client,
                _APPLY_FENCED,
                keys,
                args,
                replicas=self._replicas,
                replica_timeout_ms=self._replica_timeout_ms,
                what=f"{what} (epoch {epoch})",
            )
            decoded: list[Any] = json.loads(reply)
            return decoded

        try:
            return self._retry.run(attempt, f"fenced {what}")
        except redis.ResponseError as exc:
            # A pipeline wraps the script's error in its own words; the reply is at the end.
            stale = re.search(rf"{_STALE} (\d+)", str(exc))
            if stale is None:
                raise
            raise Fenced(epoch, int(stale.group(1))) from None
