"""A real stream worker that holds a batch when the test says so.

``python -m tests.harness.held_worker worker KIND`` runs ``tradingstack worker KIND`` unchanged,
except that :meth:`StreamConsumer.fetch` then looks at the Redis key
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

from tradingstack_workers import cli
from tradingstack_workers.runtime.streams import ReadAlong, StreamConsumer, StreamEntry

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
    """Wrap StreamConsumer.fetch so that the batch containing the id in ``key`` waits
    before it is handed out (the gate acknowledges a batch with its decisions, before
    the consumer's ``process``: holding there would be too late)."""
    fetch = StreamConsumer.fetch

    def held_fetch(self: StreamConsumer, along: ReadAlong | None = None) -> list[StreamEntry]:
        entries = fetch(self, along)
        client = self._client
        hold = client.get(key) if entries else None
        if hold is not None and max(_position(e.id) for e in entries) >= _position(str(hold)):
            log.warning("holding batch", extra={"entries": len(entries)})
            while client.exists(key):
                time.sleep(POLL_SECONDS)
        return entries

    StreamConsumer.fetch = held_fetch  # type: ignore[method-assign]


if __name__ == "__main__":
    hold_at(hold_key(os.environ["TS_INSTANCE"]))
    sys.exit(cli.main(sys.argv[1:]))
