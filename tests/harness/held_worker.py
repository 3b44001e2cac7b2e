"""A real stream worker that holds a batch when the test says so.

``python -m tests.harness.held_worker worker KIND`` runs ``tradingstack worker KIND`` unchanged,
except that :meth:`StreamConsumer.fetch`, and a :class:`ReadAhead` (the gate's next batch,
read with its last write), then look at the Redis key
:func:`hold_key` (one per ``TS_INSTANCE``). When the batch just fetched reaches the
entry id stored there (holds that entry or a later one), the worker logs
``holding batch`` (with the batch's size) and waits, before handling any entry of it,
for as long as the key exists. A test that must
kill a worker mid-batch thus catches it holding entries it read but has not
acknowledged, on a condition it controls rather than on a timing window.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import weakref
from typing import Any

import redis

from tradingstack_workers import cli
from tradingstack_workers.runtime.streams import (
    ReadAhead,
    ReadAlong,
    StreamConsumer,
    StreamEntry,
)

log = logging.getLogger(__name__)

#: How often a held batch looks at the key again.
POLL_SECONDS = 0.01


def hold_key(instance: str) -> str:
    """The key whose value is the entry id from which ``instance`` holds its batch."""
    return f"test:hold:{instance}"


def _position(entry_id: str) -> tuple[int, int]:
    milliseconds, sequence = entry_id.split("-")
    return int(milliseconds), int(sequence)


def hold_at(key: str) -> None:
    """Wrap StreamConsumer.fetch and ReadAhead.received so that the batch containing the
    id in ``key`` waits before it is handed out (the gate acknowledges a batch with its
    decisions, before the consumer's ``process``: holding there would be too late)."""
    fetch, read_ahead, received = (
        StreamConsumer.fetch, StreamConsumer.read_ahead, ReadAhead.received
    )  # fmt: skip
    clients: weakref.WeakKeyDictionary[ReadAhead[Any], redis.Redis] = weakref.WeakKeyDictionary()

    def hold(client: redis.Redis, entries: list[StreamEntry]) -> None:
        held = client.get(key) if entries else None
        if held is not None and max(_position(e.id) for e in entries) >= _position(str(held)):
            log.warning("holding batch", extra={"entries": len(entries)})
            while client.exists(key):
                time.sleep(POLL_SECONDS)

    def held_fetch(self: StreamConsumer, along: ReadAlong | None = None) -> list[StreamEntry]:
        entries = fetch(self, along)
        hold(self._client, entries)
        return entries

    def held_read_ahead(self: StreamConsumer, along: ReadAlong) -> ReadAhead[Any] | None:
        ahead = read_ahead(self, along)
        if ahead is not None:
            clients[ahead] = self._client
        return ahead

    def held_received(self: ReadAhead[Any], replies: list[Any]) -> None:
        received(self, replies)
        hold(clients[self], self.entries)

    StreamConsumer.fetch = held_fetch  # type: ignore[method-assign]
    StreamConsumer.read_ahead = held_read_ahead  # type: ignore[method-assign]
    ReadAhead.received = held_received  # type: ignore[method-assign]


if __name__ == "__main__":
    hold_at(hold_key(os.environ["TS_INSTANCE"]))
    sys.exit(cli.main(sys.argv[1:]))
