"""No request may leave loopback: an audit hook that refuses any other host, and says so.

Python raises the audit events ``socket.getaddrinfo`` and ``socket.connect`` before a
name is resolved or a connection is opened. While the guard is on, a host outside
127.0.0.0/8 and ::1 (``api.binance.com``, any address) is refused with
:class:`PermissionError` before a packet is sent, and recorded in :data:`VIOLATIONS`
so the test fails even when the caller swallowed the error (ccxt turns it into a
NetworkError). Audit hooks cannot be removed: :func:`install` adds one hook per
process, which does nothing while the guard is off.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

VIOLATIONS: list[str] = []
_state = {"installed": False, "on": False}
_lock = threading.Lock()


def _loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _state["on"]:
        return
    host: object = None
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect":
        address = args[1]
        if not isinstance(address, tuple):
            return  # a Unix socket
        host = address[0]
    else:
        return
    if not _loopback(host):
        with _lock:
            VIOLATIONS.append(f"{event} {host!r}")
        raise PermissionError(f"loopback guard: {event} to {host!r} refused")


def install() -> None:
    if not _state["installed"]:
        sys.addaudithook(_hook)
        _state["installed"] = True


@contextmanager
def loopback_only() -> Iterator[list[str]]:
    """Refuse every non-loopback host inside the block; yields the violations seen in it."""
    install()
    start = len(VIOLATIONS)
    _state["on"] = True
    seen: list[str] = []
    try:
        yield seen
    finally:
        _state["on"] = False
        seen.extend(VIOLATIONS[start:])


def always_on() -> None:
    """For a whole process (a bot under test, through ``loopback_site/sitecustomize.py``)."""
    install()
    _state["on"] = True


#: PYTHONPATH entry that turns the guard on in a child process.
SITE = str(__import__("pathlib").Path(__file__).resolve().parent / "loopback_site")
