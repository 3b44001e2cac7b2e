"""Workers run in this process against a real redis-server, driven step by step.

The worker is the real one (its consumer or reader, decision, metrics and Redis
client), so a test can feed it input it could meet in the field (a batch with a poison
entry, a hash of garbage) and check what it decided and counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar, cast

import redis
from bench.common import in_process_worker
from prometheus_client import CollectorRegistry

from tests.conftest import TEST_PASSWORD
from tests.harness.processes import stream_worker_env, worker_env
from tests.harness.redis_procs import RedisProcess
from tradingstack_workers.gate.settings import GateSettings
from tradingstack_workers.gate.worker import GateWorker
from tradingstack_workers.intel.settings import IntelSettings
from tradingstack_workers.intel.worker import IntelWorker
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.loop import Worker, WorkerContext
from tradingstack_workers.runtime.settings import RuntimeSettings, load_settings
from tradingstack_workers.wire import dead_letter

S = TypeVar("S", bound=RuntimeSettings)
W = TypeVar("W", bound=Worker[Any])
Fields = Mapping[bytes, bytes]


def raw_client(server: RedisProcess) -> redis.Redis:
    """A client that sends and returns bytes as they are (to write what no worker would)."""
    return redis.Redis(host="127.0.0.1", port=server.port, password=TEST_PASSWORD)


@contextmanager
def in_process(
    factory: Callable[[WorkerContext[S]], W],
    kind: type[S],
    server: RedisProcess,
    consumer: str | None = None,
    **env: str,
) -> Iterator[W]:
    """The worker ``factory`` builds, its settings from a test environment (a stream
    consumer named ``consumer`` blocks briefly, so a test steps it quickly)."""
    url = f"redis://127.0.0.1:{server.port}/0"
    if consumer is None:
        environ = worker_env(url, TEST_PASSWORD, **env)
    else:
        environ = stream_worker_env(url, TEST_PASSWORD, consumer, TS_STREAM_BLOCK_MS="20", **env)
    with in_process_worker(factory, load_settings(kind, environ)) as (_, worker):
        yield worker


def gate_in_process(server: RedisProcess) -> AbstractContextManager[GateWorker]:
    return in_process(GateWorker, GateSettings, server, "gate-a", TS_SNAPSHOT_RESCAN_SECONDS="0")


def intel_in_process(server: RedisProcess) -> AbstractContextManager[IntelWorker]:
    return in_process(IntelWorker, IntelSettings, server, "intel-a")


def drain(worker: Worker[Any], stream: str, group: str, timeout: float = 60.0) -> None:
    """Step ``worker`` until its group has read every entry and holds none pending."""
    client = worker.ctx.redis
    deadline = time.monotonic() + timeout
    while True:
        worker.step()
        info = {g["name"]: g for g in client.xinfo_groups(stream)}.get(group)
        if info is not None and info["pending"] == 0 and info["lag"] == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{group} on {stream} not drained: {info}")


def add_raw(client: redis.Redis, stream: str, entries: Sequence[Fields]) -> list[str]:
    pipe = client.pipeline(transaction=False)
    for fields in entries:
        raw: dict[Any, Any] = dict(fields)
        pipe.xadd(stream, raw)
    return [i.decode() for i in pipe.execute()]


def store_raw(client: redis.Redis, key: str | bytes, value: Fields | bytes | None) -> None:
    """Replace ``key`` by a hash (a mapping), a string (bytes: a key of the wrong type for a
    hash reader) or nothing (None)."""
    client.delete(key)
    if isinstance(value, bytes):
        client.set(key, value)
    elif value is not None:
        mapping: dict[Any, Any] = dict(value)
        client.hset(key, mapping=mapping)


def dead_letters(client: redis.Redis, stream: str) -> dict[str, dict[bytes, bytes]]:
    """The dead-letter stream of ``stream`` by source entry id, fields as raw bytes."""
    rows = cast("list[tuple[bytes, dict[bytes, bytes]]]", client.xrange(Keys().dead_letter(stream)))
    return {f[dead_letter.SOURCE_ID.encode()].decode(): f for _, f in rows}


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def total(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """A labelled counter summed over every sample that carries ``labels`` (all when none)."""
    return float(
        sum(
            s.value
            for f in registry.collect()
            for s in f.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )
    )


def growth(registry: CollectorRegistry, name: str, since: float, **labels: str) -> float:
    """How much a counter (summed as :func:`total`) grew from its value ``since``."""
    return total(registry, name, **labels) - since
