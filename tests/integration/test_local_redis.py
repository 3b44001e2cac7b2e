"""Field case 14: ``tradingstack up``'s own Redis with a password that needs quoting, and
a child that dies at start saying why in ``up``'s error.

The password (a space, quotes, ``$``, a backslash, ``#``) is written to the data dir's
password file before start, as the local stand-in for the Secret; the local
sentinel.conf must quote it exactly as the Kubernetes scripts do.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.harness.redis_procs import free_port, redis_sentinel, redis_server, wait_for

from tradingstack_operator.manifests import load_manifest
from tradingstack_operator.render import redis_scripts
from tradingstack_operator.render.stack import stack_from_manifest
from tradingstack_workers.password import read_password
from tradingstack_workers.up import local_redis
from tradingstack_workers.up.children import Child
from tradingstack_workers.up.plan import LocalProcess, Probe
from tradingstack_workers.up.redis_procs import LOG_FILES, MASTER_NAME, config_value
from tradingstack_workers.up.runner import Supervisor
from tradingstack_workers.up.supervise import Backoff

pytestmark = pytest.mark.integration

CASES = Path(__file__).parents[1] / "data" / "cases"
PASSWORD = (CASES / "case14-password.txt").read_text(encoding="utf-8")


def kubernetes_quoted(text: str) -> str:
    """The rendered scripts' own ``quoted`` function, run by sh."""
    match = re.search(r"^quoted\(\) \{\n.*?\n\}\n", redis_scripts.SCRIPTS["lib.sh"], re.S | re.M)
    assert match is not None, "quoted() is gone from the rendered scripts"
    script = f'{match.group(0)}quoted "$1"'
    done = subprocess.run(
        ["sh", "-c", script, "sh", text], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


@pytest.mark.parametrize(
    "text", [PASSWORD, "plain", 'q"uo"te', "back\\slash\\", "tab\there", "#hash ; x", "$HOME"]
)
def test_local_config_quotes_as_the_kubernetes_scripts_do(text: str) -> None:
    assert config_value(text) == kubernetes_quoted(text)


@pytest.fixture
def case14(tmp_path: Path) -> Iterator[local_redis.LocalRedis]:
    manifest = load_manifest(CASES / "case14-up-own-password.yaml")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / local_redis.PASSWORD_FILE).write_text(PASSWORD, encoding="utf-8")
    started = local_redis.start(stack_from_manifest(manifest), data_dir, free_port)
    yield started
    started.stop()


def test_case14_three_node_redis_starts_with_the_password_and_fails_over(
    case14: local_redis.LocalRedis,
) -> None:
    assert len(case14.servers) == 3
    assert len(case14.sentinels) == 3
    for sentinel in case14.sentinels:
        client = redis.Redis(port=sentinel.port, password=PASSWORD, decode_responses=True)
        client.execute_command("SENTINEL CKQUORUM", MASTER_NAME)  # NOQUORUM would raise
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=sentinel.port, password="wrong").ping()
    master = case14.master()
    assert master is not None
    host, port = master.split(":")
    assert redis.Redis(host=host, port=int(port), password=PASSWORD).ping()
    # The sentinels authenticate to the servers with it too: they see both replicas.
    seen = redis.Redis(port=case14.sentinels[0].port, password=PASSWORD).sentinel_slaves(
        MASTER_NAME
    )
    assert len(seen) == 2


def test_a_redis_child_dying_at_start_shows_its_last_lines(tmp_path: Path) -> None:
    server = redis_server(tmp_path / "server", password="x").start()
    try:
        # A quorum of 0 is refused by redis-sentinel while it reads its config, before
        # it opens its own log file: only its output says why.
        bad = redis_sentinel(tmp_path / "sentinel", server.port, quorum=0, password="x")
        with pytest.raises(RuntimeError) as err:
            bad.start()
    finally:
        server.stop()
    message = str(err.value)
    assert "redis-sentinel" in message
    assert "exited with 1" in message
    assert "Quorum must be 1 or greater" in message


def test_a_redis_child_dying_at_start_shows_only_this_runs_lines(tmp_path: Path) -> None:
    """A restarted Redis appends to the output and log of its earlier runs: its error
    quotes what this run wrote, not an earlier run's last words."""
    earlier = "an earlier run's last line"
    workdir = tmp_path / "sentinel"
    workdir.mkdir()
    for name in LOG_FILES:
        (workdir / name).write_text(f"{earlier}\n", encoding="utf-8")
    server = redis_server(tmp_path / "server", password="x").start()
    try:
        bad = redis_sentinel(workdir, server.port, quorum=0, password="x")
        with pytest.raises(RuntimeError) as err:
            bad.start()
    finally:
        server.stop()
    assert "Quorum must be 1 or greater" in str(err.value)
    assert earlier not in str(err.value)
    assert all((workdir / name).read_text().startswith(earlier) for name in LOG_FILES)


def restart_event(script: str, logs: Path) -> dict[str, Any]:
    """The restart event of a child running ``script`` under a real Supervisor, logging
    to ``logs``."""
    probe = Probe("/healthz", period_s=1, timeout_s=1, failure_threshold=3)
    spec = LocalProcess("bad-0", "bad", "gate", (sys.executable, "-c", script), {}, free_port(),
                        probe, None, None, grace_s=1)  # fmt: skip
    events: list[dict[str, Any]] = []
    supervisor = Supervisor(
        [Child(spec, logs)],
        lambda event, **fields: events.append({"event": event, **fields}),
        Backoff(initial_s=60),
    )
    supervisor.start_all()
    try:

        def restarted() -> bool:
            supervisor.tick()
            return any(e["event"] == "restart" for e in events)

        wait_for(restarted, 30, "the restart event")
    finally:
        supervisor.stop()
    (restart,) = [e for e in events if e["event"] == "restart"]
    return restart


def test_a_worker_that_dies_at_start_has_its_last_lines_in_the_restart_event(
    tmp_path: Path,
) -> None:
    script = "import sys; print('starting'); sys.exit('invalid settings: TS_X=1: not a setting')"
    restart = restart_event(script, tmp_path / "logs")
    assert restart["reason"] == "exited"
    assert restart["exit_code"] == 1
    assert restart["last_lines"][-2:] == ["starting", "invalid settings: TS_X=1: not a setting"]


def test_the_restart_event_quotes_only_this_instances_lines(tmp_path: Path) -> None:
    """``up`` keeps worker logs across runs in one data dir: an earlier run's lines in the
    file are not this process's last words."""
    logs = tmp_path / "logs"
    logs.mkdir()
    earlier = "invalid settings: TS_LEVERAGE_CAP=-1: an earlier run's error"
    (logs / "bad-0.log").write_text(f"{earlier}\nanother earlier line\n", encoding="utf-8")
    restart = restart_event("import sys; print('starting', flush=True); sys.exit(3)", logs)
    assert restart["exit_code"] == 3
    assert restart["last_lines"] == ["starting"]
    # The earlier run's lines stay in the file: nothing is lost.
    assert (logs / "bad-0.log").read_text(encoding="utf-8").startswith(earlier)


@pytest.mark.parametrize("text", ["two\nlines", "carriage\rreturn", "ends with a newline\n"])
def test_a_password_with_a_line_break_reads_back_from_the_local_configs(
    tmp_path: Path, text: str
) -> None:
    """Redis cuts its config into lines before it reads quotes: the value is escaped."""
    server = redis_server(tmp_path / "server", password=text).start()
    try:
        sentinel = redis_sentinel(tmp_path / "sentinel", server.port, quorum=1, password=text)
        sentinel.start()
        try:
            run_id = redis.Redis(port=server.port, password=text).info("server")["run_id"]
            watcher = redis.Redis(port=sentinel.port, password=text, decode_responses=True)

            # The sentinel logs in to the server with it too (auth-pass): it reads its INFO.
            def reads_info() -> bool:
                state = watcher.sentinel_master(MASTER_NAME)
                return isinstance(state, dict) and state.get("runid") == run_id

            wait_for(reads_info, 30, "the sentinel to read its master's INFO")
            # The whole value counts, not its first line (what a broken config holds).
            for port in (server.port, sentinel.port):
                with pytest.raises(redis.AuthenticationError):
                    redis.Redis(port=port, password=text.splitlines()[0]).ping()
        finally:
            sentinel.stop()
    finally:
        server.stop()


def test_passwords_stay_off_the_command_line_and_in_owner_only_files(tmp_path: Path) -> None:
    """ps shows every user a process's arguments: the password lives in 0600 files only."""
    secret = "not-for-ps-7f3a"
    server = redis_server(tmp_path / "server", password=secret).start()
    try:
        sentinel = redis_sentinel(tmp_path / "sentinel", server.port, quorum=1, password=secret)
        sentinel.start()
        try:
            for process in (server, sentinel):
                # What we exec (redis-server rewrites its process title later, but ps
                # shows the arguments until it does).
                assert not any(secret in arg for arg in process.args), process.args
                cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
                assert secret.encode() not in cmdline
            # Sentinel rewrites its config (with the password) as it runs: still 0600.
            redis.Redis(port=sentinel.port, password=secret).execute_command(
                "SENTINEL", "FLUSHCONFIG"
            )
            configs = (tmp_path / "server" / "redis.conf", tmp_path / "sentinel" / "sentinel.conf")
            for conf in configs:
                assert secret in conf.read_text(encoding="utf-8")
                assert conf.stat().st_mode & 0o777 == 0o600, conf
        finally:
            sentinel.stop()
    finally:
        server.stop()


def test_a_changed_password_file_takes_effect_at_the_next_start_with_the_data_kept(
    tmp_path: Path,
) -> None:
    """Rotation on one machine is a restart of ``up``: every local process reads the
    password file at start (README: Redis on one machine)."""
    stack = stack_from_manifest(load_manifest(CASES / "case14-up-own-password.yaml"))
    data_dir = tmp_path / "data"
    first = local_redis.start(stack, data_dir, free_port)
    try:
        old = read_password(first.secret)
        host, port = str(first.master()).split(":")
        client = redis.Redis(host=host, port=int(port), password=old)
        client.set("quantum:kept", "1")
        client.wait(1, 5000)
    finally:
        first.stop()
    (data_dir / local_redis.PASSWORD_FILE).write_text("the-new-password\n", encoding="utf-8")
    second = local_redis.start(stack, data_dir, free_port)
    try:
        master = second.master()
        assert master is not None
        host, port = master.split(":")
        assert (
            redis.Redis(host=host, port=int(port), password="the-new-password").get("quantum:kept")
            == b"1"
        )
        for process in [*second.servers, *second.sentinels]:
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(port=process.port, password=old).ping()
    finally:
        second.stop()


def test_workers_log_in_as_the_pods_worker_user_with_the_pods_rights(
    case14: local_redis.LocalRedis,
) -> None:
    """``up``'s workers are the ``worker`` ACL user, as in the pods (issue #17's security
    check on every process): the stack's keys only, no admin or dangerous command, and on a
    sentinel nothing but asking where the master is. No password, no login."""
    endpoint = case14.endpoint
    assert endpoint.username == "worker"
    assert endpoint.password_file != case14.secret  # never the admin password
    worker = read_password(endpoint.password_file)
    master = case14.master()
    assert master is not None
    host, port = master.split(":")
    client = redis.Redis(host=host, port=int(port), username="worker", password=worker)
    prefix = stack_from_manifest(
        load_manifest(CASES / "case14-up-own-password.yaml")
    ).spec.key_prefix
    client.set(f"{prefix}:kept", "1")
    assert client.get(f"{prefix}:kept") == b"1"
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.set("another-stack:key", "1")
    for command in ("FLUSHALL", "CONFIG GET maxmemory", "KEYS *", "ACL LIST"):
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.execute_command(command)
    for process in [*case14.servers, *case14.sentinels]:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=process.port).ping()
    asker = redis.Redis(
        port=case14.sentinels[0].port, username="worker", password=worker, decode_responses=True
    )
    assert asker.sentinel_get_master_addr_by_name(MASTER_NAME) == (host, int(port))
    with pytest.raises(redis.exceptions.NoPermissionError):
        asker.execute_command("SENTINEL FAILOVER", MASTER_NAME)
