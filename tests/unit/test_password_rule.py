"""One password rule in every reader: Python (workers, operator) and sh (the Redis pods)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tradingstack_operator.render.redis_scripts import SCRIPTS
from tradingstack_workers.password import PasswordError, password_from_bytes, read_password

CASES: list[tuple[bytes, str | None]] = [
    (b"s3cret", "s3cret"),
    (b"s3cret\n", "s3cret"),  # kubectl create secret --from-file
    (b"p a\"s\\s$x#'", "p a\"s\\s$x#'"),  # quoting is the readers' job, not the rule's
    ("pässwörd\n".encode(), "pässwörd"),
    (b"s3cret\n\n", None),  # a second newline is not a typo we may guess at
    (b"", None),
    (b"\n", None),
    (b" s3cret", None),
    (b"s3cret ", None),
    (b"\ts3cret", None),
    (b"s3c\nret", None),
    (b"s3cret\r\n", None),
    (b"s3c\x00ret", None),
    (b"s3c\xffret", None),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_python_rule(raw: bytes, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(PasswordError):
            password_from_bytes(raw)
    else:
        assert password_from_bytes(raw) == expected


def test_a_refusal_names_the_file_never_the_value(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_bytes(b" hunter2\n")
    with pytest.raises(PasswordError) as caught:
        read_password(path)
    assert str(path) in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.skipif(shutil.which("dash") is None, reason="dash (POSIX sh) not installed")
@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_the_pods_scripts_read_passwords_by_the_same_rule(
    raw: bytes, expected: str | None, tmp_path: Path
) -> None:
    """lib.sh's ``secret`` (what redis.sh and sentinel.sh use) agrees with the Python rule."""
    (tmp_path / "password").write_bytes(raw)
    lib = tmp_path / "lib.sh"
    lib.write_text(SCRIPTS["lib.sh"], encoding="utf-8")
    environ = {"REDIS_PASSWORD_FILE": str(tmp_path / "password"), "POD_NAME": "p-redis-0",
               "REDIS_HEADLESS": "h", "REDIS_NAMESPACE": "ns", "CLUSTER_DOMAIN": "cluster.local",
               "PATH": "/usr/bin:/bin"}  # fmt: skip
    result = subprocess.run(
        ["dash", "-c", f'. {lib}\nprintf "%s" "$PASSWORD"'],
        env=environ,
        capture_output=True,
        check=False,
    )
    if expected is None:
        assert result.returncode != 0
        assert str(tmp_path / "password").encode() in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout.decode("utf-8") == expected
