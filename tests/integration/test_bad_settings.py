"""A bad environment exits 2 with one line naming the variable, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tests.harness.processes import DEADLINE, ROOT, sample_worker, start_worker


@pytest.mark.parametrize(
    ("env", "named", "problem"),
    [
        (
            {"TS_HEARTBEAT_INTERVAL_SECONDS": "-1"},
            "TS_HEARTBEAT_INTERVAL_SECONDS=-1",
            "greater than 0",
        ),
        (
            {"TS_REDIS_SENTINELS": "sentinel-0:26379,nonsense"},
            "TS_REDIS_SENTINELS",
            "not host:port",
        ),
        ({"TS_REDIS_SENTINELS": "a:26379,b:port"}, "TS_REDIS_SENTINELS", "not a number"),
        ({"TS_HTTP_PORT": "http"}, "TS_HTTP_PORT=http", "valid integer"),
        ({"TS_HEARTBEAT_INTERVL_SECONDS": "5"}, "TS_HEARTBEAT_INTERVL_SECONDS", "did you mean"),
        ({"TS_REDIS_PASSWORD_FILE": "/nonexistent/pw"}, "TS_REDIS_PASSWORD_FILE", "cannot read"),
    ],
)
def test_bad_value_exits_2_naming_the_variable(
    env: dict[str, str], named: str, problem: str
) -> None:
    process = sample_worker(env)
    code = process.proc.wait(timeout=30)
    stderr = process.stderr()
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert named in lines[0]
    assert problem in lines[0]
    assert "Traceback" not in stderr
    assert process.raw == []  # nothing started


def test_cli_refuses_an_unknown_worker_kind() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tradingstack_workers.cli", "worker", "nosuchkind"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown kind 'nosuchkind'" in result.stderr


def test_a_bad_operator_setting_exits_2_naming_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tradingstack_workers.cli", "operator"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TS_OPERATOR_RESYNC_SECONDS": "-5"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "TS_OPERATOR_RESYNC_SECONDS" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_bar_length_the_exchange_lacks_exits_2_before_the_bot_starts() -> None:
    process = start_worker(
        "bots",
        {
            "TS_BOT_NAME": "bb",
            "TS_STRATEGY": "bollinger_bounce",
            "TS_SYMBOLS": "BTCUSDT",
            "TS_EXCHANGE": json.dumps({"id": "binance"}),
            "TS_FEED": json.dumps({"kind": "exchange", "interval_s": 7}),
        },
    )
    code = process.proc.wait(timeout=DEADLINE)
    stderr = process.stderr()
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "TS_FEED: feed.interval_s: 7 is not an exchange bar length" in lines[0]
    assert process.raw == []  # nothing started
