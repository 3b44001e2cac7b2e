"""Run the real kopf operator in its own thread and event loop.

Why a thread: the emulator serves HTTP from the test's event loop, so that loop must stay
free while kopf talks to it; and stopping kopf inside pytest-asyncio's loop would cancel
the test's own tasks. Against the emulator every wait is awaitable for the same reason (a
blocking wait in the test's loop would stall the emulator and deadlock the operator);
against a real API server, synchronous tests use the blocking ``run``/``halt``.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import kopf
import pytest
import yaml

#: The deadline of every wait in this tier. Generous: the waits poll, so it costs nothing
#: when the machine is fast, and keeps a loaded two-core machine from failing a correct
#: operator.
WAIT = 60.0


def write_kubeconfig(path: Path, server: str, namespace: str = "default") -> Path:
    """A kubeconfig that points every client at the emulator (plain HTTP, no credentials)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": server}}],
        "users": [{"name": "tester", "user": {}}],
        "contexts": [
            {
                "name": "emulator",
                "context": {"cluster": "emulator", "user": "tester", "namespace": namespace},
            }
        ],
        "current-context": "emulator",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def fast_settings() -> kopf.OperatorSettings:
    """kopf settings for tests: no namespace scanning, quick retries and quick shutdown."""
    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True  # kmock cannot list namespaces for kopf's globbing
    settings.networking.error_backoffs = [0.1, 0.2, 0.5]
    settings.networking.request_timeout = 2.0
    settings.watching.reconnect_backoff = 0.1
    settings.queueing.idle_timeout = 0.1  # how soon a quiet per-object worker exits
    settings.queueing.exit_timeout = 1.0
    # A sync handler running in a thread can only be waited for: kopf re-checks it every
    # `cancellation_polling` seconds (default 60) before it releases its finalizer, so a
    # deletion that lands mid-handler would otherwise stall for a minute.
    settings.background.cancellation_polling = 0.1
    return settings


class OperatorThread:
    """One kopf.operator() run: start, wait until ready, stop and join; errors re-raised."""

    def __init__(
        self,
        registry: kopf.OperatorRegistry,
        namespaces: list[str],
        settings: kopf.OperatorSettings | None = None,
    ) -> None:
        self.registry = registry
        self.settings = settings or fast_settings()
        self.namespaces = namespaces
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kopf-operator", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(
                kopf.operator(
                    registry=self.registry,
                    settings=self.settings,
                    namespaces=self.namespaces,
                    standalone=True,  # no peering objects: a test runs one operator
                    stop_flag=self._stop,
                    ready_flag=self._ready,
                )
            )
        except BaseException as e:  # surfaced to the test at stop()
            self._error = e

    def run(self, timeout: float = 60.0) -> OperatorThread:
        """Start and wait until kopf is ready, blocking (no event loop of the test's)."""
        self._thread.start()
        if not self._ready.wait(timeout):
            self.halt()
            raise TimeoutError(f"kopf was not ready within {timeout}s")
        return self

    def halt(self, timeout: float = 60.0) -> None:
        """Stop and join, blocking; kopf's own errors are raised here."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"kopf did not stop within {timeout}s")
        if self._error is not None:
            raise self._error

    async def start(self, timeout: float = WAIT) -> None:
        self._thread.start()
        ready = await asyncio.to_thread(self._ready.wait, timeout)
        if not ready:
            await self.stop()
            raise TimeoutError(f"kopf was not ready within {timeout}s")

    async def stop(self, timeout: float = WAIT) -> None:
        self._stop.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"kopf did not stop within {timeout}s")
        if self._error is not None:
            raise self._error


async def eventually(
    check: Callable[[], bool] | Callable[[], Awaitable[bool]],
    timeout: float = WAIT,
    interval: float = 0.02,
) -> None:
    """Wait (without blocking the emulator's loop) until check() is true, or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        await asyncio.sleep(interval)


def handled(caplog: pytest.LogCaptureFixture, handler: str, kind: str = "Timer") -> int:
    """How many runs of the kopf handler named ``handler`` kopf has logged as succeeded.

    kopf names a handler by its qualified name (``Timer 'build_registry.<locals>.resync'``),
    ``kind`` is ``Timer`` for timers and ``Handler`` for event handlers.
    """
    done = re.compile(rf"^{kind} '(?:.*\.)?{re.escape(handler)}' succeeded\.$")
    return sum(1 for record in list(caplog.records) if done.match(record.getMessage()))


async def runs_of(
    caplog: pytest.LogCaptureFixture, handler: str, count: int, kind: str = "Timer"
) -> None:
    """Wait until kopf has run ``handler`` ``count`` more times to success.

    What a check that something does *not* happen waits for: the operator has had that
    many chances to do it, whatever the machine's speed (a fixed sleep may hold none).
    """
    target = handled(caplog, handler, kind) + count
    await eventually(lambda: handled(caplog, handler, kind) >= target)
