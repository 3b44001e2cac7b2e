"""``tradingstack up FILE``: the rendered stack as local processes, supervised.

Redis starts first and stops last. Every worker Deployment's replicas run as processes
probed like pods; the decisions are :mod:`.supervise`'s, this module only acts on them
and reports each event as one JSON line.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import redis

from tradingstack_operator.manifests import load_manifest
from tradingstack_operator.render import names, render
from tradingstack_operator.render.stack import Stack, stack_from_manifest
from tradingstack_operator.spec import SpecError

from ..keys import Keys
from ..password import PasswordError, read_password
from ..runtime import book, killswitch
from ..runtime.redis_client import ENCODING_ERRORS, RedisUnavailable, RetryPolicy
from . import figures, local_redis, plan, registry, supervise
from .children import Child, Questions, http_ok
from .output import last_lines
from .overrides import check_environments, parse_overrides
from .ports import Ports
from .redis_procs import MASTER_NAME
from .redis_watch import RedisWatch
from .spawn import Tether
from .supervise import Backoff
from .view import LiveView

TICK_S = 0.2
POLL_S = 1.0  # Redis master and the live view

Emit = Callable[..., None]


def json_emitter(stream: TextIO) -> Emit:
    lock = threading.Lock()

    def emit(event: str, **fields: Any) -> None:
        line = json.dumps({"ts": round(time.time(), 3), "event": event, **fields}, default=str)
        with lock:
            stream.write(line + "\n")
            stream.flush()

    return emit


def load_stack(path: Path) -> Stack:
    """Read (strictly: a key defined twice is refused) and validate the manifest exactly as
    ``render`` and the operator do."""
    return stack_from_manifest(load_manifest(path))


class Supervisor:
    """Starts, probes, restarts and finally stops the children."""

    def __init__(
        self,
        children: Sequence[Child],
        emit: Emit,
        backoff: Backoff,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.children = list(children)
        self.emit = emit
        self.backoff = backoff
        self.clock = clock
        self.stopping = threading.Event()
        # A liveness (or startup) and a readiness probe may be out per child at once.
        self._pool = ThreadPoolExecutor(max_workers=max(1, 2 * len(self.children)))
        # By child; an answer about a process since replaced is dropped.
        self._probes = Questions(self._pool)  # liveness or startup
        self._ready_probes = Questions(self._pool)
        self._all_healthy = False
        self._all_ready = False

    def start_all(self) -> None:
        now = self.clock()
        for child in self.children:
            self._start(child, now)

    def _start(self, child: Child, now: float) -> None:
        child.start(now)
        self.emit(
            "started",
            instance=child.spec.instance,
            kind=child.spec.kind,
            pid=child.pid,
            http_port=child.spec.http_port,
            restarts=child.restarts,
            log=str(child.log_path),
        )

    def tick(self) -> None:
        """One pass: collect probe answers, decide, act, start probes that are due."""
        now = self.clock()
        for i, child in enumerate(self.children):
            ok = self._probes.answer(i, child.pid)
            if ok is not None:
                was_ok = child.view.started_ok
                child.view = supervise.after_probe(child.view, ok, now)
                if child.view.started_ok and not was_ok:
                    self.emit("healthy", instance=child.spec.instance, pid=child.pid)
            if child.view.alive and not child.alive():
                child.view = supervise.ChildView(
                    False, child.view.started_at, child.view.started_ok,
                    child.view.failures, child.view.last_probe_at, child.view.streak,
                )  # fmt: skip
            if child.start_at is None:
                self._decide(child, now)
            elif now >= child.start_at:
                child.start_at = None
                self._start(child, now)
            if not self._probes.out(i) and supervise.probe_due(
                child.view, now, child.spec.liveness, child.spec.startup
            ):
                probe = supervise.probe_for(child.view, child.spec.liveness, child.spec.startup)
                child.view = supervise.ChildView(
                    True, child.view.started_at, child.view.started_ok,
                    child.view.failures, now, child.view.streak,
                )  # fmt: skip
                self._probes.ask(
                    i, child.pid, http_ok, child.spec.http_port, probe.path, probe.timeout_s
                )
            self._readiness(i, child, now)
        healthy = all(c.view.started_ok and c.alive() for c in self.children)
        if healthy and not self._all_healthy:
            self.emit("all_healthy", processes=len(self.children))
        self._all_healthy = healthy
        # Once every worker's readiness probe passed: what a script waiting for the stack
        # to serve should wait on (all_healthy says only that every one is alive).
        ready = all(c.ready() for c in self.children)
        if ready and not self._all_ready:
            self.emit("all_ready", processes=len(self.children))
        self._all_ready = ready

    def _readiness(self, i: int, child: Child, now: float) -> None:
        """Collect the child's readiness answer (an event when it turns), send the next."""
        probe = child.spec.readiness
        if probe is None:
            return
        ok = self._ready_probes.answer(i, child.pid)
        if ok is not None:
            was = child.readiness.ready
            child.readiness = supervise.after_readiness_probe(child.readiness, ok, probe)
            if child.readiness.ready != was:
                self.emit(
                    "ready" if child.readiness.ready else "unready",
                    instance=child.spec.instance,
                    pid=child.pid,
                    failures=child.readiness.failures,
                )
        if not self._ready_probes.out(i) and supervise.readiness_due(
            child.view, child.readiness, now, probe
        ):
            child.readiness = supervise.probed(child.readiness, now)
            self._ready_probes.ask(
                i, child.pid, http_ok, child.spec.http_port, probe.path, probe.timeout_s
            )

    def _decide(self, child: Child, now: float) -> None:
        decision = supervise.decide(
            child.view, now, child.spec.liveness, child.spec.startup, self.backoff
        )
        if decision.action == "keep":
            return
        old_pid = child.pid
        exit_code = child.exit_code()
        child.kill()
        child.restarts += 1
        child.start_at = decision.start_at
        child.view = supervise.ChildView(False, now, False, 0, None, decision.streak)
        # A child that died by itself says why in its last lines (a bad setting, a
        # traceback): they travel with the event instead of hiding in its log file.
        # Only what this instance wrote: the log file is kept across runs.
        tail = last_lines(child.log_path, start=child.log_start)
        said = {} if exit_code is None else {"exit_code": exit_code, "last_lines": tail}
        self.emit(
            "restart",
            instance=child.spec.instance,
            reason=decision.reason,
            pid=old_pid,
            restarts=child.restarts,
            delay_s=round(decision.start_at - now, 3),
            **said,
        )

    def stop(self) -> None:
        """SIGTERM every child by PID, wait for the grace period, SIGKILL stragglers."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        for child in self.children:
            child.terminate()
        deadline = time.monotonic() + max((c.spec.grace_s for c in self.children), default=0)
        for child in self.children:
            exited = child.reap(max(0.0, deadline - time.monotonic()))
            if not exited:
                child.kill()
            self.emit(
                "stopped",
                instance=child.spec.instance,
                pid=child.pid,
                signal="SIGTERM" if exited else "SIGKILL",
            )


def _figures_reader(
    stack: Stack, redis_: local_redis.LocalRedis, accounts: list[str]
) -> Callable[[str | None], figures.Figures]:
    """Figures from the current master; a new master gets a new client."""
    password = read_password(redis_.secret)
    keys = Keys(prefix=stack.spec.key_prefix)
    clients: dict[str, redis.Redis] = {}

    def read(master: str | None) -> figures.Figures:
        if master is None:
            return figures.Figures(error="no master known")
        if master not in clients:
            host, _, port = master.rpartition(":")
            clients.clear()
            clients[master] = redis.Redis(
                host=host, port=int(port), password=password, decode_responses=True,
                encoding_errors=ENCODING_ERRORS, socket_timeout=0.5, socket_connect_timeout=0.5,
            )  # fmt: skip
        return figures.read(clients[master], keys, accounts, time.time())

    return read


def _apply_halted(stack: Stack, redis_: local_redis.LocalRedis, emit: Emit) -> None:
    """spec.halted: true engages the kill switch before any worker starts. A false one
    clears nothing: a halt set with ``tradingstack halt`` holds across a restart of ``up``
    until ``tradingstack resume``. Then the accounts of bots no longer in the spec leave
    the book (``runtime.book``), as the operator does on every reconciliation."""
    master = redis_.master()
    if master is None:
        raise RuntimeError("no Redis master to hold the kill switch")
    host, _, port = master.rpartition(":")
    password = read_password(redis_.secret)
    client = redis.Redis(host=host, port=int(port), password=password, decode_responses=True,
                         socket_timeout=5, socket_connect_timeout=5)  # fmt: skip
    keys = Keys(prefix=stack.spec.key_prefix)
    declared = [names.account(stack.name, bot.name) for bot in stack.spec.bots]
    try:
        try:
            if stack.spec.halted:
                replicas = 1 if redis_.sentinels else 0
                killswitch.engage(client, keys, True, replicas=replicas)
            held = killswitch.read(client, keys)
        except redis.RedisError as exc:
            raise RuntimeError(f"kill switch {keys.halted}: {exc}") from exc
        emit("kill_switch", key=keys.halted, halted=bool(held),
             source="spec.halted" if stack.spec.halted else "redis")  # fmt: skip
        try:
            dropped = book.retire(client, RetryPolicy(budget_seconds=5.0), keys, declared)
        except (redis.RedisError, RedisUnavailable) as exc:
            raise RuntimeError(f"book {keys.portfolio_state}: {exc}") from exc
    finally:
        client.close()
    if dropped:
        emit("book", key=keys.portfolio_state, retired=dropped)


def _publish_status(
    data_dir: Path,
    supervisor: Supervisor,
    redis_watch: RedisWatch,
    master: str | None,
    named: str | None,
) -> None:
    """status.json: ready and desired processes per component (workers by their
    readiness probe, Redis by the pods' readiness rules, ``named`` being the master the
    sentinels name now), and the master."""
    ready = [(c.spec.deployment, c.ready()) for c in supervisor.children]
    ready += redis_watch.health(named)
    registry.publish_status(data_dir, registry.components_of(ready), master)


def run(
    path: Path,
    *,
    data_dir: Path,
    base_port: int | None,
    overrides: Mapping[str, Mapping[str, str]],
    emit: Emit,
    view: LiveView | None = None,
    tether: Tether | None = None,
) -> int:
    """Run the stack in ``path`` until SIGINT, SIGTERM or SIGHUP; returns the exit code.

    SIGHUP (the terminal closed) stops the stack as the others do: its children run in
    sessions of their own, so a hangup never reaches them, and they would trade on as
    orphans. ``tether`` binds every child to this process (:mod:`.spawn`).
    """
    stack = load_stack(path)
    found = plan.containers(render(stack))
    ports = Ports(base_port)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    stopping = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, on_signal) for s in stopping}
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    emit("starting", stack=stack.name, file=str(path), data_dir=str(data_dir))
    redis_ = local_redis.start(stack, data_dir, ports, tether)
    supervisor: Supervisor | None = None
    redis_watch = RedisWatch(stack.name, redis_, emit, Backoff())
    try:
        master = redis_.master()
        emit(
            "redis",
            servers=[f"127.0.0.1:{s.port}" for s in redis_.servers],
            sentinels=[f"127.0.0.1:{s.port}" for s in redis_.sentinels],
            pids=redis_.pids(),
            master=master,
            password_file=str(redis_.secret),
        )
        endpoint = redis_.endpoint
        registry.publish(data_dir, registry.LocalStack(
            name=stack.name, manifest=str(path.resolve()), key_prefix=stack.spec.key_prefix,
            sentinels=endpoint.sentinels, url=endpoint.url, master_name=MASTER_NAME,
            password_file=str(redis_.secret), pid=os.getpid(),
        ))  # fmt: skip
        _apply_halted(stack, redis_, emit)
        local = plan.processes(found, endpoint, ports, overrides)
        accounts = sorted({p.env["TS_ACCOUNT"] for p in local if "TS_ACCOUNT" in p.env})
        read_figures = _figures_reader(stack, redis_, accounts)
        supervisor = Supervisor([Child(p, data_dir / "logs", tether) for p in local], emit,
                                Backoff())  # fmt: skip
        supervisor.start_all()
        next_poll = time.monotonic()
        while not stop.is_set():
            supervisor.tick()
            redis_watch.tick()
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_S
                now_master = redis_.master()
                if now_master is not None and now_master != master:
                    emit("redis_master", master=now_master, previous=master)
                    master = now_master
                if view is not None:
                    view.refresh(supervisor.children, master, read_figures(master))
                _publish_status(data_dir, supervisor, redis_watch, master, now_master)
            stop.wait(TICK_S)
        emit("stopping")
    finally:
        if supervisor is not None:
            supervisor.stop()
        redis_watch.close()
        redis_.stop()
        emit("redis_stopped", pids=redis_.pids())
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    emit("exit")
    return 0


def up_command(
    file: str, *, data_dir: str | None, base_port: int | None, env: Sequence[str], tui: bool
) -> int:
    """``tradingstack up``: errors a user can act on, on stderr, exit 1.

    With the live view, the JSON event lines go to ``DATA_DIR/up.log`` instead of stdout.
    """
    path = Path(file)
    try:
        # A bad manifest or --env is refused before anything is made.
        stack = load_stack(path)
        directory = Path(data_dir) if data_dir else registry.default_data_dir(stack.name)
        found = plan.containers(render(stack))
        overrides = parse_overrides(env, {c.kind for c in found})
        check_environments(
            found, overrides, local_redis.planned_endpoint(stack, directory), time.time()
        )
        with registry.exclusive(directory) as lock_fd:
            return _run_with_output(path, directory, base_port, overrides, tui,
                                    tether=Tether(lock_fd))  # fmt: skip
    except SpecError as exc:
        for problem in exc.problems:
            print(f"tradingstack up: {file}: {problem}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"tradingstack up: {file}: {_os_problem(exc, file)}", file=sys.stderr)
        return 1
    except (plan.PlanError, PasswordError, RuntimeError, TimeoutError) as exc:
        print(f"tradingstack up: {file}: {exc}", file=sys.stderr)
        return 1


def _os_problem(exc: OSError, file: str) -> str:
    """The problem, naming the path only when it is not the manifest (named already)."""
    if exc.strerror is None or exc.filename is None:
        return str(exc)
    return exc.strerror if str(exc.filename) == file else f"{exc.filename}: {exc.strerror}"


def _run_with_output(
    path: Path,
    directory: Path,
    base_port: int | None,
    overrides: Mapping[str, Mapping[str, str]],
    tui: bool,
    *,
    tether: Tether,
) -> int:
    """:func:`run` with its events as JSON lines in ``DIRECTORY/up.log``, always, and on
    stdout, or (``tui``) in the live view."""
    with (directory / "up.log").open("a", encoding="utf-8") as log:
        to_file = json_emitter(log)
        if not tui:
            to_stdout = json_emitter(sys.stdout)

            def emit_lines(event: str, **fields: Any) -> None:
                to_file(event, **fields)
                to_stdout(event, **fields)

            return run(path, data_dir=directory, base_port=base_port, overrides=overrides,
                       emit=emit_lines, tether=tether)  # fmt: skip
        with LiveView(path.stem) as view:

            def emit(event: str, **fields: Any) -> None:
                to_file(event, **fields)
                view.emit(event, **fields)

            return run(path, data_dir=directory, base_port=base_port, overrides=overrides,
                       emit=emit, view=view, tether=tether)  # fmt: skip
