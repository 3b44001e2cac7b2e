"""The health server's optional extra routes: built-ins win, unknown paths and methods 404."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge
from tests.harness.redis_procs import wait_for

from tradingstack_workers.runtime.health import (
    MAX_BODY_BYTES,
    HealthServer,
    Heartbeat,
    Readiness,
    Routes,
)


def serve(routes: Routes | None, heartbeat: Heartbeat | None = None) -> HealthServer:
    server = HealthServer(
        host="127.0.0.1",
        port=0,
        heartbeat=heartbeat or Heartbeat(),
        liveness_timeout=5.0,
        readiness=Readiness(lambda: True),
        registry=CollectorRegistry(),
        routes=routes,
    )
    server.start()
    return server


def call(server: HealthServer, method: str, path: str, body: bytes = b"") -> tuple[int, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}", data=body or None, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def echo(body: bytes) -> tuple[int, dict[str, object]]:
    return 201, {"got": body.decode()}


def boom(_body: bytes) -> tuple[int, dict[str, object]]:
    raise RuntimeError("broken")


@pytest.fixture
def server() -> Iterator[HealthServer]:
    running = serve({("POST", "/echo"): echo, ("POST", "/boom"): boom, ("GET", "/healthz"): echo})
    yield running
    running.stop()


def test_extra_route_gets_the_body(server: HealthServer) -> None:
    assert call(server, "POST", "/echo", b"hello") == (201, {"got": "hello"})


def test_builtin_paths_win_and_unknown_paths_404(server: HealthServer) -> None:
    code, body = call(server, "GET", "/healthz")
    assert code == 200
    assert isinstance(body, dict)
    assert body["status"] == "ok"
    assert call(server, "GET", "/echo")[0] == 404
    assert call(server, "POST", "/nope", b"{}")[0] == 404


def test_a_failing_route_answers_500(server: HealthServer) -> None:
    assert call(server, "POST", "/boom", b"x")[0] == 500


def test_oversized_body_is_refused(server: HealthServer) -> None:
    assert call(server, "POST", "/echo", b"x" * (MAX_BODY_BYTES + 1))[0] == 413


def test_without_routes_post_is_404() -> None:
    running = serve(None)
    try:
        assert call(running, "POST", "/echo", b"{}")[0] == 404
    finally:
        running.stop()


def test_healthz_turns_503_as_the_heartbeat_reaches_the_liveness_timeout() -> None:
    now = [1000.0]
    heartbeat = Heartbeat(clock=lambda: now[0])
    running = serve(None, heartbeat)
    try:
        now[0] += 4.5
        assert call(running, "GET", "/healthz") == (
            200,
            {"status": "ok", "heartbeat_age_seconds": 4.5, "liveness_timeout_seconds": 5.0},
        )
        now[0] += 0.5
        assert call(running, "GET", "/healthz") == (
            503,
            {"status": "stale heartbeat", "heartbeat_age_seconds": 5.0,
             "liveness_timeout_seconds": 5.0},
        )  # fmt: skip
        heartbeat.beat()
        assert call(running, "GET", "/healthz")[0] == 200
    finally:
        running.stop()


def test_metrics_are_prometheus_clients_own_handler() -> None:
    """gzip when accepted, OpenMetrics when asked for, ?name[]= filtering (review #3)."""
    registry = CollectorRegistry()
    Counter("demo_events", "Events", registry=registry).inc(3)
    Gauge("demo_level", "Level", registry=registry).set(2)
    server = HealthServer(host="127.0.0.1", port=0, heartbeat=Heartbeat(), liveness_timeout=5.0,
                          readiness=Readiness(lambda: True), registry=registry)  # fmt: skip
    server.start()
    base = f"http://127.0.0.1:{server.port}/metrics"
    try:
        with urllib.request.urlopen(base, timeout=3) as plain:
            text = plain.read().decode()
        assert "demo_events_total 3.0" in text
        assert "demo_level 2.0" in text
        zipped = urllib.request.Request(base, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(zipped, timeout=3) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert b"demo_events_total 3.0" in gzip.decompress(response.read())
        open_metrics = urllib.request.Request(
            base, headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        with urllib.request.urlopen(open_metrics, timeout=3) as response:
            assert response.headers["Content-Type"].startswith("application/openmetrics-text")
            assert response.read().decode().endswith("# EOF\n")
        with urllib.request.urlopen(base + "?name[]=demo_level", timeout=3) as response:
            only = response.read().decode()
        assert "demo_level 2.0" in only
        assert "demo_events" not in only
    finally:
        server.stop()


def test_a_client_gone_before_the_answer_is_one_log_line_not_a_traceback(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """A prober past its timeout closes before the answer: the write fails, and the
    worker says so in one JSON-loggable line, never as socketserver's stderr traceback."""
    asked, answer = threading.Event(), threading.Event()

    def slow(_body: bytes) -> tuple[int, dict[str, object]]:
        asked.set()
        answer.wait(30)
        return 200, {"pad": "x" * 1_000_000}  # more than the socket buffers take

    running = serve({("POST", "/slow"): slow})
    try:
        client = socket.create_connection(("127.0.0.1", running.port), timeout=5)
        client.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert asked.wait(30)
        # Closed with a reset (linger 0), as a client that gave up.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        with caplog.at_level(logging.WARNING, logger="tradingstack_workers.runtime.health"):
            answer.set()
            wait_for(lambda: any("closed before the answer" in r.message for r in caplog.records),
                     30, "a log line for the client gone")  # fmt: skip
    finally:
        answer.set()
        running.stop()
    (record,) = [r for r in caplog.records if "closed before the answer" in r.message]
    assert record.exc_info is None
    assert getattr(record, "error", "").split(":")[0] in {"BrokenPipeError", "ConnectionResetError"}
    assert "Traceback" not in capfd.readouterr().err
