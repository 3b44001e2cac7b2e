"""The README's two commands, run as a new user would from this checkout (a fresh clone in CI).

The test command is what .ci/run runs, so CI already proves it; here it is checked to be
the same text. The run command is executed verbatim: bootstrap (idempotent here), then
`tradingstack up examples/paper.yaml` with its live view, until every process is healthy,
then Ctrl-C (SIGINT to the process group, as a terminal sends it) stops everything.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.harness.processes import ROOT

from tradingstack_workers.kinds import SETTINGS
from tradingstack_workers.runtime.settings import RuntimeSettings

pytestmark = pytest.mark.integration

README = ROOT / "README.md"
BOOTSTRAP = ROOT / "scripts" / "bootstrap.sh"


def fenced_commands() -> list[str]:
    """Lines of the fenced blocks without a language (a ```yaml block is an example)."""
    fences = re.findall(r"^```(\S*)\n(.*?)^```$", README.read_text(), flags=re.DOTALL | re.M)
    blocks = [body for language, body in fences if not language]
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def command_with(text: str) -> str:
    matches = [c for c in fenced_commands() if text in c]
    assert len(matches) == 1, f"the README should show one command with {text!r}: {matches}"
    return matches[0]


def test_ci_runs_the_readme_test_command() -> None:
    test_command = command_with("scripts/test.sh")
    assert test_command.replace("bash ", "") in (ROOT / ".ci" / "run").read_text()


def events(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def test_the_readme_run_command_brings_the_stack_up_and_ctrl_c_stops_it() -> None:
    command = command_with("tradingstack up")
    data = ROOT / ".tradingstack" / "paper"
    if data.exists():
        shutil.rmtree(data)  # a previous run's state; this test starts from scratch
    env = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
    process = subprocess.Popen(
        ["bash", "-c", command], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if any(e.get("event") == "all_healthy" for e in events(data / "up.log")):
                break
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.5)
        else:
            pytest.fail(f"not all healthy within 180 s: {events(data / 'up.log')[-5:]}")
        started = [e for e in events(data / "up.log") if e.get("event") == "started"]
        assert len(started) >= 9  # four workers (two gates) and two bots of two replicas
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    pids = [int(str(e["pid"])) for e in started if "pid" in e]
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"child {pid} still running"
    assert any(e.get("event") == "stopped" for e in events(data / "up.log"))
    shutil.rmtree(data)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_the_readme_and_worker_help_name_every_worker_kind() -> None:
    kinds = set(SETTINGS)
    (row,) = re.findall(r"^\| `tradingstack worker ([^`]*)`", README.read_text(), flags=re.M)
    assert set(row.replace("\\|", "|").split("|")) == kinds
    done = subprocess.run(
        [sys.executable, "-m", "tradingstack_workers.cli", "worker", "--help"], cwd=ROOT,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    listed = re.search(r"worker kind: (.*)", done.stdout)
    assert listed is not None, done.stdout
    assert set(listed.group(1).split(", ")) == kinds


def test_the_readme_names_the_extras_bootstrap_installs() -> None:
    (extras,) = re.findall(r'pip install .*"\$ROOT(\[[^]]*\])"', BOOTSTRAP.read_text())
    text = README.read_text()
    assert extras in text
    assert "its test extras" not in text


def test_the_readme_says_where_workers_listen_by_default() -> None:
    default = RuntimeSettings.model_fields["http_host"].default
    assert f"`TS_HTTP_HOST`,\n`{default}` by default" in README.read_text()
    assert "`TS_HTTP_HOST=127.0.0.1`" in README.read_text()
