"""Fixtures of the operator tier: the API emulator, a kubeconfig for it, a real kopf operator."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import kmock
import kopf
import kubernetes
import pytest
import pytest_asyncio

from tests.harness.kopf_runner import OperatorThread, write_kubeconfig
from tests.operator.emulator import Emulator

StartOperator = Callable[..., Awaitable[OperatorThread]]


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """The emulated API server on a free loopback port, for this test only."""
    async with Emulator() as handler, kmock.Server(handler, host="127.0.0.1"):
        try:
            yield handler
        finally:
            handler.close()  # end watch streams first, or the HTTP server waits for them


@pytest.fixture
def api_url(emulator: Emulator) -> str:
    return str(emulator.url).rstrip("/")


@pytest_asyncio.fixture
async def namespace(emulator: Emulator) -> str:
    """A fresh namespace, created through the API as a cluster admin would."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    response = await emulator.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert response.status == 201, await response.text()
    return name


@pytest.fixture
def kubeconfig(
    tmp_path: Path, api_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A kubeconfig for the emulator, made the default for every client in this process.

    The kubernetes client reads $KUBECONFIG once, at import, into
    KUBE_CONFIG_DEFAULT_LOCATION: patching the environment alone is not enough.
    """
    path = write_kubeconfig(tmp_path / "kubeconfig", api_url, namespace)
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    return path


@pytest.fixture
def api_client(kubeconfig: Path) -> Iterator[Any]:
    """A kubernetes.client.ApiClient built from the kubeconfig (not from global defaults).

    It is synchronous: call it through asyncio.to_thread() from async tests, or the
    emulator (served from the test's own loop) can never answer.
    """
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    yield client
    client.close()


@pytest_asyncio.fixture
async def start_operator(
    kubeconfig: Path, namespace: str, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[StartOperator]:
    """Start a real kopf operator (in its own thread) on the test's namespace; stopped after."""
    # `kopf run` logs at INFO; do the same, so a failing test shows what kopf was doing.
    caplog.set_level(logging.INFO, logger="kopf")
    started: list[OperatorThread] = []

    async def start(
        registry: kopf.OperatorRegistry, settings: kopf.OperatorSettings | None = None
    ) -> OperatorThread:
        operator = OperatorThread(registry, [namespace], settings)
        started.append(operator)
        await operator.start()
        return operator

    yield start
    for operator in started:
        await operator.stop()
