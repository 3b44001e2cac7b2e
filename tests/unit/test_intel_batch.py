"""The batch tally gives each entry the wire parse's answer, whatever the batch holds.

``Tally.add_entries`` takes a shortcut for the usual batch (varying fields checked at
once, one lookup per entry); these cases hold it to the plain reading: each entry
parsed on its own (``ExecutionResult.parse``) and added with ``Tally.add``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from tradingstack_workers.intel.tally import Classifier, Tally
from tradingstack_workers.runtime.streams import StreamEntry
from tradingstack_workers.wire.result import BadEntry, ExecutionResult

NOW = 1_769_000_000.0
T = 1_768_999_980  # a bucket start (multiple of 60), 20 s before NOW
GOOD = {
    "decision": "SKIP",
    "reason": "heat_limit",
    "symbol": "BTCUSDT",
    "bot": "majors",
    "ts": repr(NOW - 1),
}
#: Varying texts the parse accepts and refuses, the usual ones first.
TS: list[str | None] = [
    *(repr(NOW - 5), repr(NOW - 0.25), "", "soon", repr(NOW * 1000), repr(NOW + 3600)),
    *("nan", "inf", "-inf", None, " 1769000000 ", "1_769_000_000", "\uff11" * 10),
    *("946684799.9", repr(NOW + 5.0), repr(NOW + 5.001)),
]
PROPOSAL_IDS: list[str | None] = [None, "p-1", "", "  ", "x" * 256, "x" * 257, "caf\u00e9"]
PROPOSAL_IDS.append("caf\udcc3")  # bytes that are not UTF-8, read with surrogateescape
Repeated = dict[str, str | None]
#: Repeated fields that change the kind, are sanitised or refused.
REPEATED: list[Repeated] = [{}, {"decision": "execute", "reason": ""}, {"decision": "REJECTED"}]
REPEATED += [{"reason": "leverage ratio exceeded"}, {"symbol": "btc usdt"}, {"bot": "b\udcff"}]
REPEATED += [{"reason": None}, {"symbol": "ETHUSDT"}, {"strategy": "x" * 300}]
#: Entry ids: one bucket, the next one, an id of another millisecond in the first.
IDS = [f"{T * 1000}-{{}}", f"{(T + 60) * 1000 + 5}-{{}}", f"{T * 1000 + 59_999}-{{}}"]


def fields_of(repeated: Repeated, ts: str | None, pid: str | None) -> dict[str, str]:
    merged = {**GOOD, **repeated, "ts": ts, "proposal_id": pid}
    return {k: v for k, v in merged.items() if v is not None}


def plain_reading(entries: Sequence[StreamEntry]) -> tuple[Tally, list[tuple[str, str, str]]]:
    """Each entry parsed on its own: the groups, and each refusal's id, field and message."""
    tally, refused = Tally(60), []
    for entry in entries:
        try:
            result = ExecutionResult.parse(entry.fields, NOW)
        except BadEntry as exc:
            refused.append((entry.id, exc.field, str(exc)))
        else:
            tally.add(entry.id, result)
    return tally, refused


def assert_same_as_plain(entries: Sequence[StreamEntry], classify: Classifier) -> None:
    tally = Tally(60)
    failed = tally.add_entries(entries, classify, NOW)
    expected, refused = plain_reading(entries)
    assert [
        (e.id, exc.field, str(exc)) for e, exc in failed if isinstance(exc, BadEntry)
    ] == refused
    assert len(failed) == len(refused)
    assert {g: sorted(ids) for g, ids in tally.groups.items()} == {
        g: sorted(ids) for g, ids in expected.groups.items()
    }
    assert tally.sanitised == expected.sanitised


def batch(rows: Sequence[dict[str, str]], ids: Sequence[int]) -> list[StreamEntry]:
    return [
        StreamEntry(IDS[k].format(n), f) for n, (f, k) in enumerate(zip(rows, ids, strict=True))
    ]


def test_a_usual_batch_is_grouped_by_bucket_and_kind() -> None:
    rows = [fields_of(r, repr(NOW - n), f"p-{n}") for n, r in enumerate(REPEATED[:2] * 3)]
    entries = batch(rows, [0, 0, 2, 2, 1, 1])
    tally = Tally(60)
    assert tally.add_entries(entries, Classifier(), NOW) == []
    assert tally.groups == {
        (T, "SKIP", "heat_limit", "BTCUSDT"): [entries[0].id, entries[2].id],
        (T, "EXECUTE", "", "BTCUSDT"): [entries[1].id, entries[3].id],
        (T + 60, "SKIP", "heat_limit", "BTCUSDT"): [entries[4].id],
        (T + 60, "EXECUTE", "", "BTCUSDT"): [entries[5].id],
    }


def test_every_varying_value_among_usual_entries_gets_the_parse_answer() -> None:
    """One odd ``ts`` or ``proposal_id`` in a batch of usual ones, each kind of entry."""
    classify = Classifier()
    for repeated, ts, pid in itertools.product(REPEATED, TS, PROPOSAL_IDS):
        usual = [fields_of(repeated, repr(NOW - 1), "p-0"), fields_of({}, repr(NOW - 2), None)]
        entries = batch([*usual, fields_of(repeated, ts, pid), *usual], [0, 0, 0, 2, 1])
        assert_same_as_plain(entries, classify)


def test_a_sanitised_reason_is_counted_for_each_entry() -> None:
    rows = [fields_of({"reason": "leverage ratio exceeded"}, repr(NOW - n), None) for n in range(3)]
    tally = Tally(60)
    assert tally.add_entries(batch(rows, [0, 0, 1]), Classifier(), NOW) == []
    assert tally.sanitised == 3
    assert list(tally.groups) == [
        (T, "SKIP", "leverage_ratio_exceeded", "BTCUSDT"),
        (T + 60, "SKIP", "leverage_ratio_exceeded", "BTCUSDT"),
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(REPEATED), st.sampled_from(TS), st.sampled_from(PROPOSAL_IDS),
            st.integers(0, len(IDS) - 1),
        ),
        max_size=12,
    )
)  # fmt: skip
def test_any_batch_gets_the_parse_answers(
    rows: list[tuple[Repeated, str | None, str | None, int]],
) -> None:
    entries = batch([fields_of(r, ts, pid) for r, ts, pid, _ in rows], [k for *_, k in rows])
    assert_same_as_plain(entries, Classifier())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(TS), st.sampled_from(PROPOSAL_IDS)), max_size=8),
    st.sampled_from([NOW, None]),
)
def test_the_batch_check_passes_only_what_the_entry_check_passes(
    varying: list[tuple[str | None, str | None]], now: float | None
) -> None:
    rows = [fields_of({}, ts, pid) for ts, pid in varying]
    if not ExecutionResult.varying_usual(rows, now):
        return
    for row in rows:
        ExecutionResult.check_varying(row, now)  # raises on a refused one


def test_the_batch_check_passes_the_usual_batch() -> None:
    rows = [fields_of({}, repr(NOW - n / 7), f"p-{n}" if n % 2 else None) for n in range(500)]
    assert ExecutionResult.varying_usual(rows, NOW)
    assert ExecutionResult.varying_usual(rows, None)
    assert ExecutionResult.varying_usual([], NOW)
    assert not ExecutionResult.varying_usual([*rows, fields_of({}, "nan", None), *rows], NOW)
    assert not ExecutionResult.varying_usual([*rows, fields_of({}, repr(NOW + 6), None)], NOW)
