"""What the bots' ends of reservations left for the gates to read (runtime/releases.py)."""

from __future__ import annotations

from typing import Any, cast

import redis

from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.releases import FIELD


def released(client: redis.Redis, keys: Keys) -> tuple[int, list[str]]:
    """The grant totals' ``released`` count and the names logged, oldest first."""
    count = int(client.hget(keys.reservation_grants, "released") or 0)
    entries = cast("list[tuple[str, dict[str, Any]]]", client.xrange(keys.reservation_releases))
    return count, [fields[FIELD] for _, fields in entries]
