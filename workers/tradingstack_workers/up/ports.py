"""Loopback ports for ``up``: any free one, or the next free from ``--base-port``."""

from __future__ import annotations

import socket


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Ports:
    """Hands out distinct loopback ports; sequential from ``base`` when one is given."""

    def __init__(self, base: int | None = None) -> None:
        self._next = base
        self._given: set[int] = set()

    def __call__(self) -> int:
        if self._next is None:
            while True:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", 0))
                    port = int(sock.getsockname()[1])
                if port not in self._given:
                    break
        else:
            while not _free(self._next) or self._next in self._given:
                self._next += 1
                if self._next > 65535:
                    raise RuntimeError("no free loopback port above --base-port")
            port = self._next
            self._next += 1
        self._given.add(port)
        return port
