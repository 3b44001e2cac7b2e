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
