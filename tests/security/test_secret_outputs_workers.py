"""A secret planted in a worker's inputs turns up in none of its outputs.

Every worker kind runs as a real process with the Redis password in its environment
(``TS_REDIS_PASSWORD``), one gate with it inside ``TS_REDIS_URL``; debug logging is on and
Redis changes its password under them (each worker's reconnects fail and say so) before it
takes the planted one back. Their log lines, /metrics, /healthz and /readyz never hold it.
The exchange keys go through the live adapter against the fake Binance: fills, 429s, a 503
and a refusal; no log record, metric or Redis value holds the key or the secret.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import redis
from prometheus_client import generate_latest

from tests.harness.fake_binance import Reply
from tests.harness.live_venue import API_KEY, PRICES, SECRET, live_venue
from tests.harness.processes import DEADLINE, WorkerProcess, start_worker, worker_env
from tests.harness.redis_procs import RedisProcess, redis_server, wait_for
from tests.security.leaks import found_in, planted, redis_dump
from tradingstack_workers.bots.execution import OrderIntent
from tradingstack_workers.keys import Keys

pytestmark = pytest.mark.integration

PASSWORD = planted("redis-password")
FEED = {"kind": "synthetic", "seed": 3, "interval_s": 1, "origin_ts": time.time() - 600}


def _body(port: int, path: str) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as err:
        return str(err.read().decode())


def _ready(process: WorkerProcess) -> bool:
    return process.get("/readyz")[0] == 200


def _wait_all(workers: dict[str, WorkerProcess], ready: bool, what: str) -> None:
    for name, process in workers.items():
        wait_for(partial(lambda p: _ready(p) == ready, process), DEADLINE, f"{name} {what}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisProcess]:
    started = redis_server(tmp_path / "redis", password=PASSWORD).start()
    yield started
    started.stop()


@pytest.fixture
def workers(server: RedisProcess) -> Iterator[dict[str, WorkerProcess]]:
    url = f"redis://127.0.0.1:{server.port}/0"
    common = {"TS_LOG_LEVEL": "DEBUG", "TS_HEARTBEAT_INTERVAL_SECONDS": "5",
              "TS_REDIS_SOCKET_TIMEOUT_SECONDS": "2"}  # fmt: skip
    bot = {"TS_BOT_NAME": "b", "TS_ACCOUNT": "acct", "TS_STRATEGY": "rsi_mean_reversion",
           "TS_SYMBOLS": "BTCUSDT", "TS_FEED": json.dumps(FEED)}  # fmt: skip
    kinds = {
        "gate": {},
        "governor": {"TS_INTERVAL_SECONDS": "0.5"},
        "clusters": {"TS_INTERVAL_SECONDS": "0.5"},
        "intel": {},
        "bots": bot,
    }
    started = {
        k: start_worker(k, worker_env(url, PASSWORD, **common, **e)) for k, e in kinds.items()
    }
    in_url = f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"
    started["gate-url"] = start_worker("gate", worker_env(in_url, None, **common))
    yield started
    for process in started.values():
        process.stop()


def test_the_redis_password_is_in_no_worker_output(
    server: RedisProcess, workers: dict[str, WorkerProcess]
) -> None:
    _wait_all(workers, True, "ready")
    admin = server.client()
    admin.config_set("requirepass", "another-password")
    admin = redis.Redis(port=server.port, password="another-password", decode_responses=True)
    admin.client_kill_filter(_type="normal", skipme=True)
    _wait_all(workers, False, "refused by Redis")
    admin.config_set("requirepass", PASSWORD)
    admin.client_kill_filter(_type="normal", skipme=True)
    _wait_all(workers, True, "ready again")
    outputs: dict[str, str] = {}
    for name, process in workers.items():
        port = process.http_port()
        for path in ("/metrics", "/healthz", "/readyz", "/test/inject_portfolio_state"):
            outputs[f"{name} {path}"] = _body(port, path)
    for name, process in workers.items():
        process.stop()
        outputs[f"{name} log"] = "\n".join(process.raw) + process.stderr()
    warned = [line for p in workers.values() for line in p.lines if "redis" in json.dumps(line)]
    assert warned  # the failures were logged: the search had something to search
    assert found_in(outputs, [PASSWORD]) == []


def test_exchange_keys_are_in_no_log_metric_or_redis_value(
    redis_proc: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = redis.Redis(port=redis_proc.port, password=redis_proc.password, decode_responses=True)
    with live_venue(client, sendWindowSeconds=20.0) as venue:
        storm = Reply(429, -1003, "Too many requests; current limit is 6000.", retry_after=0)
        venue.fake.script("POST /api/v3/order", storm, Reply(503, 0, "Service Unavailable."))
        statuses = []
        for i, (side, qty) in enumerate([("BUY", 0.02), ("SELL", 0.01), ("BUY", 50.0)]):
            order = OrderIntent("live", "bot", f"p{i}", "BTCUSDT", side, qty)  # type: ignore[arg-type]
            deadline = time.monotonic() + 30
            result = venue.exchange.submit(
                order, 1, PRICES["BTCUSDT"], time.time(), deadline=deadline
            )
            statuses.append(result.status)
        venue.poller.poll(1, PRICES, time.time())
        outputs = {"logs": caplog.text, "metrics": generate_latest(venue.registry).decode()}
        outputs |= redis_dump(client)
    assert statuses == ["filled", "filled", "rejected"]
    assert any(key.startswith(f"redis key {Keys(prefix='t').orders('live')}") for key in outputs)
    assert found_in(outputs, [API_KEY, SECRET]) == []
