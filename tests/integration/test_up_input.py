"""``tradingstack up`` refuses bad input with one line naming the field and the problem,
before anything starts (no Redis, no worker, no data dir), and loses no data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.harness.processes import DEADLINE
from tests.harness.up_process import ROOT, UpProcess

pytestmark = pytest.mark.integration


def refused(up: UpProcess) -> tuple[int, str]:
    """The exit code and stderr of an ``up`` that must stop by itself; stopped otherwise."""
    try:
        code = up.proc.wait(timeout=DEADLINE)
    finally:
        up.stop()  # SIGTERM: an ``up`` that started its stack stops it, by PID
    assert up.proc.stderr is not None
    return code, up.proc.stderr.read().decode()


@pytest.mark.parametrize(
    ("item", "said"),
    [
        ("TS_LEVERAGE_CAP=-1", "the gate worker (paper-gate-0) would refuse its settings: "
                               "TS_LEVERAGE_CAP=-1: Input should be greater than 0"),
        ("nope:TS_X=1", "--env 'nope:TS_X=1': unknown worker kind 'nope' (kinds: clusters, "
                        "gate, governor, intel, bots)"),
        ("gate:TS_HTTP_PORT=abc", "--env 'gate:TS_HTTP_PORT=abc': TS_HTTP_PORT is set by `up`"),
        ("TS_LOG_LEVEL=LOUD", "TS_LOG_LEVEL=LOUD: Input should be 'DEBUG'"),
    ],
)  # fmt: skip
def test_a_bad_env_value_is_refused_before_anything_starts(
    tmp_path: Path, item: str, said: str
) -> None:
    data_dir = tmp_path / "data"
    up = UpProcess("examples/paper.yaml", data_dir, ["--env", item], stderr=subprocess.PIPE)
    code, stderr = refused(up)
    assert code == 1
    assert stderr.startswith("tradingstack up: examples/paper.yaml: ")
    assert said in stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert up.events == []  # no event: nothing was started
    assert not data_dir.exists()


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradingstack_workers.cli", *argv], cwd=ROOT,
        capture_output=True, text=True, timeout=DEADLINE, check=False,
    )  # fmt: skip
