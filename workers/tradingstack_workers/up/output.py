"""The last lines a child process wrote: what ``up`` shows when one dies."""

from __future__ import annotations

from collections import deque
from pathlib import Path

#: Lines of a dead child's output quoted in ``up``'s error or restart event.
TAIL_LINES = 20


def last_lines(path: Path, lines: int = TAIL_LINES, start: int = 0) -> list[str]:
    """The file's last ``lines`` lines from byte ``start`` on (where this process began
    writing to a log kept across runs; undecodable bytes replaced); [] when absent."""
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            tail = deque(handle, maxlen=lines)
    except FileNotFoundError:
        return []
    return [line.decode("utf-8", "replace").rstrip("\r\n") for line in tail]
