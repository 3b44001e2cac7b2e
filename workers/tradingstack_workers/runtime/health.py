"""Liveness, readiness and metrics over one HTTP port (``/metrics`` is prometheus-client's).

``/healthz`` answers from the heartbeat only, so a Redis outage never gets a
worker restarted (the loop waiting for Redis keeps beating). ``/readyz`` asks
Redis and the worker's warm-up flag: a pod that cannot serve leaves the Service.
A worker may add routes of its own (``routes``); anything else answers 404.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import MetricsHandler
from typing_extensions import override

log = logging.getLogger(__name__)

#: A worker's own route: takes the request body, returns (status, JSON body).
Route = Callable[[bytes], tuple[int, dict[str, object]]]
#: Extra routes by (method, path); the built-in paths always win.
Routes = Mapping[tuple[str, str], Route]
#: Largest request body a route accepts; these are small JSON documents.
MAX_BODY_BYTES = 65_536


class Heartbeat:
    """The main loop's pulse: monotonic for age, wall time for the metric."""

    def __init__(
        self,
        on_beat: Callable[[float], None] = lambda _: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._on_beat = on_beat
        self._last = clock()

    def beat(self) -> None:
        self._last = self._clock()
        self._on_beat(time.time())

    def age(self) -> float:
        return self._clock() - self._last


class Readiness:
    """Readiness: the worker says it is warm and a Redis probe answers."""

    def __init__(
        self, probe_redis: Callable[[], object], on_result: Callable[[float], None] = lambda _: None
    ) -> None:
        self._probe_redis = probe_redis
        self._on_result = on_result
        self.warm = threading.Event()

    def check(self) -> tuple[bool, dict[str, str]]:
        detail = {"warm": "yes" if self.warm.is_set() else "warming up"}
        try:
            self._probe_redis()
            detail["redis"] = "ok"
        except Exception as exc:
            detail["redis"] = f"unreachable: {exc}"
        ready = self.warm.is_set() and detail["redis"] == "ok"
        self._on_result(1.0 if ready else 0.0)
        return ready, detail


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    @override
    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """A request's failure as one line of the worker's JSON log, not a traceback on
        stderr (socketserver's default). A client that closed before the answer (a
        probe past its timeout, from a worker too slow to answer) is a warning; anything
        else keeps its traceback, in the log."""
        exc = sys.exc_info()[1]
        client = {"client": f"{client_address[0]}:{client_address[1]}"}
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            log.warning(
                "http client closed before the answer",
                extra={**client, "error": f"{type(exc).__name__}: {exc}"},
            )
        else:
            log.exception("http request failed", extra=client)


class HealthServer:
    """Serves /healthz, /readyz and /metrics on a daemon thread."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        heartbeat: Heartbeat,
        liveness_timeout: float,
        readiness: Readiness,
        registry: CollectorRegistry,
        routes: Routes | None = None,
    ) -> None:
        extra: Routes = dict(routes or {})

        # /metrics is prometheus-client's own handler: gzip when accepted, OpenMetrics when
        # asked for, ?name[]= filtering; the probes and a worker's routes are ours.
        class Handler(MetricsHandler.factory(registry)):  # type: ignore[misc]
            @override
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    super().do_GET()
                elif path == "/healthz":
                    age = heartbeat.age()
                    alive = age < liveness_timeout
                    self._json(
                        200 if alive else 503,
                        {
                            "status": "ok" if alive else "stale heartbeat",
                            "heartbeat_age_seconds": round(age, 3),
                            "liveness_timeout_seconds": liveness_timeout,
                        },
                    )
                elif path == "/readyz":
                    ready, detail = readiness.check()
                    self._json(200 if ready else 503, {"ready": ready, **detail})
                else:
                    self._extra("GET", path)

            @override
            def do_POST(self) -> None:
                self._extra("POST", self.path.split("?", 1)[0])

            def _extra(self, method: str, path: str) -> None:
                route = extra.get((method, path))
                if route is None:
                    self._json(404, {"error": f"no such path: {path}"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self._json(413, {"error": f"body over {MAX_BODY_BYTES} bytes"})
                    return
                try:
                    code, body = route(self.rfile.read(length) if length > 0 else b"")
                except Exception as exc:
                    log.exception("route failed", extra={"path": path})
                    code, body = 500, {"error": f"{type(exc).__name__}: {exc}"}
                self._json(code, body)

            def _json(self, code: int, body: dict[str, object]) -> None:
                self._send(code, json.dumps(body).encode(), "application/json")

            def _send(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            @override
            def log_message(self, format: str, *args: object) -> None:
                log.debug("http " + format, *args)

        self._server = _Server((host, port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
