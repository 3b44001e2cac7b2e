"""``tradingstack up`` (and the commands that find a stack by name) refuse bad input with
one line naming the field and the problem, before anything starts (no Redis, no worker,
no data dir), and lose no data."""

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


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"first\nsecond\n", "holds a line break inside the password"), (b"\n", "is empty")],
)
def test_a_refused_password_file_is_one_line_naming_it_and_is_kept(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    secret = data_dir / "redis-password"
    secret.write_bytes(content)
    up = UpProcess("examples/paper.yaml", data_dir, stderr=subprocess.PIPE)
    code, stderr = refused(up)
    assert code == 1
    assert stderr == f"tradingstack up: examples/paper.yaml: {secret} {problem}\n"
    assert "Traceback" not in stderr
    assert up.of("redis") == []  # no Redis was started
    assert secret.read_bytes() == content


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("up", "examples/paper.yaml", "--base-port", "99999"),
         "argument --base-port: '99999' is not a port (1..65535)"),
        (("status", "paper", "--sentinel", "nohost"),
         "argument --sentinel: 'nohost' is not HOST:PORT"),
        (("halt", "paper", "--sentinel", "h:0"), "argument --sentinel: 'h:0' is not HOST:PORT"),
        (("intel", "report", "c", "--threshold", "nan"),
         "argument --threshold: 'nan' is not a percentage in 0..100"),
        (("intel", "report", "c", "--threshold", "140"),
         "argument --threshold: '140' is not a percentage in 0..100"),
        (("intel", "report", "a", "--now", "1796097301549"),
         "argument --now: '1796097301549' is not a Unix time in seconds (milliseconds?"),
    ],
)  # fmt: skip
def test_a_bad_option_is_one_line_naming_it(argv: tuple[str, ...], said: str) -> None:
    done = run_cli(*argv)
    assert done.returncode == 2
    assert said in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("tradingstack ")


def test_a_stack_file_that_is_no_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text("not json", encoding="utf-8")
    done = run_cli("status", "paper", "--data-dir", str(tmp_path))
    assert done.returncode == 1
    stack_json = tmp_path / "stack.json"
    assert done.stderr.startswith(f"tradingstack status: {stack_json}: not a stack file")


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_an_unreadable_manifest_is_named_once(tmp_path: Path, make: str) -> None:
    path = tmp_path / "stack.yaml"
    if make == "directory":
        path.mkdir()
    done = run_cli("up", str(path), "--no-tui", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 1
    problem = {"missing": "No such file or directory", "directory": "Is a directory"}[make]
    assert done.stderr == f"tradingstack up: {path}: {problem}\n"
    assert not (tmp_path / "data").exists()
