"""Shell scripts of the Redis pods (``redis_sh/``), shipped in a ConfigMap at /scripts.

POSIX sh with coreutils and redis-cli, as the redis image has them. They follow the
Bitnami chart's Sentinel mode (hostnames everywhere, never pod IPs; the password read
from the mounted Secret and never on a command line) and add what its users lost data
to: the last master and its epoch kept on the data volume (``reconfig.sh``), a master
chosen only by agreeing sentinels, a new volume never promoted over a peer's data
(``redis.sh``), and a preStop handover that pauses writes first (``prestop.sh``).
"""

from __future__ import annotations

from importlib.resources import files

SCRIPTS_DIR = "/scripts"
CONFIG_DIR = "/config"
DATA_DIR = "/data"
#: Where the component users' passwords are mounted in Redis pods (one file per user).
USERS_DIR = "/var/run/tradingstack/redis-users"
#: The ACL users; each is also a key of the ``<stack>-redis-users`` Secret.
USERS = ("replication", "sentinel", "worker", "exporter")

#: The ``worker`` user's rights on a sentinel: asking where the master and its peers are,
#: nothing else. ``redis_sh/sentinel.sh`` writes the same (a unit test keeps them in step).
WORKER_SENTINEL_RULES = (
    "-@all +ping +auth +hello +client|setname +sentinel|get-master-addr-by-name"
    " +sentinel|master +sentinel|masters +sentinel|sentinels +sentinel|replicas"
    " +sentinel|slaves"
)


def worker_server_rules(key_prefix: str) -> str:
    """The ``worker`` user's rights on a Redis server: the stack's keys and channels
    (``<key_prefix>:*``), every command but admin and dangerous ones (FLUSHALL, CONFIG,
    KEYS, DEBUG, SHUTDOWN ...). ``redis_sh/redis.sh`` writes the same for the pods, and
    ``tradingstack up`` for its local Redis (a unit test keeps the two in step)."""
    return f"~{key_prefix}:* &{key_prefix}:* +@all -@admin -@dangerous"


_SOURCE = files(__package__) / "redis_sh"
_NAMES = (
    "lib.sh",
    "redis.sh",
    "sentinel.sh",
    "reconfig.sh",
    "prestop.sh",
    "sentinel-prestop.sh",
    "probe.sh",
)

#: ConfigMap data: file name -> content.
SCRIPTS: dict[str, str] = {name: (_SOURCE / name).read_text(encoding="utf-8") for name in _NAMES}


def script(name: str) -> str:
    """The path of a script inside a Redis container."""
    if name not in SCRIPTS:
        raise KeyError(f"no Redis script {name}")
    return f"{SCRIPTS_DIR}/{name}"
