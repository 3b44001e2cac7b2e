"""Every wire format, parsed by its one class: exact round trips, and any input either
parses or raises BadEntry naming a field of the contract, never anything else.

The timestamp rule is written once (``wire.fields``) and holds in every format that
carries a time: epoch seconds, not milliseconds (or finer), not before 2000, not ahead
of the reader's clock by more than the skew.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tradingstack_workers.wire import (
    EPOCH_MAX_SECONDS,
    MAX_FUTURE_SKEW_SECONDS,
    BadEntry,
    Budget,
    ClusterStateHash,
    ExecutionResult,
    Fault,
    HeatHash,
    MarketStateHash,
    Permit,
    PortfolioStateHash,
    PositionSnapshot,
    Proposal,
    epoch_seconds_problem,
)

NOW = 1_769_492_127.0


@dataclass(frozen=True)
class Format:
    name: str
    good: dict[str, str]
    parse: Callable[[Mapping[str, str], float | None], Any]
    #: The field that carries its time, if any.
    ts_field: str | None


def snapshot(fields: Mapping[str, str], now: float | None) -> PositionSnapshot:
    return PositionSnapshot.parse("BTCUSDT", fields, now)


FORMATS = [
    Format("proposal", {"proposal_id": "p-1", "bot": "bot-a", "strategy": "rsi",
                        "symbol": "ETHUSDT", "side": "BUY", "qty": "0.3", "price": "3012.25",
                        "notional_usd": "903.675", "ts": repr(NOW)}, Proposal.parse, "ts"),
    Format("permit", {"granted": "1", "reason": "ok", "proposal_id": "p-1",
                      "symbol": "ETHUSDT", "side": "SELL", "heat": "0.25", "conc": "0.5",
                      "corr_proxy": "0.0", "k": "0.7", "k_source": "cluster", "stress": "0.3",
                      "issued_ts": repr(NOW)}, Permit.parse, "issued_ts"),
    Format("budget", {"symbol": "BTCUSDT", "budget_usd": "200.0", "stress_factor": "0.3",
                      "equity_usd": "10000.0", "portfolio_heat": "0.2", "cluster_stress": "0.1",
                      "vol_regime": "0.33", "mode": "enforce", "timestamp": str(int(NOW)),
                      "base_risk_pct": "2.0"}, Budget.parse, "timestamp"),
    Format("snapshot", {"position_amt": "-0.5", "mark_price": "64000.5",
                        "ts_epoch": repr(NOW)}, snapshot, "ts_epoch"),
    Format("portfolio", {"equity_usd": "10000.0", "drawdown": "1.5", "timestamp": repr(NOW)},
           PortfolioStateHash.parse, "timestamp"),
    Format("market", {"vol_regime": "HIGH_VOL", "sigma": "0.025"}, MarketStateHash.parse, None),
    Format("cluster", {"cluster_stress": "0.4", "clusters_count": "2",
                       "updated_ts": str(int(NOW)), "symbols": "BTCUSDT,ETHUSDT"},
           ClusterStateHash.parse, "updated_ts"),
    Format("heat", {"heat": "0.4", "ts": repr(NOW)}, HeatHash.parse, "ts"),
    Format("result", {"decision": "BLOCKED", "reason": "heat_limit", "symbol": "ETHUSDT",
                      "ts": repr(NOW), "bot": "bot-a"}, ExecutionResult.parse, "ts"),
]  # fmt: skip
BY_NAME = {f.name: f for f in FORMATS}
IDS = [f.name for f in FORMATS]


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_good_fields_parse_and_round_trip_exactly(fmt: Format) -> None:
    parsed = fmt.parse(fmt.good, NOW)
    assert fmt.parse(parsed.to_fields(), NOW) == parsed
    for name, text in parsed.to_fields().items():
        if name in fmt.good and _number(fmt.good[name]):
            assert float(text) == float(fmt.good[name])


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: Text as Redis may hold it: anything, including bytes that are not UTF-8 (which the
#: workers' clients decode with surrogateescape into lone surrogates).
RAW_TEXT = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=20).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e400", "", " ", "1_0"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
@given(data=st.data())
def test_any_input_parses_or_names_a_field_of_the_contract(
    fmt: Format, data: st.DataObject
) -> None:
    names = st.sampled_from(sorted(fmt.good)) | st.text(max_size=8)
    changes = data.draw(st.dictionaries(names, RAW_TEXT | st.none(), max_size=6))
    fields = dict(fmt.good)
    for name, value in changes.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    problem: BadEntry | None = None
    try:
        fmt.parse(fields, NOW)
    except BadEntry as exc:
        problem = exc
    if problem is not None:
        assert problem.field in fmt.good or problem.field == "sigma", problem
        assert str(problem).startswith(f"{problem.field}: ")
        assert isinstance(problem.fault, Fault)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.ts_field], ids=lambda f: f.name)
@pytest.mark.parametrize(
    ("scale", "shift", "fault"),
    [
        (1e3, 0.0, Fault.WRONG_UNIT),  # milliseconds
        (1e6, 0.0, Fault.WRONG_UNIT),  # microseconds
        (1e9, 0.0, Fault.WRONG_UNIT),  # nanoseconds
        (1 / 60, 0.0, Fault.WRONG_UNIT),  # minutes
        (1 / 86_400, 0.0, Fault.WRONG_UNIT),  # days
        (-1.0, 0.0, Fault.WRONG_UNIT),  # negative
        (1.0, 3600.0, Fault.IN_FUTURE),  # an hour ahead: a broken clock
    ],
)
def test_a_timestamp_in_another_unit_or_ahead_is_refused_in_every_format(
    fmt: Format, scale: float, shift: float, fault: Fault
) -> None:
    assert fmt.ts_field is not None
    value = NOW * scale + shift
    text = str(int(value)) if fmt.good[fmt.ts_field].isdigit() else repr(value)
    with pytest.raises(BadEntry) as err:
        fmt.parse({**fmt.good, fmt.ts_field: text}, NOW)
    assert (err.value.field, err.value.fault) == (fmt.ts_field, fault)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.ts_field], ids=lambda f: f.name)
def test_a_timestamp_within_the_skew_is_trusted(fmt: Format) -> None:
    assert fmt.ts_field is not None
    ahead = NOW + MAX_FUTURE_SKEW_SECONDS
    text = str(int(ahead)) if fmt.good[fmt.ts_field].isdigit() else repr(ahead)
    assert fmt.parse({**fmt.good, fmt.ts_field: text}, NOW) is not None


@given(ts=st.floats(allow_nan=True, allow_infinity=True), now=st.floats(1e9, 4e9))
def test_the_timestamp_rule_is_total_and_monotone(ts: float, now: float) -> None:
    problem = epoch_seconds_problem(ts, now)
    if not math.isfinite(ts):
        assert problem is not None
        assert problem[0] is Fault.NOT_FINITE
    elif ts >= EPOCH_MAX_SECONDS:
        assert problem is not None
        assert problem[0] is Fault.WRONG_UNIT
        assert "seconds expected" in problem[1]
    elif problem is None:
        assert 946_684_800.0 <= ts <= now + MAX_FUTURE_SKEW_SECONDS


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_bytes_that_are_not_utf8_are_named_by_field(fmt: Format) -> None:
    text_fields = [n for n, v in fmt.good.items() if not _number(v)]
    for name in text_fields:
        with pytest.raises(BadEntry) as err:
            fmt.parse({**fmt.good, name: b"x-\xff\xfe".decode("utf-8", "surrogateescape")}, NOW)
        assert err.value.field == name
        assert err.value.fault in (Fault.NOT_UTF8, Fault.BAD_FORMAT)


def test_a_writer_cannot_build_what_a_reader_refuses() -> None:
    good = BY_NAME["snapshot"].parse(BY_NAME["snapshot"].good, NOW)
    with pytest.raises(ValueError, match="ts_epoch"):
        dataclasses.replace(good, ts_epoch=NOW * 1000)
    with pytest.raises(ValueError, match="mark_price"):
        dataclasses.replace(good, mark_price=math.nan)


def test_cluster_state_says_which_book_it_covers() -> None:
    state = ClusterStateHash.parse(BY_NAME["cluster"].good, NOW)
    assert state.symbols == ("BTCUSDT", "ETHUSDT")
    assert ClusterStateHash.parse({**BY_NAME["cluster"].good, "symbols": ""}, NOW).symbols == ()
    older = {k: v for k, v in BY_NAME["cluster"].good.items() if k != "symbols"}
    assert ClusterStateHash.parse(older, NOW).symbols is None  # a writer from before the field


#: Formats whose time is a float of epoch seconds (budget and cluster state take whole ones).
FLOAT_TIMES = [f for f in FORMATS if f.ts_field and not f.good[f.ts_field].isdigit()]
#: Numbers as text, in ASCII and in other scripts' digits (full-width, Arabic-Indic, ...).
TIME_TEXTS = (
    st.floats().map(repr)
    | st.floats(1e9, 2e9).map(lambda v: f"{v:_}")
    | st.text(st.characters(categories=["Nd"]), min_size=10, max_size=10)
    | st.text(max_size=16)
)


@given(text=TIME_TEXTS)
@example(text=" ")  # found in a whole run: the result parse said not_a_number, others missing
@example(text="\t\u3000")
def test_every_reader_takes_or_refuses_a_time_text_alike(text: str) -> None:
    """One rule: intel's hand-tuned result parse (kept for speed) agrees with the models
    on any time text, digits of other scripts included."""
    verdicts: dict[str, tuple[bool, Fault] | None] = {}
    for fmt in FLOAT_TIMES:
        assert fmt.ts_field is not None
        try:
            fmt.parse({**fmt.good, fmt.ts_field: text}, NOW)
            verdicts[fmt.name] = None
        except BadEntry as err:
            verdicts[fmt.name] = (err.field == fmt.ts_field, err.fault)
    assert len(set(verdicts.values())) == 1, verdicts
    assert all(v is None or v[0] for v in verdicts.values()), verdicts


@pytest.mark.parametrize(("field", "value"), [("proposal_id", "p-2"), ("symbol", "BTCUSDT"),
                                              ("side", "SELL")])  # fmt: skip
def test_a_permit_answers_only_its_own_proposal(field: str, value: str) -> None:
    proposal = BY_NAME["proposal"].parse(BY_NAME["proposal"].good, NOW)
    permit = Permit.parse({**BY_NAME["permit"].good, "side": "BUY"}, NOW)
    assert permit.answering(proposal) is permit
    other = Permit.parse({**BY_NAME["permit"].good, "side": "BUY", field: value}, NOW)
    with pytest.raises(BadEntry) as err:
        other.answering(proposal)
    assert (err.value.field, err.value.fault) == (field, Fault.INCONSISTENT)


def test_a_budget_binds_only_its_own_symbol() -> None:
    budget = Budget.parse(BY_NAME["budget"].good, NOW)
    assert budget.of("BTCUSDT") is budget
    with pytest.raises(BadEntry) as err:
        budget.of("ETHUSDT")
    assert (err.value.field, err.value.fault) == ("symbol", Fault.INCONSISTENT)


def _refusal(fmt: Any, fields: dict[str, str]) -> tuple[tuple[str, Fault] | None, Any]:
    """(field, fault) of the refusal and None, or None and what was parsed."""
    try:
        return None, fmt.parse(fields, NOW)
    except BadEntry as err:
        return (err.field, err.fault), None


@pytest.mark.parametrize("blank", [" ", "\t", "\n ", "\u3000"])
@pytest.mark.parametrize("field", ["symbol", "reason", "proposal_id", "bot"])
def test_a_field_of_only_whitespace_reads_as_missing(field: str, blank: str) -> None:
    """As the models read it (fields.bad_entry: an empty field says nothing), so the
    hand-tuned result parse too: refused as missing where the field is required, empty
    where it is optional."""
    for fmt in FORMATS:
        if field not in fmt.good:
            continue
        refusal, parsed = _refusal(fmt, {**fmt.good, field: blank})
        if refusal is not None:
            assert refusal == (field, Fault.MISSING), (fmt.name, refusal)
        else:
            assert getattr(parsed, field) in ("", None), (fmt.name, parsed)
