"""``tradingstack up``'s live view: a pure function of a snapshot."""

from __future__ import annotations

import io
import os
import tempfile

from rich.console import Console

from tradingstack_workers.cli import live_view
from tradingstack_workers.up.figures import Figures
from tradingstack_workers.up.view import Row, Snapshot, screen


def test_screen_shows_components_master_and_figures() -> None:
    snap = Snapshot(
        stack="paper",
        master="127.0.0.1:6400",
        uptime_s=12,
        rows=[Row("paper-gate-0", "gate", "ready", 42, 40001, 2, 0.4)],
        figures=Figures(
            proposals=7,
            results=5,
            decisions={"EXECUTE": 4, "SKIP": 1},
            top_reasons=[("filled", 4)],
            equity_usd=100_000.0,
            cluster_stress=0.25,
            budgets=3,
        ),
        events=["12:00:00 restart instance=paper-gate-0"],
    )
    console = Console(width=160, record=True)
    console.print(screen(snap))
    text = console.export_text()
    shown = ["paper-gate-0", "ready", "0.4 s", "127.0.0.1:6400", "EXECUTE 4", "filled (4)"]
    shown += ["100,000.00", "0.250", "restart instance=paper-gate-0"]
    for expected in shown:
        assert expected in text


def test_markup_in_what_the_view_shows_is_printed_as_written() -> None:
    """Event fields and figures come from outside: rich must not interpret them."""
    hostile = "[bold]x [link=http://e]y"
    snap = Snapshot(
        stack="p[red]aper",
        master=None,
        uptime_s=1,
        rows=[Row("g-[i]0", "gate", "exited", None, 1, 0, None)],
        figures=Figures(
            top_reasons=[(hostile, 2)], error=f"ConnectionError: {hostile}",
            malformed={"results": 3},
        ),
        events=[f"12:00:00 restart reason={hostile}"],
    )  # fmt: skip
    console = Console(width=200, record=True)
    console.print(screen(snap))
    text = console.export_text()
    for expected in (f"{hostile} (2)", f"reason={hostile}", f"ConnectionError: {hostile}",
                     "g-[i]0", "p[red]aper", "unknown", "results 3"):  # fmt: skip
        assert expected in text


def test_the_live_view_is_drawn_on_a_terminal_only() -> None:
    """Redirected to a file, the view's frames reached it only at exit (a fresh user's
    `up ... > up.log &` saw an empty log while the stack ran): JSON lines there instead."""
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as terminal, tempfile.TemporaryFile("w") as file:
        assert live_view(no_tui=False, stdout=terminal)
        assert not live_view(no_tui=True, stdout=terminal)
        assert not live_view(no_tui=False, stdout=file)
        assert not live_view(no_tui=False, stdout=io.StringIO())
    os.close(leader)
