"""The fencing epoch in Redis: where leadership publishes it and fenced writes read it.

The key is a scope's ``LeaseKeys.fence`` (a bot account's, read by the execution
chokepoint; a singleton worker's, read by :mod:`..fencing`), in the same Redis as the
data it guards, so a write compares its epoch with it atomically. The epoch only ever
rises: :meth:`EpochFence.publish` refuses to lower it, which is what makes a zombie's
publish (or a recreated Kubernetes Lease counting from zero) harmless.
"""

from __future__ import annotations

import redis

from ..redis_client import TRANSIENT
from .base import LeadershipUnavailable

#: Returns 1 when the stored epoch equals ARGV[1] afterwards (raised or already there).
_PUBLISH = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
if wanted == current then return 1 end
return 0
"""


class EpochFence:
    """Read and raise one scope's fencing epoch; single attempts, no long retries."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self._client = client
        self.key = key
        self._publish = client.register_script(_PUBLISH)

    def current(self) -> int:
        try:
            value = self._client.get(self.key)
        except TRANSIENT as exc:
            raise LeadershipUnavailable(f"read {self.key}: {exc}") from exc
        return int(str(value)) if value is not None else 0

    def publish(self, epoch: int) -> bool:
        """Raise the stored epoch to ``epoch``; False when a higher one is already stored."""
        try:
            return int(self._publish(keys=[self.key], args=[epoch])) == 1
        except TRANSIENT as exc:
            raise LeadershipUnavailable(f"publish {self.key}: {exc}") from exc
