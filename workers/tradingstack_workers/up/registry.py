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
def exclusive(data_dir: Path) -> Iterator[int]:
    """Hold ``data_dir`` for this ``up``, yielding the lock's fd; DataDirInUse otherwise.

    Why: two ``up`` runs on one data dir start two Redis on one set of files and trade the
    same accounts twice, and the second leaves ``stack.json`` pointing at its own sentinels,
    so ``halt`` can no longer reach the first. The lock is an flock: the kernel drops it
    when the last process holding its fd exits, however it exits. ``up`` passes the fd to
    every child (:mod:`.spawn`), so the data dir stays held while any process of the stack
    lives, even one that outlived ``up``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DataDirInUse(_in_use(data_dir, holder, lock_holders(path))) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield fd
    finally:
        os.close(fd)


def _in_use(data_dir: Path, up_pid: str, holders: Mapping[int, str]) -> str:
    """One line: who holds ``data_dir`` and what to do about it."""
    if not holders or up_pid in {str(pid) for pid in holders}:
        return (
            f"{data_dir} is in use by another `tradingstack up` (pid {up_pid}): "
            "stop that one first, or give this one another --data-dir"
        )
    named = ", ".join(f"{pid} ({name})" for pid, name in sorted(holders.items()))
    return (
        f"{data_dir} is still held by processes of a `tradingstack up` (pid {up_pid}) that "
        f"is gone: pids {named}; stop them (kill PID), then start again, or give this one "
        "another --data-dir"
    )


def lock_holders(path: Path) -> dict[int, str]:
    """PID -> program name of every process with ``path`` open (Linux ``/proc``; processes
    of other users are skipped when their fds cannot be read)."""
    try:
        target = os.stat(path)
    except OSError:
        return {}
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(fd)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                found[int(entry.name)] = _program(entry)
                break
    return found


def _program(proc_dir: Path) -> str:
    """The process's program and, for an interpreter, the module or script it runs."""
    try:
        argv = (proc_dir / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    words = [Path(argv[0]).name, *(a for a in argv[1:3] if a)]
    return " ".join(words)


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
        text = (data_dir / STACK_FILE).read_text(encoding="utf-8")
        try:
            raw = json.loads(text)
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
    """(deployment, ready) per process -> deployment -> (ready, desired)."""
    out: dict[str, tuple[int, int]] = {}
    for deployment, is_ready in children:
        ready, desired = out.get(deployment, (0, 0))
        out[deployment] = (ready + int(is_ready), desired + 1)
    return out


def held(data_dir: Path) -> bool:
    """Whether a ``tradingstack up`` holds ``data_dir`` (its :func:`exclusive` lock) now.

    The lock, not ``stack.json``'s PID: the kernel drops it however ``up`` ended, and a
    PID may be reused. The probe takes a shared lock for an instant and drops it.
    """
    try:
        fd = os.open(data_dir / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
