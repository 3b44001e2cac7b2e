"""Every hash reader (clusters, gate, governor) fed arbitrary bytes against a real Redis.

Snapshot keys with any suffix, hashes with any fields, numbers in other units, NaN,
keys of the wrong type: the reader never raises, counts each hash that breaks its
contract (naming the field), uses every one that keeps it, and never trusts a broken
one, the same way in every worker. The bots' readers: tests/integration/test_bot_inputs.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import TEST_PASSWORD
from tests.harness.redis_procs import RedisProcess
from tests.harness.streams import (
    add_raw,
    drain,
    gate_in_process,
    growth,
    in_process,
    raw_client,
    store_raw,
    total,
)

from tradingstack_workers.clusters.settings import ClustersSettings
from tradingstack_workers.clusters.worker import ClustersWorker
from tradingstack_workers.gate.store import GateStore
from tradingstack_workers.gate.worker import GROUP as GATE_GROUP
from tradingstack_workers.gate.worker import GateWorker
from tradingstack_workers.governor.settings import GovernorSettings
from tradingstack_workers.governor.worker import GovernorWorker
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.once import OnceWriter
from tradingstack_workers.runtime.redis_client import ENCODING_ERRORS, RetryPolicy
from tradingstack_workers.up import figures as up_figures
from tradingstack_workers.wire import (
    BadEntry,
    ClusterStateHash,
    ExecutionResult,
    Permit,
    PortfolioStateHash,
    PositionSnapshot,
    is_symbol,
)

pytestmark = pytest.mark.integration

KEYS = Keys()
SNAPSHOT = KEYS.snapshot("").encode()


def reader_client(server: RedisProcess) -> redis.Redis:
    """As the workers read: text, with undecodable bytes kept as lone surrogates."""
    return redis.Redis(
        port=server.port,
        password=TEST_PASSWORD,
        decode_responses=True,
        encoding_errors=ENCODING_ERRORS,
    )


def good_snapshot(now: float) -> dict[bytes, bytes]:
    return {b"position_amt": b"1.5", b"mark_price": b"100.0", b"ts_epoch": repr(now).encode()}


#: Never a usable number, whatever the field.
NOT_NUMBERS = st.sampled_from([b"nan", b"inf", b"-inf", b"", b"abc", b"\xff\xfe", b"1e400"])
#: Usable or not depending on the field (a position may be 0 or short; a price may not).
NUMBERS = NOT_NUMBERS | st.sampled_from([b"-1", b"0"])


@st.composite
def snapshot_hashes(draw: st.DrawFn, now: float) -> dict[bytes, dict[bytes, bytes] | bytes]:
    """Snapshot keys -> hash fields, or bytes for a key of the wrong type (a string)."""
    suffix = st.sampled_from([b"BTCUSDT", b"ETHUSDT", b"SOLUSDT", b"XRPUSDT"]) | st.binary(
        min_size=1, max_size=10
    )
    units = st.sampled_from([now * 1e3, now * 1e6, now / 60, now + 3600, -now]).map(
        lambda v: repr(v).encode()
    )
    out: dict[bytes, dict[bytes, bytes] | bytes] = {}
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        key = SNAPSHOT + draw(suffix)
        kind = draw(st.sampled_from(["good", "bad", "junk", "wrong_type"]))
        fields = good_snapshot(now)
        if kind == "bad":
            name = draw(st.sampled_from(sorted(fields)))
            fields[name] = draw(units if name == b"ts_epoch" else NUMBERS)
        elif kind == "junk":
            junk = st.dictionaries(st.binary(min_size=1, max_size=8), st.binary(max_size=12))
            fields = draw(junk.filter(bool))
        out[key] = draw(st.binary(max_size=8)) if kind == "wrong_type" else fields
    return out


def write(client: redis.Redis, hashes: dict[bytes, dict[bytes, bytes] | bytes]) -> None:
    client.flushdb()
    for key, value in hashes.items():
        if isinstance(value, dict):
            mapping: dict[Any, Any] = dict(value)
            client.hset(key, mapping=mapping)
        else:
            client.set(key, value)
        if key.startswith(SNAPSHOT):  # indexed, as every snapshot writer does
            client.sadd(KEYS.snapshot_index, key.removeprefix(SNAPSHOT))


def expected_bad(hashes: dict[bytes, dict[bytes, bytes] | bytes], now: float) -> set[str]:
    """Symbols whose snapshot a reader must count as malformed (the contract's own rule)."""
    bad = set()
    for key, value in hashes.items():
        symbol = key.removeprefix(SNAPSHOT).decode("utf-8", "surrogateescape")
        if not is_symbol(symbol):
            continue  # nobody's snapshot: never read
        if not isinstance(value, dict):
            bad.add(symbol)
            continue
        text = {k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
                for k, v in value.items()}  # fmt: skip
        try:
            PositionSnapshot.parse(symbol, text, now)
        except BadEntry:
            bad.add(symbol)
    return bad


@pytest.fixture
def raw(redis_proc: RedisProcess) -> redis.Redis:
    return raw_client(redis_proc)


def test_the_gate_counts_each_bad_snapshot_and_uses_the_rest(
    redis_proc: RedisProcess, raw: redis.Redis
) -> None:
    client = reader_client(redis_proc)
    retry = RetryPolicy(budget_seconds=5)
    store = GateStore(client, retry, OnceWriter(client, retry, "t"), KEYS, rescan_seconds=0)

    @settings(max_examples=60)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        now = time.time()
        hashes = data.draw(snapshot_hashes(now))
        write(raw, hashes)
        read = store.read_view(now, symbols=["BTCUSDT", "bad symbol", "\udcff"])
        assert {symbol for symbol, _ in read.malformed} == expected_bad(hashes, now)
        bad = expected_bad(hashes, now)
        suffixes = {k.removeprefix(SNAPSHOT).decode("utf-8", "surrogateescape") for k in hashes}
        assert set(read.view.positions) == {s for s in suffixes if is_symbol(s) and s not in bad}

    run()


def in_units(now: float) -> st.SearchStrategy[bytes]:
    """``now`` in another unit (ms, us, minutes), an hour ahead, before 2000, negative."""
    values = [now * 1e3, now * 1e6, now / 60, now + 3600, 1.0, -now]
    return st.sampled_from(values).map(lambda v: repr(v).encode())


#: The two state hashes the gate reads beside the snapshots: good fields, each field's
#: values its contract refuses, and the class that parses it.
def gate_states(now: float) -> dict[str, tuple[bytes, dict[bytes, bytes], Any]]:
    return {
        "portfolio_state": (
            KEYS.portfolio_state.encode(),
            {b"equity_usd": b"10000", b"drawdown": b"1", b"timestamp": repr(now).encode()},
            PortfolioStateHash,
        ),
        "cluster_state": (
            KEYS.cluster_state.encode(),
            {
                b"cluster_stress": b"0.3",
                b"clusters_count": b"2",
                b"updated_ts": b"%d" % int(now),
                b"symbols": b"BTCUSDT,ETHUSDT",
            },
            ClusterStateHash,
        ),
    }


def refused(field: bytes, now: float) -> st.SearchStrategy[bytes | None]:
    """Values the state field ``field`` must refuse (None: the field is missing)."""
    if field in (b"timestamp", b"updated_ts"):
        return st.none() | in_units(now) | NOT_NUMBERS
    if field == b"cluster_stress":
        return st.none() | NOT_NUMBERS | st.sampled_from([b"-0.5", b"1.5"])
    if field == b"clusters_count":
        return st.none() | NOT_NUMBERS | st.sampled_from([b"1.5", b"-1"])
    if field == b"symbols":
        return st.sampled_from([b"eth usdt", b"BTCUSDT,\xff\xfe", b"btcusdt"])
    return st.none() | NOT_NUMBERS  # equity_usd, drawdown: any finite number is a fact


@st.composite
def state_plan(
    draw: st.DrawFn, name: str, now: float
) -> tuple[dict[bytes, bytes] | bytes | None, str | None]:
    """What to store under the state key (None: absent; bytes: a string, not a hash) and
    the field the reader must name (None: nothing wrong; "?": whatever it says)."""
    _key, good, _cls = gate_states(now)[name]
    kind = draw(st.sampled_from(["good", "absent", "bad", "bad", "junk", "wrong_type"]))
    if kind == "good":
        return dict(good), None
    if kind == "absent":
        return None, None
    if kind == "wrong_type":
        return draw(st.binary(max_size=8)), "type"
    if kind == "junk":
        junk = st.dictionaries(st.binary(min_size=1, max_size=8), st.binary(max_size=12))
        return {**good, **draw(junk.filter(bool))}, "?"
    field = draw(st.sampled_from(sorted(good)))
    value = draw(refused(field, now))
    fields = dict(good)
    if value is None:
        del fields[field]
    else:
        fields[field] = value
    return fields, field.decode()


def test_the_gate_counts_a_bad_portfolio_or_cluster_state_and_never_trusts_it(
    redis_proc: RedisProcess, raw: redis.Redis
) -> None:
    with gate_in_process(redis_proc) as gate:
        run_gate_states(gate, raw)


def run_gate_states(gate: GateWorker, raw: redis.Redis) -> None:
    registry = gate.ctx.registry
    metric = "p26_input_malformed_total"
    serial = iter(range(10**6))

    @settings(max_examples=40)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        now = time.time()
        planned: dict[str, tuple[dict[bytes, bytes] | bytes | None, str | None]] = {}
        for name, (key, _good, _cls) in gate_states(now).items():
            value, bad = data.draw(state_plan(name, now))
            store_raw(raw, key, value)
            if bad == "?":  # arbitrary fields: bad exactly when the contract's class says so
                text = {k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
                        for k, v in cast("dict[bytes, bytes]", value).items()}  # fmt: skip
                bad = None
                try:
                    gate_states(now)[name][2].parse(text, time.time())
                except BadEntry as exc:
                    bad = exc.field
            planned[name] = (value, bad)
        before = {name: total(registry, metric, input=name) for name in planned}
        named = {name: total(registry, metric, input=name, field=bad or "")
                 for name, (_, bad) in planned.items()}  # fmt: skip
        pid = f"state-{next(serial)}"
        proposal = {b"proposal_id": pid.encode(), b"bot": b"bot-a", b"strategy": b"rsi",
                    b"symbol": b"ETHUSDT", b"side": b"BUY", b"qty": b"1.0",
                    b"price": b"100.0", b"notional_usd": b"100.0",
                    b"ts": repr(time.time()).encode()}  # fmt: skip
        add_raw(raw, KEYS.proposal_stream, [proposal])

        drain(gate, KEYS.proposal_stream, GATE_GROUP)

        for name, (_, bad) in planned.items():  # each broken state counted once, by field
            assert growth(registry, metric, before[name], input=name) == (bad is not None)
            if bad is not None:
                assert growth(registry, metric, named[name], input=name, field=bad) == 1
        # The proposal is decided whatever the states hold, and a broken one is not used.
        fields = cast("dict[bytes, bytes]", raw.hgetall(KEYS.permit(pid)))
        permit = Permit.parse({k.decode(): v.decode() for k, v in fields.items()}, time.time())
        portfolio, portfolio_bad = planned["portfolio_state"]
        if portfolio is None or portfolio_bad is not None:
            assert (permit.granted, permit.reason) == (False, "equity_unknown")
        if planned["cluster_state"][1] is not None:
            assert permit.k_source == "proxy"

    run()


def decoded(fields: dict[bytes, bytes]) -> dict[str, str]:
    """As a worker's client reads them: text, undecodable bytes as lone surrogates."""
    return {k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
            for k, v in fields.items()}  # fmt: skip


@st.composite
def result_entries(draw: st.DrawFn, now: float) -> dict[bytes, bytes]:
    """An execution result, its time in any unit, maybe with arbitrary fields over it."""
    entry = {b"decision": b"BLOCKED", b"reason": b"heat_limit", b"symbol": b"ETHUSDT",
             b"ts": draw(in_units(now) | st.just(repr(now).encode()))}  # fmt: skip
    if draw(st.booleans()):
        entry.update(
            draw(st.dictionaries(st.binary(min_size=1, max_size=8), st.binary(max_size=12)))
        )
    return entry


def test_ups_view_counts_what_breaks_its_contract_and_never_fails(
    redis_proc: RedisProcess, raw: redis.Redis
) -> None:
    """``tradingstack up``'s live view reads the result stream and the two state hashes:
    whatever is there, it shows the figures of what keeps its contract and counts the
    rest, by key."""
    client = reader_client(redis_proc)

    @settings(max_examples=40)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        now = time.time()
        raw.flushdb()
        entries = data.draw(st.lists(result_entries(now), max_size=8))
        add_raw(raw, KEYS.result_stream, entries)
        states = {}
        for name, (key, _good, cls) in gate_states(now).items():
            value, _bad = data.draw(state_plan(name, now))
            store_raw(raw, key, value)
            states[name] = (value, cls)

        figures = up_figures.read(client, KEYS, [], time.time())

        assert figures.error is None
        good_results = bad_results = 0
        for fields in entries:
            try:
                ExecutionResult.parse(decoded(fields), time.time())
                good_results += 1
            except BadEntry:
                bad_results += 1
        assert sum(figures.decisions.values()) == good_results
        assert figures.malformed.get("results", 0) == bad_results
        for name, label in (("portfolio_state", "portfolio"), ("cluster_state", "cluster_state")):
            value, cls = states[name]
            broken = isinstance(value, bytes)
            if isinstance(value, dict):
                try:
                    cls.parse(decoded(value), time.time())
                except BadEntry:
                    broken = True
            assert figures.malformed.get(label, 0) == broken, (name, value)
        if not isinstance(states["portfolio_state"][0], dict) or figures.malformed.get("portfolio"):
            assert figures.equity_usd is None

    run()


@pytest.fixture
def clusters(redis_proc: RedisProcess) -> Iterator[ClustersWorker]:
    with in_process(ClustersWorker, ClustersSettings, redis_proc) as worker:
        yield worker


def test_clusters_counts_each_bad_snapshot_and_never_fails_its_cycle(
    clusters: ClustersWorker, raw: redis.Redis
) -> None:
    registry = clusters.ctx.registry

    def skipped() -> float:
        return total(registry, "p27_snapshots_skipped_total")

    @settings(max_examples=40)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        now = time.time()
        hashes = data.draw(snapshot_hashes(now))
        write(raw, hashes)
        before = skipped()
        clusters.cycle()
        assert skipped() - before == len(expected_bad(hashes, time.time()))

    run()


@pytest.fixture
def governor(redis_proc: RedisProcess) -> Iterator[GovernorWorker]:
    with in_process(GovernorWorker, GovernorSettings, redis_proc) as worker:
        yield worker


STATE_KEYS = {
    "portfolio_state": (KEYS.portfolio_state, ["equity_usd", "drawdown", "timestamp"]),
    "portfolio_heat": (KEYS.portfolio_heat, ["heat", "ts"]),
    "cluster_stress": (KEYS.cluster_state, ["cluster_stress", "clusters_count", "updated_ts"]),
    "vol_regime": (KEYS.market_state("BTCUSDT"), ["vol_regime", "sigma"]),
}
#: What a market state's fields must refuse (a regime outside the four, a negative sigma).
MARKET_REFUSED = {
    b"vol_regime": st.sampled_from([b"CALM", b"\xff\xfe", b"HIGH VOL"]),
    b"sigma": NOT_NUMBERS | st.sampled_from([b"-0.01", b"-1"]),
}


def test_the_governor_counts_each_bad_input_and_still_writes_budgets(
    governor: GovernorWorker, raw: redis.Redis
) -> None:
    registry = governor.ctx.registry

    def malformed(input_type: str) -> float:
        value = registry.get_sample_value("p28_malformed_input_total", {"input_type": input_type})
        return value or 0.0

    @settings(max_examples=40)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        now = time.time()
        stamp = b"%f" % now
        good = {
            "portfolio_state": {b"equity_usd": b"10000", b"drawdown": b"1", b"timestamp": stamp},
            "portfolio_heat": {b"heat": b"0.2", b"ts": stamp},
            "cluster_stress": {b"cluster_stress": b"0.3", b"clusters_count": b"2",
                               b"updated_ts": b"%d" % int(now)},
            "vol_regime": {b"vol_regime": b"NORMAL_VOL", b"sigma": b"0.02"},
        }  # fmt: skip
        broken = data.draw(st.sets(st.sampled_from(sorted(STATE_KEYS))))
        write(raw, {KEYS.snapshot("BTCUSDT").encode(): good_snapshot(now)})
        for name, (key, fields) in STATE_KEYS.items():
            value = dict(good[name])
            if name in broken:
                field = data.draw(st.sampled_from(fields)).encode()
                ts_like = field in (b"timestamp", b"ts", b"updated_ts")
                value[field] = data.draw(
                    st.sampled_from([b"%f" % (now * 1000), b"%f" % (now + 3600), b"1"])
                    if ts_like
                    else MARKET_REFUSED.get(field, NOT_NUMBERS)
                )
            mapping: dict[Any, Any] = value
            raw.hset(key, mapping=mapping)
        before = {name: malformed(name) for name in STATE_KEYS}
        governor.cycle()
        for name in STATE_KEYS:
            assert malformed(name) - before[name] == (1 if name in broken else 0), name
        # A broken input is treated as missing: budgets still come (the portfolio's LKG
        # or fallback), and a broken portfolio state never looks fresh.
        budget = raw.hgetall(KEYS.budget("BTCUSDT"))
        if "portfolio_state" not in broken:
            assert budget[b"equity_usd"] == b"10000.0"

    run()


def test_ups_view_counts_the_budgets_of_the_indexed_symbols(
    redis_proc: RedisProcess, raw: redis.Redis
) -> None:
    """The governor writes a budget per indexed snapshot symbol; the view counts those
    that exist without walking the keyspace."""
    raw.sadd(KEYS.snapshot_index, "BTCUSDT", "ETHUSDT", "SOLUSDT")
    for symbol in ("BTCUSDT", "ETHUSDT"):
        raw.hset(KEYS.budget(symbol), mapping={"budget_usd": "100"})
    assert up_figures.read(reader_client(redis_proc), KEYS, [], time.time()).budgets == 2
    raw.delete(KEYS.snapshot_index)
    assert up_figures.read(reader_client(redis_proc), KEYS, [], time.time()).budgets == 0
