"""ExecutionResult: exact round trips, UNKNOWN read but never written, BadEntry by field."""

from __future__ import annotations

import pytest

from tradingstack_workers.wire.errors import BadEntry
from tradingstack_workers.wire.result import ExecutionResult

GOOD = {
    "decision": "BLOCKED",
    "reason": "heat_limit",
    "symbol": "ETHUSDT",
    "ts": "1769929500.25",
    "bot": "bot-a",
    "strategy": "breakout",
    "proposal_id": "bot-a:ETHUSDT:1769929500.2",
}


def test_round_trip_is_exact() -> None:
    result = ExecutionResult.parse(GOOD, None)
    assert (result.decision, result.reason, result.ts) == ("BLOCKED", "heat_limit", 1769929500.25)
    assert ExecutionResult.parse(result.to_fields(), None) == result
    assert result.to_fields() == GOOD


def test_optional_fields_are_omitted_when_empty() -> None:
    executed = ExecutionResult("EXECUTE", "", "BTCUSDT", 1769929500.5)
    assert executed.to_fields() == {"decision": "EXECUTE", "reason": "", "symbol": "BTCUSDT",
                                    "ts": "1769929500.5"}  # fmt: skip
    assert ExecutionResult.parse(executed.to_fields(), None) == executed


@pytest.mark.parametrize("raw", ["UNKNOWN", "weird", "", "  ", "executed"])
def test_a_decision_outside_the_contract_is_read_as_unknown(raw: str) -> None:
    result = ExecutionResult.parse({**GOOD, "decision": raw}, None)
    assert result.decision == "UNKNOWN"
    assert result.raw_decision == raw.strip().upper()


def test_missing_decision_and_reason_read_as_unknown_none() -> None:
    result = ExecutionResult.parse({"symbol": "BTCUSDT", "ts": "1769929500"}, None)
    assert (result.decision, result.reason) == ("UNKNOWN", "none")


def test_lower_case_decisions_are_accepted() -> None:
    assert ExecutionResult.parse({**GOOD, "decision": "skip"}, None).decision == "SKIP"


def test_unknown_is_never_written() -> None:
    with pytest.raises(BadEntry) as err:
        ExecutionResult("UNKNOWN", "none", "BTCUSDT", 1.0).to_fields()
    assert err.value.field == "decision"


@pytest.mark.parametrize(
    ("written", "read"),
    [("leverage ratio exceeded", "leverage_ratio_exceeded"), ("héat_limit", "h_at_limit"),
     ("x" * 129, "x" * 128), ("stop 🛑", "stop__"), ("halted\n", "halted_")],
)  # fmt: skip
def test_an_unusual_reason_is_sanitised_and_the_decision_still_counts(
    written: str, read: str
) -> None:
    """Review D12: the whole result was dead-lettered, and its BLOCKED went uncounted."""
    result = ExecutionResult.parse({**GOOD, "reason": written}, None)
    assert (result.decision, result.reason, result.raw_reason) == ("BLOCKED", read, written)
    assert ExecutionResult.parse(GOOD, None).raw_reason == ""


def test_a_writer_cannot_produce_what_the_reader_rejects() -> None:
    with pytest.raises(BadEntry) as err:
        ExecutionResult("SKIP", "has space", "BTCUSDT", 1.0).to_fields()
    assert err.value.field == "reason"
    with pytest.raises(BadEntry) as err:
        ExecutionResult("SKIP", "", "BTCUSDT", 1.0).to_fields()
    assert err.value.field == "reason"


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("symbol", None, "missing"),
        ("symbol", "ethusdt", "does not match"),
        ("symbol", "ETHUSDT\n", "does not match"),
        ("reason", None, "required when decision is BLOCKED"),
        ("ts", None, "missing"),
        ("ts", "yesterday", "not a number"),
        ("ts", "nan", "finite"),
        ("ts", "-5", "epoch seconds expected"),
    ],
)
def test_bad_entry_names_the_field(field: str, value: str | None, fragment: str) -> None:
    fields = {k: v for k, v in GOOD.items() if k != field}
    if value is not None:
        fields[field] = value
    with pytest.raises(BadEntry) as err:
        ExecutionResult.parse(fields, None)
    assert err.value.field == field
    assert fragment in str(err.value)


def test_execute_needs_no_reason_and_ignores_none() -> None:
    result = ExecutionResult.parse(
        {"decision": "EXECUTE", "symbol": "BTCUSDT", "ts": "1769929502"}, None
    )
    assert result.reason == ""
