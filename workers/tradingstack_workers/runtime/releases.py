"""A bot ending a permit's reservation (its order filled, was refused, or was given up),
counted and logged where the gates read it.

A gate keeps the reservations it last read and trusts them while the hash's length is
what the counted changes explain (``gate/known.py``): grants and the gates' prunes are
counted in ``Keys.reservation_grants``. A removal nobody counted makes every gate read
the whole hash again, and with grants left unfilled that is grants/s x permit TTL
fields, once per fill. So a bot's removal is counted there too (``released``), and the
removed field's name is appended to ``Keys.reservation_releases`` in the same script:
a gate drops those reservations by name and keeps the rest. A field already gone (a gate
pruned it on expiry, or another path ended it first) is neither counted nor logged.

:data:`LUA` defines ``release_reservation(reservations, grants, releases, id)`` for the
bots' own scripts (a fill ends its reservation in the script that books it);
:func:`release` runs it alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis

from ..keys import Keys
from .redis_client import RetryPolicy

#: Entries ``Keys.reservation_releases`` keeps (about: trimmed with ``MAXLEN ~``). A
#: gate further behind than that reads the whole hash again, as it would anyway.
MAXLEN = 10_000
#: The entry's one field: the reservation's name (the permit's proposal id).
FIELD = "id"

# The count and the log are the gates' bookkeeping: a key of theirs that is not what it
# should be (a hand edit) must not fail the fill recorded in the same script. pcall: the
# count and the log then disagree, and the gates read the whole hash.
LUA = f"""
local function release_reservation(reservations, grants, releases, id)
  if id == '' or redis.call('HDEL', reservations, id) == 0 then return 0 end
  redis.pcall('HINCRBY', grants, 'released', 1)
  redis.pcall('XADD', releases, 'MAXLEN', '~', {MAXLEN}, '*', '{FIELD}', id)
  return 1
end
"""

# KEYS: 1 reservations, 2 grant totals, 3 releases; ARGV: 1 the reservation's name.
_RELEASE = LUA + "return release_reservation(KEYS[1], KEYS[2], KEYS[3], ARGV[1])"


def release_keys(keys: Keys) -> list[str]:
    """KEYS of ``release_reservation``, in its order."""
    return [keys.reservations, keys.reservation_grants, keys.reservation_releases]


def release(client: redis.Redis, retry: RetryPolicy, keys: Keys, reservation: str) -> bool:
    """End ``reservation`` (a proposal id) now; True when it was still held. Safe to
    retry: a second call finds it gone and counts nothing."""
    args = [*release_keys(keys), reservation]
    return bool(retry.run(lambda: client.eval(_RELEASE, 3, *args), f"release {reservation}"))


def released_names(reply: Any) -> Iterator[tuple[str, str]]:
    """(entry id, reservation name) of each entry of an XRANGE reply of
    ``Keys.reservation_releases`` as a script returns it (an entry's fields flat); an
    entry without the field names ''."""
    for entry_id, fields in reply:
        values = dict(zip(fields[::2], fields[1::2], strict=True))
        yield str(entry_id), str(values.get(FIELD, ""))
