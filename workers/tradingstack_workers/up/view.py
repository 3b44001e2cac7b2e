"""The live terminal view (rich): components, Redis master, pipeline figures, events.

:func:`screen` is a pure function of a :class:`Snapshot`; :class:`LiveView` only gathers
the snapshot once a second and hands it to rich.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .children import Child
from .figures import Figures

EVENTS_SHOWN = 8


@dataclass(frozen=True)
class Row:
    instance: str
    kind: str
    state: str
    pid: int | None
    port: int
    restarts: int
    heartbeat_age: float | None


@dataclass(frozen=True)
class Snapshot:
    stack: str
    master: str | None
    uptime_s: float
    rows: Sequence[Row]
    figures: Figures
    events: Sequence[str]


def state_of(child: Child) -> str:
    if child.start_at is not None:
        return "restarting"
    if not child.alive():
        return "exited"
    if not child.view.started_ok:
        return "starting"
    if child.view.failures:
        return "unhealthy"  # its liveness probe failed: restarted at the threshold
    return "ready" if child.ready() else "not ready"


_STYLE = {"ready": "green", "starting": "yellow", "not ready": "yellow", "restarting": "magenta"}


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def screen(snap: Snapshot) -> Group:
    """What the terminal shows, from a snapshot alone.

    Every value from outside (instance names, reasons, errors, events) goes in as
    :class:`rich.text.Text`, never into a markup string: ``[bold]`` or ``[link=...]`` in
    an event's reason is shown as written, not interpreted.
    """
    components = Table(expand=True, title=Text(f"{snap.stack}: up {snap.uptime_s:.0f} s"))
    for column in ("component", "kind", "state", "pid", "port", "restarts", "heartbeat age"):
        components.add_column(column)
    for row in snap.rows:
        style = _STYLE.get(row.state, "red")
        age = "-" if row.heartbeat_age is None else f"{row.heartbeat_age:.1f} s"
        components.add_row(
            Text(row.instance), Text(row.kind), Text(row.state, style=style),
            Text(str(row.pid or "-")), Text(str(row.port)), Text(str(row.restarts)), Text(age),
        )  # fmt: skip
    f = snap.figures
    pipeline = Table.grid(padding=(0, 2))
    pipeline.add_column(style="bold")
    pipeline.add_column()

    def add(name: str, value: str, style: str = "") -> None:
        pipeline.add_row(name, Text(value, style=style))

    add("redis master", snap.master or "unknown", "" if snap.master else "red")
    if f.error:
        add("redis", f.error, "red")
    add("proposals", str(f.proposals))
    add("gate verdicts", str(f.gate_verdicts))
    add("execution results", str(f.results))
    add("decisions (recent)", ", ".join(f"{k} {v}" for k, v in sorted(f.decisions.items())) or "-")
    add("top reasons", "; ".join(f"{r} ({n})" for r, n in f.top_reasons) or "-")
    dd = "-" if f.drawdown is None else f"{f.drawdown:.2f}%"
    add("equity / drawdown", f"{_money(f.equity_usd)} USD / {dd}")
    add("open positions", str(f.open_positions))
    add("cluster stress", "-" if f.cluster_stress is None else f"{f.cluster_stress:.3f}")
    add("budgets", str(f.budgets))
    if f.malformed:
        add(
            "malformed (recent)",
            ", ".join(f"{k} {v}" for k, v in sorted(f.malformed.items())),
            "red",
        )
    return Group(
        components,
        Panel(pipeline, title="pipeline"),
        Panel(Text("\n".join(snap.events) or "-"), title="events"),
    )


def _heartbeat_age(port: int) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=0.5) as resp:
            return float(json.loads(resp.read())["heartbeat_age_seconds"])
    except Exception:  # an unanswered probe is shown as "-", never a crash of the view
        return None


class LiveView:
    """Redraws once a second; events arrive through :meth:`emit`."""

    def __init__(self, stack: str, console: Console | None = None) -> None:
        self.stack = stack
        self.started = time.monotonic()
        self.events: deque[str] = deque(maxlen=EVENTS_SHOWN)
        self._live = Live(console=console, auto_refresh=False, screen=False)
        self._pool = ThreadPoolExecutor(max_workers=8)
        self._ages: dict[str, float | None] = {}
        self._pending: dict[str, Future[float | None]] = {}

    def emit(self, event: str, **fields: Any) -> None:
        detail = " ".join(f"{k}={v}" for k, v in fields.items() if k not in ("log", "ts"))
        self.events.append(f"{time.strftime('%H:%M:%S')} {event} {detail}")

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _age(self, child: Child) -> float | None:
        name = child.spec.instance
        pending = self._pending.get(name)
        if pending is not None and pending.done():
            self._ages[name] = pending.result()
            del self._pending[name]
        if name not in self._pending:
            self._pending[name] = self._pool.submit(_heartbeat_age, child.spec.http_port)
        return self._ages.get(name)

    def refresh(self, children: Sequence[Child], master: str | None, figures: Figures) -> None:
        rows = [
            Row(c.spec.instance, c.spec.kind, state_of(c), c.pid, c.spec.http_port,
                c.restarts, self._age(c))
            for c in children
        ]  # fmt: skip
        snap = Snapshot(
            self.stack, master, time.monotonic() - self.started, rows, figures, list(self.events)
        )
        self._live.update(screen(snap), refresh=True)
