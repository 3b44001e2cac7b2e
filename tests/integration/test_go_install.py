"""scripts/go.sh: the build scripts find a new enough Go, or install the pinned one.

A fresh Debian machine has no Go, or Debian's 1.19, which cannot build the control
plane's modules (go 1.26.0) nor fetch a newer toolchain itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GO_SH = ROOT / "scripts" / "go.sh"


def bash(script: str, path: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")} | {"PATH": path}
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; say() {{ echo "$*" >&2; }}; source "{GO_SH}"\n'
         + script],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("version", "enough"),
    [("go1.26.8", True), ("go1.26", True), ("go1.27.1", True), ("go1.30.0", True),
     ("go1.25.9", False), ("go1.19.8", False), ("go1.9", False), ("", False)],
)  # fmt: skip
def test_the_minimum_go_is_compared_as_a_version(version: str, enough: bool) -> None:
    done = bash(f'go_is_new_enough "{version}"', "/usr/bin:/bin")
    assert (done.returncode == 0) == enough, done.stderr


def test_an_old_go_on_path_is_passed_over_for_the_pinned_one(tmp_path: Path) -> None:
    """Debian 12's go (1.19) first on PATH: the scripts install and use Go 1.26.8."""
    old = tmp_path / "old-go"
    old.mkdir()
    (old / "go").write_text("#!/bin/sh\necho go1.19.8\n")
    (old / "go").chmod(0o755)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tradingstack"
    done = bash(
        f'ensure_go "{sys.executable}" "{cache / "go"}"; command -v go; go version',
        f"{old}:/usr/bin:/bin",
    )
    assert done.returncode == 0, done.stderr
    where, version = done.stdout.splitlines()[-2:]
    assert where == str(cache / "go" / "go1.26.8.linux-amd64" / "bin" / "go") or where.endswith(
        "/go1.26.8.linux-arm64/bin/go"
    )
    assert version.startswith("go version go1.26.8 ")


def test_a_go_new_enough_on_path_is_used_as_it_is(tmp_path: Path) -> None:
    new = tmp_path / "new-go"
    new.mkdir()
    (new / "go").write_text('#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go1.27.3\n')
    (new / "go").chmod(0o755)
    done = bash(
        f'ensure_go "{sys.executable}" "{tmp_path}/cache"; command -v go', f"{new}:/usr/bin:/bin"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(new / "go")
    assert not (tmp_path / "cache").exists()  # nothing installed
