"""Leadership through a Redis key: the local runtime's backend (``tradingstack up``).

Acquire and renew are ONE script: renew (PEXPIRE) when the key holds our id;
otherwise, when the key is absent, SET it with a TTL and INCR the scope's
fencing epoch. Doing the SET NX and the INCR in separate commands would let a
crash between them leave a new leader with the previous leader's epoch, so that
the previous leader's writes would still pass the fence. The epoch key is the one
fenced writes read (``LeaseKeys.fence``), in the same Redis.
"""

from __future__ import annotations

import redis

from ...keys import LeaseKeys
from ..redis_client import TRANSIENT
from .base import Leadership, LeadershipUnavailable

#: KEYS: lease, fence. ARGV: holder, ttl_ms. Returns the epoch held, or -1 when another holds it.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
if holder then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return redis.call('INCR', KEYS[2])
"""

#: KEYS: lease. ARGV: holder. Deletes the lease only when it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLease(Leadership):
    """``keys.lease`` holds the holder id with a TTL of ``lease_seconds``.

    ``client`` should time out well within the lease (a socket timeout of a
    second or two); every call is a single attempt.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: LeaseKeys,
        holder: str,
        *,
        lease_seconds: float,
        safety_seconds: float = 0.5,
    ) -> None:
        super().__init__(holder, lease_seconds, safety_seconds)
        self._key = keys.lease
        self._fence = keys.fence
        self._claim_script = client.register_script(_CLAIM)
        self._release_script = client.register_script(_RELEASE)

    def _claim(self, now: float) -> int | None:
        ttl_ms = int(self.lease_seconds * 1000)
        try:
            reply = self._claim_script(keys=[self._key, self._fence], args=[self.holder, ttl_ms])
            epoch = int(reply)
        except TRANSIENT as exc:
            raise LeadershipUnavailable(f"claim {self._key}: {exc}") from exc
        return None if epoch < 0 else epoch

    def _give_up(self) -> None:
        try:
            self._release_script(keys=[self._key], args=[self.holder])
        except TRANSIENT as exc:
            raise LeadershipUnavailable(f"release {self._key}: {exc}") from exc
