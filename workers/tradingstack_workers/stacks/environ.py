"""A worker's settings for a stack found by name: its rendered environment, reached from here."""

from __future__ import annotations

from tradingstack_operator.render import workers

from ..runtime.settings import env_name
from .locate import StackRef

#: The pods' own ways to Redis. The CLI comes with the stack's admin password (up's password
#: file or the Secret), so the workers' ACL user (``TS_REDIS_USERNAME``) goes too.
_CLUSTER_ONLY = {
    env_name(f) for f in ("redis_url", "redis_sentinels", "redis_password_file", "redis_username")
}


def worker_environ(ref: StackRef, kind: str) -> dict[str, str]:
    """The ``TS_*`` variables the renderer gives ``kind``'s pods (its tunables, the key
    prefix), with Redis reached the way ``ref`` reaches it."""
    env = {
        str(e["name"]): str(e["value"])
        for e in workers.worker_env(ref.stack, kind)
        if "value" in e and e["name"] not in _CLUSTER_ONLY
    }
    if ref.sentinels:
        env[env_name("redis_sentinels")] = ",".join(f"{h}:{p}" for h, p in ref.sentinels)
        env[env_name("redis_master_name")] = ref.master_name
    else:
        env[env_name("redis_url")] = ref.url or ""
    if ref.password is not None:
        env[env_name("redis_password")] = ref.password
    env[env_name("instance")] = "cli"
    return env
