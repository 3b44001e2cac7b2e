"""Real redis-server and redis-sentinel processes on loopback ports.

Used by ``tradingstack up`` and by the integration tests' fixtures alike. Each process
runs in its own session and is stopped by its PID; ``up``'s are bound to it
(:mod:`.spawn`). Replicas count as started only once the master reports them ``online``
(a replica still in its first sync would lose every write made so far if the master died
then).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tradingstack_operator.reconcile.rotation import password_hash

from .output import last_lines
from .spawn import Tether, popen

MASTER_NAME = "mymaster"
START_TIMEOUT = 15.0
#: Where a process's stdout and stderr go (a config error is printed before its logfile
#: is even opened).
OUTPUT_FILE = "output.log"
LOG_FILE = "redis.log"
#: What a process writes in its workdir, appended across runs: its output, then its log.
LOG_FILES = (OUTPUT_FILE, LOG_FILE)


def config_value(text: str) -> str:
    """``text`` as a Redis config value: double-quoted, backslash and quote escaped.

    What the Kubernetes scripts' ``quoted`` does (render/redis_sh/lib.sh), so a password
    with spaces, quotes, ``#`` or backslashes reads back byte for byte. A line break is
    escaped too (``\\n``, ``\\r``): Redis splits its config into lines before it reads
    quotes, so a raw one would cut the value in two. (The scripts never see one: the
    password rule refuses it.)
    """
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r") + '"'


def write_private(path: Path, lines: list[str]) -> Path:
    """A config file readable by its owner only: it holds passwords."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # an older file of ours may have had another mode
        out.write("\n".join(lines) + "\n")
    return path


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"{name} is not installed: run `bash scripts/bootstrap.sh` (it installs it with apt)"
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


@dataclass(frozen=True)
class AclUser:
    """A Redis ACL user beside the default one: ``rules`` in ACL SETUSER syntax."""

    name: str
    password: str
    rules: str

    def config_line(self) -> str:
        """``user NAME on #SHA256 RULES``: the password stored hashed, needing no quoting."""
        return f"user {self.name} on #{password_hash(self.password)} {self.rules}"


@dataclass
class RedisProcess:
    """One redis-server or redis-sentinel process we started."""

    args: list[str]
    port: int
    workdir: Path
    password: str | None
    tether: Tether | None = None
    proc: subprocess.Popen[bytes] | None = None
    #: Where this process began writing to each of its files (kept across runs).
    log_starts: dict[str, int] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> RedisProcess:
        """Spawn and wait until it answers PING; RuntimeError (with its last lines) if it
        exits first, TimeoutError if it never answers."""
        self.spawn()
        wait_for(self._answers, START_TIMEOUT, f"{self.args[0]} on port {self.port}")
        return self

    def spawn(self) -> RedisProcess:
        """Start the process without waiting for it to answer."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in LOG_FILES:
            path = self.workdir / name
            self.log_starts[name] = path.stat().st_size if path.exists() else 0
        with (self.workdir / OUTPUT_FILE).open("ab") as output:
            # What the server writes (its config rewrites, the AOF) is its owner's only.
            self.proc = popen(self.args, self.tether, stdout=output, umask=0o077)
        return self

    def last_lines(self) -> list[str]:
        """Its last output lines, then its log's, of this run only: why it exited, for an
        event or error."""
        return [
            line
            for name in LOG_FILES
            for line in last_lines(self.workdir / name, start=self.log_starts.get(name, 0))
        ]

    def alive(self) -> bool:
        """Started and not exited (an exit is reaped here)."""
        return self.proc is not None and self.proc.poll() is None

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            lines = self.last_lines()
            tail = "\n".join(lines) if lines else "(it wrote nothing)"
            raise RuntimeError(
                f"{Path(self.args[0]).name} (port {self.port}) exited with "
                f"{self.proc.returncode}; its last lines:\n{tail}"
            )
        return bool(self.client(socket_timeout=0.5).ping())

    def client(self, socket_timeout: float = 2.0) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            decode_responses=True,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal our process by PID and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def redis_server(
    workdir: Path,
    *,
    password: str | None = None,
    replica_of: int | None = None,
    port: int | None = None,
    persist: bool = False,
    users: Sequence[AclUser] = (),
    tether: Tether | None = None,
) -> RedisProcess:
    """A redis-server process (not started yet); ``port`` reuses a port on restart.

    ``persist`` keeps an append-only file in ``workdir`` (the data survives a restart);
    ``users`` are ACL users beside the default one (whose password is ``password``).
    """
    port = port or free_port()
    lines = [
        f"port {port}",
        "bind 127.0.0.1",
        f"dir {config_value(str(workdir))}",
        f"logfile {config_value(str(workdir / LOG_FILE))}",
        'save ""',
        f"appendonly {'yes' if persist else 'no'}",
        "repl-diskless-sync yes",
        "repl-diskless-sync-delay 0",
    ]
    if password:
        # In the config file, never on the command line: every user of the machine reads
        # a process's arguments (ps, /proc/PID/cmdline).
        lines += [f"requirepass {config_value(password)}", f"masterauth {config_value(password)}"]
    if replica_of:
        lines.append(f"replicaof 127.0.0.1 {replica_of}")
    lines += [user.config_line() for user in users]
    conf = write_private(workdir / "redis.conf", lines)
    args = [_binary("redis-server"), str(conf)]
    return RedisProcess(args=args, port=port, workdir=workdir, password=password, tether=tether)


@dataclass(frozen=True)
class SentinelTimings:
    """How fast Sentinel declares a master down and how long a failover may take."""

    down_after_ms: int = 1000
    failover_timeout_ms: int = 5000
    parallel_syncs: int = 1


def redis_sentinel(
    workdir: Path,
    master_port: int,
    *,
    quorum: int,
    password: str | None,
    port: int | None = None,
    timings: SentinelTimings = SentinelTimings(),
    users: Sequence[AclUser] = (),
    tether: Tether | None = None,
) -> RedisProcess:
    """A redis-sentinel process watching ``master_port`` (sentinel rewrites its config);
    ``users`` are ACL users beside the default one."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"port {port}",
        "bind 127.0.0.1",
        f"dir {config_value(str(workdir))}",
        f"logfile {config_value(str(workdir / LOG_FILE))}",
        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} {quorum}",
        f"sentinel down-after-milliseconds {MASTER_NAME} {timings.down_after_ms}",
        f"sentinel failover-timeout {MASTER_NAME} {timings.failover_timeout_ms}",
        f"sentinel parallel-syncs {MASTER_NAME} {timings.parallel_syncs}",
    ]
    if password:
        quoted = config_value(password)
        lines += [
            f"sentinel auth-pass {MASTER_NAME} {quoted}",
            f"requirepass {quoted}",
            f"sentinel sentinel-pass {quoted}",
        ]
    lines += [user.config_line() for user in users]
    conf = write_private(workdir / "sentinel.conf", lines)
    args = [_binary("redis-sentinel"), str(conf)]
    return RedisProcess(args=args, port=port, workdir=workdir, password=password, tether=tether)


def online_replicas(master: redis.Redis) -> int:
    info = master.info("replication")
    return sum(
        1
        for key, value in info.items()
        if key.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
    )


def named_master_port(sentinels: Sequence[RedisProcess], master_name: str) -> int | None:
    """The master's port as most running sentinels name it (down or not); None if none
    answers."""
    votes: dict[int, int] = {}
    for sentinel in sentinels:
        if sentinel.proc is None or sentinel.proc.poll() is not None:
            continue
        try:
            addr = sentinel.client().sentinel_get_master_addr_by_name(master_name)
        except redis.RedisError:
            continue
        if isinstance(addr, tuple):
            votes[int(addr[1])] = votes.get(int(addr[1]), 0) + 1
    return max(votes, key=lambda port: votes[port]) if votes else None


@dataclass(frozen=True)
class SetConfig:
    """What the servers and sentinels of one set share. A restart rebuilds a process's
    config from this (never from the file a sentinel rewrote), so it comes back as it
    first started, pointed at the master of the moment."""

    workdir: Path
    password: str | None
    quorum: int = 1
    timings: SentinelTimings = SentinelTimings()
    persist: bool = False
    server_users: Sequence[AclUser] = ()
    sentinel_users: Sequence[AclUser] = ()
    tether: Tether | None = None

    def server(self, index: int, port: int, replica_of: int | None) -> RedisProcess:
        """Node ``index`` on ``port``: the master when ``replica_of`` is None."""
        return redis_server(
            self.workdir / f"node-{index}", password=self.password, replica_of=replica_of,
            port=port, persist=self.persist, users=self.server_users, tether=self.tether,
        )  # fmt: skip

    def sentinel(self, index: int, port: int, master_port: int) -> RedisProcess:
        """Sentinel ``index`` on ``port``, watching the master on ``master_port``."""
        return redis_sentinel(
            self.workdir / f"sentinel-{index}", master_port, quorum=self.quorum,
            password=self.password, port=port, timings=self.timings, users=self.sentinel_users,
            tether=self.tether,
        )  # fmt: skip


@dataclass
class SentinelCluster:
    """A master, its replicas and the sentinels watching them."""

    nodes: list[RedisProcess]
    sentinels: list[RedisProcess]
    password: str | None
    config: SetConfig  # how each process is rebuilt on a restart
    master_name: str = MASTER_NAME
    stopped: list[RedisProcess] = field(default_factory=list)

    @property
    def sentinel_addresses(self) -> str:
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def master_port(self) -> int:
        """The master as the sentinels' majority currently reports it."""
        port = named_master_port(self.sentinels, self.master_name)
        if port is None:
            raise RuntimeError("no sentinel reports a master")
        return port

    def master(self) -> RedisProcess:
        port = self.master_port()
        return next(n for n in self.nodes if n.port == port)

    def stop(self) -> None:
        for process in [*self.sentinels, *self.nodes]:
            process.stop()


def start_sentinel_cluster(
    workdir: Path,
    *,
    replicas: int = 2,
    sentinels: int = 3,
    password: str | None = None,
    quorum: int | None = None,
    timings: SentinelTimings = SentinelTimings(),
    ports: Callable[[], int] = free_port,
    persist: bool = False,
    server_users: Sequence[AclUser] = (),
    sentinel_users: Sequence[AclUser] = (),
    tether: Tether | None = None,
) -> SentinelCluster:
    """A master, ``replicas`` replicas (online) and ``sentinels`` sentinels, on ``ports()``;
    ``server_users`` and ``sentinel_users`` are ACL users beside the default one."""
    config = SetConfig(
        workdir, password, quorum or sentinels // 2 + 1, timings, persist,
        tuple(server_users), tuple(sentinel_users), tether,
    )  # fmt: skip
    master = config.server(0, ports(), None).start()
    cluster = SentinelCluster(nodes=[master], sentinels=[], password=password, config=config)
    try:
        for i in range(1, replicas + 1):
            cluster.nodes.append(config.server(i, ports(), master.port).start())
        wait_for(
            lambda: online_replicas(master.client()) == replicas,
            START_TIMEOUT,
            f"{replicas} replicas online",
        )
        for i in range(sentinels):
            cluster.sentinels.append(config.sentinel(i, ports(), master.port).start())

        def sentinels_see_everything() -> bool:
            for s in cluster.sentinels:
                client = s.client()
                seen = client.sentinel_slaves(MASTER_NAME)
                if not isinstance(seen, list) or len(seen) != replicas:
                    return False
                peers = client.sentinel_sentinels(MASTER_NAME)
                if not isinstance(peers, list) or len(peers) != sentinels - 1:
                    return False
                client.execute_command("SENTINEL CKQUORUM", MASTER_NAME)
            return True

        wait_for(sentinels_see_everything, 30.0, "sentinels to discover replicas and each other")
    except BaseException:
        cluster.stop()
        raise
    return cluster
