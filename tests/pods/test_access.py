"""Who may do what: each component has its own ACL user; nobody gets in without a password.

Every client runs in a namespace of its own and reaches the pods by FQDN, as in a cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.harness.podnet import PodNetwork
from tests.harness.redis_set import RedisSet
from tests.harness.reliability import record
from tradingstack_operator.render import names

CHECK = r"""
import json, sys
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
host, user, password = sys.argv[1], sys.argv[2] or None, sys.argv[3] or None
def attempt(port, *command):
    client = redis.Redis(host=host, port=port, username=user, password=password,
                         socket_timeout=3, socket_connect_timeout=3, decode_responses=True,
                         retry=Retry(NoBackoff(), 0))
    try:
        client.execute_command(*command)
        return "ok"
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
print(json.dumps({" ".join(c[1:]): attempt(*c) for c in [
    (6379, "SET", "quantum:access:probe", "1"),
    (6379, "GET", "quantum:access:probe"),
    (6379, "SET", "elsewhere", "1"),
    (6379, "FLUSHALL"),
    (6379, "CONFIG", "GET", "maxmemory"),
    (6379, "CONFIG", "SET", "maxmemory", "0"),
    (6379, "KEYS", "*"),
    (6379, "INFO"),
    (6379, "SHUTDOWN"),
    (26379, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"),
    (26379, "SENTINEL", "FAILOVER", "mymaster"),
    (26379, "SENTINEL", "SET", "mymaster", "quorum", "1"),
]}))
"""


def _check(net: PodNetwork, host: str, user: str = "", password: str = "") -> dict[str, str]:
    result = subprocess.run(
        [*net.exec_prefix("c0"), sys.executable, "-c", CHECK, host, user, password],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout))


def test_each_component_may_do_only_its_part_and_nobody_gets_in_without_a_password(
    net: PodNetwork, redis_set: RedisSet, tmp_path: Path
) -> None:
    net.add("c0")
    master = redis_set.fqdn(redis_set.wait_settled())
    users = names.redis_users(redis_set.stack.name)

    worker = _check(net, master, "worker", redis_set.secrets.value(users, "worker"))
    assert worker["SET quantum:access:probe 1"] == "ok"
    assert worker["GET quantum:access:probe"] == "ok"
    assert worker["SENTINEL GET-MASTER-ADDR-BY-NAME mymaster"] == "ok"
    for command in ("SET elsewhere 1", "FLUSHALL", "CONFIG GET maxmemory",
                    "CONFIG SET maxmemory 0", "KEYS *", "INFO", "SHUTDOWN",
                    "SENTINEL FAILOVER mymaster", "SENTINEL SET mymaster quorum 1"):  # fmt: skip
        assert worker[command].startswith("NoPermissionError"), (command, worker[command])

    exporter = _check(net, master, "exporter", redis_set.secrets.value(users, "exporter"))
    assert exporter["INFO"] == "ok"
    assert exporter["CONFIG GET maxmemory"] == "ok"
    for command in ("SET quantum:access:probe 1", "GET quantum:access:probe", "FLUSHALL",
                    "CONFIG SET maxmemory 0", "SHUTDOWN"):  # fmt: skip
        assert exporter[command].startswith("NoPermissionError"), (command, exporter[command])

    for user, password in (("", ""), ("worker", "not-the-password"), ("", "not-the-password")):
        refused = _check(net, master, user, password)
        assert all(v.startswith("AuthenticationError") for v in refused.values()), refused
    # Nothing the refused clients sent reached the data.
    assert redis_set.client(redis_set.wait_settled()).get("elsewhere") is None
    record("security", {"check": "tests/pods/test_access.py: the rendered Redis pods refuse a"
                        " client without a password; the worker's ACL user runs no admin"
                        " command", "outcome": "passed"})  # fmt: skip
