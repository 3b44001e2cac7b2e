"""Poison entries in every consumer-group reader (gate, intel), against a real redis-server.

An entry that cannot be decoded or parsed is dead-lettered with its field named and its
bytes kept; every other entry of the same batch is decided; the group is never wedged.
Field case 09 (a proposal whose ``bot`` is not UTF-8, among valid ones), then the kind:
hypothesis feeds each reader arbitrary bytes, numbers in every unit, NaN, inf,
negatives and missing fields.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.harness.redis_procs import RedisProcess
from tests.harness.streams import (
    Fields,
    add_raw,
    dead_letters,
    drain,
    gate_in_process,
    intel_in_process,
    raw_client,
    sample,
    total,
)

from tradingstack_workers.gate.worker import GROUP as GATE_GROUP
from tradingstack_workers.intel.store import GROUP as INTEL_GROUP
from tradingstack_workers.keys import Keys
from tradingstack_workers.runtime.loop import Worker
from tradingstack_workers.wire import dead_letter

pytestmark = pytest.mark.integration

KEYS = Keys()
CASE09 = Path(__file__).parents[1] / "data" / "cases" / "case09-non-utf8-proposal.json"
_ids = itertools.count()


def _b(fields: dict[str, str]) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in fields.items()}


def good_proposal(now: float) -> dict[bytes, bytes]:
    n = next(_ids)
    return _b({"proposal_id": f"p-{n}", "bot": "bot-a", "strategy": "breakout_momentum",
               "symbol": "ETHUSDT", "side": "BUY", "qty": "1.0", "price": "100.0",
               "notional_usd": "100.0", "ts": repr(now)})  # fmt: skip


def good_result(now: float) -> dict[bytes, bytes]:
    n = next(_ids)
    return _b({"decision": "BLOCKED", "reason": "heat_limit", "symbol": "ETHUSDT",
               "ts": repr(now), "bot": "bot-a", "strategy": "rsi_mean_reversion",
               "proposal_id": f"p-{n}"})  # fmt: skip


@dataclass(frozen=True)
class Reader:
    """One consumer-group reader and how to tell that it decided an entry."""

    name: str
    stream: str
    group: str
    start: Callable[[RedisProcess], AbstractContextManager[Worker[Any]]]
    good: Callable[[float], dict[bytes, bytes]]
    #: Counter of entries it decided (the gate: proposals judged; intel: results counted).
    decided_metric: str
    #: Counter of entries dead-lettered for a bad field, labelled by ``field``.
    malformed_metric: str
    #: Counter of entries dead-lettered, labelled by ``cause``.
    dead_metric: str


GATE = Reader("gate", KEYS.proposal_stream, GATE_GROUP, gate_in_process, good_proposal,
              "p26_proposals_processed_total", "p26_proposals_malformed_total",
              "p26_dead_lettered_total")  # fmt: skip
INTEL = Reader("intel", KEYS.result_stream, INTEL_GROUP, intel_in_process, good_result,
               "p35_processed_total", "p35_malformed_total", "p35_dead_lettered_total")  # fmt: skip
READERS = {"gate": GATE, "intel": INTEL}


@pytest.fixture(params=["gate", "intel"])
def reader(request: pytest.FixtureRequest) -> Reader:
    return READERS[request.param]


@pytest.fixture
def running(reader: Reader, redis_proc: RedisProcess) -> Iterator[Worker[Any]]:
    with reader.start(redis_proc) as worker:
        yield worker


def test_case09_a_non_utf8_field_is_dead_lettered_and_the_batch_decided(
    reader: Reader, running: Worker[Any], redis_proc: RedisProcess
) -> None:
    case = json.loads(CASE09.read_text())
    now = time.time()
    poison = dict(reader.good(now))
    for name, value in case["fields"].items():
        if reader is GATE or name in case["hex_fields"]:
            raw = bytes.fromhex(value) if name in case["hex_fields"] else value.encode()
            poison[name.encode()] = repr(now).encode() if value == "NOW" else raw
    client = raw_client(redis_proc)
    before = [reader.good(now) for _ in range(case["valid_before"])]
    after = [reader.good(now) for _ in range(case["valid_after"])]
    ids = add_raw(client, reader.stream, [*before, poison, *after])
    registry = running.ctx.registry

    drain(running, reader.stream, reader.group)
    dead = dead_letters(client, reader.stream)
    assert list(dead) == [ids[len(before)]]
    letter = dead[ids[len(before)]]
    assert letter[b"bot"] == bytes.fromhex(case["fields"]["bot"])  # the bytes, kept as sent
    assert letter[dead_letter.FIELD.encode()] == b"bot"
    assert b"not UTF-8" in letter[dead_letter.ERROR.encode()]
    assert sample(registry, reader.malformed_metric, field="bot") == 1
    assert sample(registry, reader.decided_metric) == len(before) + len(after)

    later = [reader.good(time.time()) for _ in range(case["valid_later"])]
    add_raw(client, reader.stream, later)
    drain(running, reader.stream, reader.group)
    assert sample(registry, reader.decided_metric) == len(before) + len(after) + len(later)
    assert len(dead_letters(client, reader.stream)) == 1
    if reader is GATE:  # decided: a permit for every valid proposal, none for the poison
        for fields in [*before, *after, *later]:
            assert client.exists(KEYS.permit(fields[b"proposal_id"].decode())) == 1


# --- the kind: every reader, arbitrary input -------------------------------------------

NOT_UTF8 = st.binary(min_size=1, max_size=12).map(lambda b: b"\xff" + b)
NOT_A_NUMBER = st.sampled_from([b"", b"abc", b"1,5", b"0x10", b"--1"]) | NOT_UTF8
NON_FINITE = st.sampled_from([b"nan", b"NaN", b"inf", b"-inf", b"1e400"])
NOT_POSITIVE = st.sampled_from([b"0", b"-1", b"-0.0", b"-1e-9", b"-100000"])
TOO_LONG = st.integers(min_value=257, max_value=600).map(lambda n: b"x" * n)


def in_other_units(now: float) -> st.SearchStrategy[bytes]:
    """``now`` in milliseconds, microseconds, nanoseconds, minutes, days; an hour ahead;
    before 2000; negative: never a trustworthy epoch-seconds time."""
    values = [now * 1e3, now * 1e6, now * 1e9, now / 60, now / 86_400, now + 3600, 1.0, -now]
    return st.sampled_from(values).map(lambda v: repr(v).encode())


#: Not a plain ticker, id or reason code (each has its pattern).
NOT_PLAIN = st.sampled_from([b"has space", b"HOLD!", b"eth usdt", b"x" * 200])


def bad_values(field: str, now: float, reader: Reader) -> st.SearchStrategy[bytes | None]:
    """Values ``field`` must refuse (None: the field is missing)."""
    missing = st.none()
    if field == "ts":
        return missing | in_other_units(now) | NON_FINITE | NOT_A_NUMBER
    if field in ("qty", "price", "notional_usd"):
        return missing | NON_FINITE | NOT_POSITIVE | NOT_A_NUMBER
    if field == "decision":  # anything else is read as UNKNOWN and counted, by contract
        return NOT_UTF8
    if reader is INTEL and field in ("bot", "strategy", "proposal_id"):
        return NOT_UTF8 | TOO_LONG  # optional free text: only undecodable or unbounded
    if reader is INTEL and field == "reason":  # a decodable odd reason is sanitised, counted
        return missing | NOT_UTF8
    if field in ("symbol", "side", "proposal_id", "reason"):
        return missing | NOT_PLAIN | NOT_UTF8
    return missing | NOT_UTF8 | TOO_LONG


@dataclass(frozen=True)
class Planned:
    fields: Fields
    #: The field the reader must name when it dead-letters the entry; None for a good
    #: entry; "?" for arbitrary bytes (decided or dead-lettered, never both, never lost).
    bad: str | None


@st.composite
def batches(draw: st.DrawFn, reader: Reader, now: float) -> list[Planned]:
    out: list[Planned] = []
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        kind = draw(st.sampled_from(["good", "bad", "bad", "arbitrary"]))
        fields = dict(reader.good(now))
        if kind == "good":
            out.append(Planned(fields, None))
        elif kind == "bad":
            name = draw(st.sampled_from(sorted(k.decode() for k in fields)))
            value = draw(bad_values(name, now, reader))
            if value is None:
                del fields[name.encode()]
            else:
                fields[name.encode()] = value
            out.append(Planned(fields, name))
        else:
            keys = st.binary(min_size=1, max_size=12) | st.sampled_from(list(fields))
            junk = draw(st.dictionaries(keys, st.binary(max_size=24), min_size=1, max_size=6))
            out.append(Planned({**fields, **junk}, "?"))
    return out


def test_every_entry_is_decided_or_dead_lettered_with_its_field(
    reader: Reader, running: Worker[Any], redis_proc: RedisProcess
) -> None:
    client = raw_client(redis_proc)
    registry = running.ctx.registry

    def dead_total() -> float:
        return total(registry, reader.dead_metric)

    @settings(max_examples=40)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        batch = data.draw(batches(reader, time.time()))
        decided_before = sample(registry, reader.decided_metric)
        dead_counted = dead_total()
        dead_before = set(dead_letters(client, reader.stream))
        ids = add_raw(client, reader.stream, [p.fields for p in batch])

        drain(running, reader.stream, reader.group)  # never wedged: every entry settled

        dead = {i: f for i, f in dead_letters(client, reader.stream).items()
                if i not in dead_before}  # fmt: skip
        assert set(dead) <= set(ids)
        for entry_id, planned in zip(ids, batch, strict=True):
            if planned.bad is None:
                assert entry_id not in dead, dead.get(entry_id)
            elif planned.bad != "?":
                assert entry_id in dead, planned
                named = dead[entry_id][dead_letter.FIELD.encode()].decode()
                assert named == planned.bad, dead[entry_id][dead_letter.ERROR.encode()]
            if entry_id in dead:  # the original bytes, kept as they came
                assert {k: v for k, v in dead[entry_id].items()
                        if not k.startswith(b"dead_")} == planned.fields  # fmt: skip
        decided = sample(registry, reader.decided_metric) - decided_before
        assert decided + len(dead) == len(ids)  # each entry decided or dead-lettered, once
        assert dead_total() - dead_counted == len(dead)
        if reader is GATE:
            for planned in batch:
                if planned.bad is None:
                    pid = planned.fields[b"proposal_id"].decode()
                    assert client.exists(KEYS.permit(pid)) == 1

    run()
