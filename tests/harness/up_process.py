"""``tradingstack up FILE --no-tui`` as a real process, and the JSON events it prints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class UpProcess:
    def __init__(
        self,
        manifest: str | Path,
        data_dir: Path,
        extra: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
        stderr: int | None = None,
    ) -> None:
        argv = [sys.executable, "-m", "tradingstack_workers.cli", "up", str(manifest),
                "--no-tui", "--data-dir", str(data_dir), *extra]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
        env.update(environ or {})  # what the person running ``up`` exported
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True
        )
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                self.events.append(json.loads(raw))
            except json.JSONDecodeError:
                continue

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["event"] == event]

    def ports(self) -> dict[str, int]:
        return {e["instance"]: e["http_port"] for e in self.of("started")}

    def status(self) -> dict[str, Any]:
        """``status.json``'s components (what ``tradingstack status`` shows); {} before
        up first writes it."""
        try:
            doc = json.loads((self.data_dir / "status.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        components: dict[str, Any] = doc["components"]
        return components

    def pids(self) -> dict[str, int]:
        return {e["instance"]: e["pid"] for e in self.of("started")}  # the latest wins

    def stop(self) -> None:
        """SIGTERM (``up`` stops its children), then kill if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
