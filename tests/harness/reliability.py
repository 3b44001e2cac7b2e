"""The reliability figures a test run writes, one JSON object per line, for RELIABILITY.md.

``TRADINGSTACK_RELIABILITY_DIR`` (default ``.reliability/`` in the checkout) holds one
file per kind of figure: ``chaos.jsonl``, ``soak.jsonl``, ``security.jsonl``. A file is
started afresh by the first record of a test run and appended to by the next ones;
``scripts/reliability.py`` turns them into RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_started: set[str] = set()
_lock = threading.Lock()


def directory() -> Path:
    return Path(os.environ.get("TRADINGSTACK_RELIABILITY_DIR") or ROOT / ".reliability")


def record(kind: str, row: dict[str, Any]) -> None:
    """Append ``row`` (with the time) to ``<dir>/<kind>.jsonl``; the run's first row of a
    kind replaces what an earlier run wrote."""
    folder = directory()
    folder.mkdir(parents=True, exist_ok=True)
    with _lock:
        mode = "a" if kind in _started else "w"
        _started.add(kind)
        with (folder / f"{kind}.jsonl").open(mode, encoding="utf-8") as out:
            out.write(json.dumps({"recorded": round(time.time(), 3), **row}, default=str) + "\n")


def read(kind: str) -> list[dict[str, Any]]:
    """The rows of ``<dir>/<kind>.jsonl`` as written (empty when there is none)."""
    path = directory() / f"{kind}.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
