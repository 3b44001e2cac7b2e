"""The symbol scan against a real redis-server: every page of SCAN, bad suffixes kept out."""

from __future__ import annotations

import pytest
import redis
from tests.conftest import TEST_PASSWORD
from tests.harness.redis_procs import RedisProcess

from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.redis_client import ENCODING_ERRORS, RetryPolicy
from tradingstack_workers.runtime.symbol_scan import SCAN_COUNT, SnapshotSymbols, scan_symbols

pytestmark = pytest.mark.integration

KEYS = Keys()


def test_scan_finds_every_symbol_across_pages_and_rejects_the_rest(
    redis_proc: RedisProcess,
) -> None:
    raw = redis.Redis(port=redis_proc.port, password=TEST_PASSWORD)
    symbols = [f"S{i:04d}USDT" for i in range(3 * SCAN_COUNT)]  # several SCAN pages
    pipe = raw.pipeline(transaction=False)
    for symbol in symbols:
        pipe.hset(KEYS.snapshot(symbol), "position_amt", "1")
    for suffix in (b"BTCUSDT\n", b"bad key", b"\xff\xfe"):
        pipe.hset(KEYS.snapshot("").encode() + suffix, "position_amt", "1")
    pipe.hset(KEYS.market_state("ETHUSDT"), "regime", "LOW_VOL")  # another kind of key
    pipe.execute()

    reader = redis.Redis(
        port=redis_proc.port,
        password=TEST_PASSWORD,
        decode_responses=True,
        encoding_errors=ENCODING_ERRORS,
    )
    scanned = scan_symbols(
        reader, RetryPolicy(budget_seconds=5.0), KEYS.snapshot(""), KEYS.snapshot_pattern
    )
    assert scanned.symbols == symbols
    assert sorted(scanned.rejected) == sorted(
        ["BTCUSDT\n", "bad key", b"\xff\xfe".decode("utf-8", ENCODING_ERRORS)]
    )


def scans(client: redis.Redis) -> int:
    """SCAN calls the server has answered so far."""
    stats = client.info("commandstats")
    return int(stats.get("cmdstat_scan", {}).get("calls", 0))


def test_snapshot_symbols_scan_once_then_read_the_writers_index(
    redis_proc: RedisProcess,
) -> None:
    raw = redis.Redis(port=redis_proc.port, password=TEST_PASSWORD)
    # Snapshots from before the index (an upgrade): found by the one SCAN, then indexed.
    raw.hset(KEYS.snapshot("BTCUSDT"), "position_amt", "1")
    raw.hset(KEYS.snapshot("").encode() + b"\xff\xfe", "position_amt", "1")
    raw.sadd(KEYS.snapshot_index, "ETHUSDT")  # a writer of this version, earlier
    for i in range(2 * SCAN_COUNT):  # the rest of the keyspace: markers, permits
        raw.set(f"once:{i}", "1")
    reader = redis.Redis(port=redis_proc.port, password=TEST_PASSWORD, decode_responses=True,
                         encoding_errors=ENCODING_ERRORS)  # fmt: skip
    symbols = SnapshotSymbols(reader, RetryPolicy(budget_seconds=5.0), KEYS)

    first = symbols.read()
    assert first.symbols == ["BTCUSDT", "ETHUSDT"]
    assert first.rejected == [b"\xff\xfe".decode("utf-8", ENCODING_ERRORS)]
    assert reader.smembers(KEYS.snapshot_index) == {"BTCUSDT", "ETHUSDT"}

    # Later reads are one SMEMBERS: a symbol a writer indexed since is found, no SCAN runs,
    # and an index member that is no symbol is rejected like a key's suffix.
    scanned = scans(reader)
    raw.sadd(KEYS.snapshot_index, "SOLUSDT", "bad key")
    later = symbols.read()
    assert later.symbols == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert later.rejected == ["bad key"]
    assert scans(reader) == scanned
