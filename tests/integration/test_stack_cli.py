"""A stack run by ``tradingstack up``, found by name: status, halt, resume, intel report.

Nobody digs ports or the password out of the data dir: the commands find the stack from
``--data-dir`` (what ``.tradingstack/NAME`` is by default). While halted, every fill is an
exit (its position shrinks), entries are skipped with ``halted``; the halt holds across a
bot's kill -9 and a Redis master's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from tests.harness.redis_procs import wait_for
from tests.harness.up_process import ROOT, UpProcess

from tradingstack_workers.intel.report import HALTED_BANNER
from tradingstack_workers.keys import Keys
from tradingstack_workers.up.registry import LocalStack

pytestmark = pytest.mark.integration

KEYS = Keys()
NAME = "paper"
WAIT = 90.0


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    feed = {"kind": "synthetic", "seed": 11, "interval_s": 1, "origin_ts": time.time() - 3600}
    stack = UpProcess("examples/paper.yaml", tmp_path_factory.mktemp("cli") / "data",
                      ["--env", "bots:TS_CYCLE_SECONDS=0.5",
                       "--env", f"bots:TS_FEED={json.dumps(feed)}"])  # fmt: skip
    try:
        wait_for(lambda: bool(stack.of("all_healthy")), WAIT, "all_healthy")
        yield stack
    finally:
        stack.stop()


def tradingstack(up: UpProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
    argv = [sys.executable, "-m", "tradingstack_workers.cli", *args, "--data-dir", str(up.data_dir)]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip


def status(up: UpProcess) -> dict[str, Any]:
    done = tradingstack(up, "status", NAME, "--json")
    assert done.returncode == 0, done.stderr
    state: dict[str, Any] = json.loads(done.stdout)
    return state


def master(up: UpProcess) -> redis.Redis:
    local = LocalStack.load(up.data_dir)
    password = Path(local.password_file).read_text().strip()
    sentinel = redis.Sentinel(
        list(local.sentinels), sentinel_kwargs={"password": password},
        password=password, socket_timeout=2, decode_responses=True,
    )  # fmt: skip
    return cast(redis.Redis, sentinel.master_for(local.master_name, socket_timeout=2))


def fills_since(client: redis.Redis, account: str, after: str) -> list[dict[str, str]]:
    entries = cast("list[tuple[str, dict[str, str]]]",
                   client.xrange(KEYS.fills(account), f"({after}", "+"))  # fmt: skip
    return [fields for _, fields in entries]


def last_id(client: redis.Redis, stream: str) -> str:
    newest = cast("list[tuple[str, dict[str, str]]]", client.xrevrange(stream, count=1))
    return newest[0][0] if newest else "0-0"


def halted_results_since(client: redis.Redis, after: str) -> int:
    entries = cast("list[tuple[str, dict[str, str]]]",
                   client.xrange(KEYS.result_stream, f"({after}", "+"))  # fmt: skip
    return sum(1 for _, f in entries if (f["decision"], f["reason"]) == ("SKIP", "halted"))


def assert_only_exits(fills: list[dict[str, str]]) -> None:
    for fill in fills:
        after = float(fill["position_after"])
        before = after - (1 if fill["side"] == "BUY" else -1) * float(fill["qty"])
        assert abs(after) < abs(before), f"an entry filled while halted: {fill}"


def test_status_finds_the_stack_by_name(up: UpProcess) -> None:
    wait_for(lambda: all(c["ready"] == c["desired"] for c in status(up)["components"].values()),
             WAIT, "every component ready")  # fmt: skip
    state = status(up)
    assert (state["name"], state["where"]) == (NAME, "up")
    assert set(state["components"]) >= {"paper-gate", "paper-bot-majors-rsi", "paper-clusters"}
    assert state["redis_master"].startswith("127.0.0.1:")
    assert state["halted"] in (None, False)
    assert [a["account"] for a in state["accounts"]] == ["paper-majors-rsi", "paper-sol-bollinger"]
    text = tradingstack(up, "status", NAME)
    assert text.returncode == 0, text.stderr
    assert "kill switch:  trading" in text.stdout
    assert "book:         equity " in text.stdout


def test_the_portfolio_state_is_every_bots_account_together(up: UpProcess) -> None:
    """Each bot trades its own account; the portfolio state the gate and the governor
    judge holds the stack's whole book (runtime.book), not the last writer's."""
    accounts = [a["account"] for a in status(up)["accounts"]]
    parts = [f"equity_usd:{a}" for a in accounts]
    wait_for(lambda: all(p in status(up)["portfolio"] for p in parts), WAIT, "every part")
    book = status(up)["portfolio"]
    assert book["equity_usd"] == pytest.approx(sum(book[p] for p in parts))
    # Each paper account starts with 100 000 USD: one account's equity is not the book.
    assert book["equity_usd"] > 1.5 * max(book[p] for p in parts)


def test_halt_stops_entries_and_holds_across_a_bot_and_a_master_kill(up: UpProcess) -> None:
    client = master(up)
    accounts = [a["account"] for a in status(up)["accounts"]]
    halted = tradingstack(up, "halt", NAME)
    assert halted.returncode == 0, halted.stderr
    assert "halted" in halted.stdout
    marks = {a: last_id(client, KEYS.fills(a)) for a in accounts}
    results = last_id(client, KEYS.result_stream)
    assert status(up)["halted"] is True

    wait_for(lambda: halted_results_since(master(up), results) >= 3, WAIT, "entries skipped")
    for account in accounts:
        assert_only_exits(fills_since(master(up), account, marks[account]))

    # A bot killed -9 comes back (up restarts it) still halted.
    bot = "paper-bot-majors-rsi-0"
    pid = up.pids()[bot]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: up.pids()[bot] != pid, WAIT, "the bot restarted")
    seen = halted_results_since(master(up), results)
    # The master dies: the switch was written to a replica too.
    (info,) = up.of("redis")
    os.kill(info["pids"][info["servers"].index(status(up)["redis_master"])], signal.SIGKILL)
    wait_for(lambda: bool(up.of("redis_master")), WAIT, "a failover")
    wait_for(lambda: master(up).get(KEYS.halted) == "1", WAIT, "the new master holds the switch")
    wait_for(lambda: halted_results_since(master(up), results) > seen + 2, WAIT, "still skipped")
    for account in accounts:
        assert_only_exits(fills_since(master(up), account, marks[account]))

    report = tradingstack(up, "intel", "report", "c", "--stack", NAME)
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith(HALTED_BANNER)
    as_json = tradingstack(up, "intel", "report", "c", "--json", "--stack", NAME)
    assert as_json.returncode == 0, as_json.stderr
    gates = json.loads(as_json.stdout)
    assert gates["halted"] is True
    assert "halted" in {g["reason"] for g in gates["gates"]}  # counted by intel as a gate


def test_resume_lets_the_bots_trade_again(up: UpProcess) -> None:
    resumed = tradingstack(up, "resume", NAME)
    assert resumed.returncode == 0, resumed.stderr
    assert status(up)["halted"] is False
    assert master(up).get(KEYS.halted) == "0"
    missing = tradingstack(up, "halt", "other")
    assert missing.returncode == 1
    assert "holds stack 'paper', not 'other'" in missing.stderr


def test_a_stopped_stack_is_reported_not_running(tmp_path: Path) -> None:
    """Once its ``up`` has exited, the data dir's stack is named as not running, at once,
    rather than after the sentinels' timeouts as 'Redis unreachable'."""
    manifest = "tests/data/specs/valid/single-redis.yaml"
    stopped = UpProcess(manifest, tmp_path / "data")
    try:
        wait_for(lambda: bool(stopped.of("redis")), WAIT, "Redis started")
        wait_for((stopped.data_dir / "stack.json").exists, WAIT, "stack.json")
    finally:
        stopped.stop()
    assert stopped.of("exit")
    for command in ("status", "halt", "resume"):
        done = tradingstack(stopped, command, "single-redis")
        assert done.returncode == 1
        assert done.stderr == (
            f"tradingstack {command}: stack 'single-redis' is not running: no `tradingstack up`"
            f" holds {stopped.data_dir} (start it with `tradingstack up {ROOT / manifest}`)\n"
        )


def redis_ready(stack: UpProcess) -> int | None:
    """status.json's ready count of the stack's one Redis server."""
    server = stack.status().get("single-redis-redis")
    return None if server is None else int(server["ready"])


def test_status_with_redis_unreachable_still_shows_the_components(tmp_path: Path) -> None:
    """Redis down is when a user most wants ``status``: it prints what up reports (the
    components) beside the Redis error, and exits 1."""
    stack = UpProcess("tests/data/specs/valid/single-redis.yaml", tmp_path / "data")
    stopped: int | None = None
    try:
        wait_for(lambda: bool(stack.of("all_ready")), WAIT, "all_ready")
        wait_for(lambda: bool(stack.status()), WAIT, "status.json")
        (info,) = stack.of("redis")
        stopped = info["pids"][0]
        os.kill(stopped, signal.SIGSTOP)  # accepts connections, answers nothing
        wait_for(lambda: redis_ready(stack) == 0, WAIT, "status.json: the frozen server unready")
        done = tradingstack(stack, "status", "single-redis", "--json")
        assert done.returncode == 1
        assert done.stderr.startswith("tradingstack status: Redis unreachable: ")
        state = json.loads(done.stdout)
        assert state["redis_error"]
        assert set(state["components"]) >= {"single-redis-gate", "single-redis-clusters"}
        assert (state["halted"], state["accounts"], state["book"]) == (None, [], None)
        text = tradingstack(stack, "status", "single-redis")
        assert text.returncode == 1
        assert "redis:        unreachable: " in text.stdout
        assert "kill switch:  unknown (Redis unreachable)" in text.stdout
        assert "single-redis-gate" in text.stdout
        os.kill(stopped, signal.SIGCONT)
        stopped = None
        wait_for(lambda: redis_ready(stack) == 1, WAIT, "status.json: the server ready again")
        wait_for(lambda: tradingstack(stack, "status", "single-redis").returncode == 0, WAIT,
                 "status answering again once Redis is back")  # fmt: skip
    finally:
        if stopped is not None:
            os.kill(stopped, signal.SIGCONT)
        stack.stop()
