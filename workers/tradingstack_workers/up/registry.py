"""What a running ``tradingstack up`` leaves in its data dir for the CLI to find it by name.

``stack.json`` (written once Redis is up): the stack's name, manifest, key prefix and how
to reach its Redis (loopback sentinels or the one server, the password file). The
``halt``, ``resume``, ``status`` and ``intel report --stack`` commands read it, so a user
never digs ports or passwords out of the data dir by hand.

``status.json`` (rewritten once a second): each worker Deployment's ready and desired
process counts and the current master, as the operator would report a cluster's.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

STACK_FILE = "stack.json"
STATUS_FILE = "status.json"
#: Held (flock) by the one ``up`` that runs on a data dir; holds that process's PID.
LOCK_FILE = "up.lock"


class DataDirInUse(RuntimeError):
    """Another ``tradingstack up`` runs on this data dir."""


@contextmanager
def exclusive(data_dir: Path) -> Iterator[None]:
    """Hold ``data_dir`` for this ``up``; DataDirInUse (naming the holder's PID) otherwise.

    Why: two ``up`` runs on one data dir start two Redis on one set of files and trade the
    same accounts twice, and the second leaves ``stack.json`` pointing at its own sentinels,
    so ``halt`` can no longer reach the first. The lock is an flock: the kernel drops it
    when the holder exits, however it exits, and no child inherits it (Popen closes fds).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DataDirInUse(
                f"{data_dir} is in use by another `tradingstack up` (pid {holder}): "
                "stop that one first, or give this one another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def default_data_dir(name: str) -> Path:
    """Where ``up`` keeps a stack's data and the CLI looks for it by name."""
    return Path(".tradingstack") / name


@dataclass(frozen=True)
class LocalStack:
    """One ``up`` run: enough to reach its Redis and read its manifest again."""

    name: str
    manifest: str
    key_prefix: str
    sentinels: tuple[tuple[str, int], ...]
    url: str | None
    master_name: str
    password_file: str
    pid: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def load(cls, data_dir: Path) -> LocalStack:
        """Raises OSError when absent, ValueError when unreadable."""
        raw = json.loads((data_dir / STACK_FILE).read_text(encoding="utf-8"))
        try:
            return cls(
                name=str(raw["name"]),
                manifest=str(raw["manifest"]),
                key_prefix=str(raw["key_prefix"]),
                sentinels=tuple((str(h), int(p)) for h, p in raw["sentinels"]),
                url=None if raw["url"] is None else str(raw["url"]),
                master_name=str(raw["master_name"]),
                password_file=str(raw["password_file"]),
                pid=int(raw["pid"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{data_dir / STACK_FILE}: not a stack file ({exc})") from None

    def running(self) -> bool:
        """The ``up`` process that wrote this is still alive."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _write(path: Path, text: str) -> None:
    """Replace the file whole (a reader never sees half of it)."""
    partial = path.with_suffix(path.suffix + ".tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def publish(data_dir: Path, stack: LocalStack) -> None:
    _write(data_dir / STACK_FILE, stack.to_json() + "\n")


def publish_status(
    data_dir: Path, components: Mapping[str, tuple[int, int]], master: str | None
) -> None:
    """``components``: Deployment -> (ready, desired) processes."""
    doc = {
        "updated_ts": time.time(),
        "master": master,
        "components": {name: {"ready": r, "desired": d} for name, (r, d) in components.items()},
    }
    _write(data_dir / STATUS_FILE, json.dumps(doc, sort_keys=True) + "\n")


def read_status(data_dir: Path) -> dict[str, Any] | None:
    try:
        doc: dict[str, Any] = json.loads((data_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc


def components_of(children: Sequence[tuple[str, bool]]) -> dict[str, tuple[int, int]]:
    """(deployment, healthy) per process -> deployment -> (ready, desired)."""
    out: dict[str, tuple[int, int]] = {}
    for deployment, healthy in children:
        ready, desired = out.get(deployment, (0, 0))
        out[deployment] = (ready + int(healthy), desired + 1)
    return out
