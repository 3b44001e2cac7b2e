"""The classifier's shortcut gives the wire parse's answers: same kinds, same errors."""

from __future__ import annotations

import itertools

import pytest

from tradingstack_workers.intel.tally import Classifier, kind_of
from tradingstack_workers.wire.result import REPEATED_FIELDS, BadEntry, ExecutionResult

NOW = 1_769_000_000.0
GOOD = {
    "decision": "SKIP",
    "reason": "heat_limit",
    "symbol": "BTCUSDT",
    "bot": "majors",
    "strategy": "rsi",
    "ts": repr(NOW - 1),
    "proposal_id": "p-1",
}
#: Each varying field broken every way the parse refuses (and some it accepts).
VARYING = {
    "ts": [
        *(repr(NOW - 5), "", "soon", repr(NOW * 1000), repr(NOW + 3600), "nan", None),
        # the edges of the inline usual case: the skew's bound, spaces, underscores,
        # full-width digits, infinity, the epoch range's ends
        *(repr(NOW + 5.0), repr(NOW + 5.001), f" {NOW!r} ", "1_769_000_000"),
        *("\uff11\uff17\uff16\uff19" + "\uff10" * 6, "inf", "946684799.9", "1e11"),
    ],
    "proposal_id": ["p-2", "", "x" * 257, "x" * 256, "caf\udcc3", None],
}
#: Repeated fields that change the kind or are refused.
REPEATED = [
    {},
    {"decision": "execute", "reason": ""},
    {"decision": "REJECTED"},
    {"reason": "leverage ratio exceeded"},
    {"symbol": "btc usdt"},
    {"bot": "b\udcff"},
    {"reason": None},
]


def answer(read: object) -> object:
    """The kind, or the error's field, fault and message."""
    try:
        return read()  # type: ignore[operator]
    except BadEntry as exc:
        return (exc.field, exc.fault, str(exc))


def entry(repeated: dict[str, str | None], ts: str | None, pid: str | None) -> dict[str, str]:
    fields = {**GOOD, **repeated, "ts": ts, "proposal_id": pid}
    return {k: v for k, v in fields.items() if v is not None}


@pytest.mark.parametrize("repeated", REPEATED)
def test_every_entry_gets_the_parse_answer_first_seen_or_not(
    repeated: dict[str, str | None],
) -> None:
    classify = Classifier()
    for ts, pid in itertools.product(VARYING["ts"], VARYING["proposal_id"]):
        fields = entry(repeated, ts, pid)
        expected = answer(lambda f=fields: kind_of(ExecutionResult.parse(f, NOW)))
        assert answer(lambda f=fields: classify(f, NOW)) == expected, fields


def test_the_key_is_the_repeated_fields() -> None:
    """The classifier spells the fields out on its hot line: they must be these."""
    assert REPEATED_FIELDS == ("decision", "reason", "symbol", "bot", "strategy")
    assert not {"ts", "proposal_id"} & set(REPEATED_FIELDS)


def test_the_memory_is_bounded() -> None:
    classify = Classifier(limit=3)
    for i in range(10):
        assert classify({**GOOD, "symbol": f"S{i}USDT"}, NOW)[2] == f"S{i}USDT"
    assert len(classify._known) == 3
