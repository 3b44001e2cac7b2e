"""The bot's per-signal decisions (bots/flow.py) and its settings' validation."""

from __future__ import annotations

import pytest

from tradingstack_workers.bots.execution import ExecResult
from tradingstack_workers.bots.flow import (
    BUDGET_EXCEEDED,
    HALTED,
    NOT_LEADER,
    PERMIT_TIMEOUT,
    Order,
    Outcome,
    budget_check,
    error_outcome,
    exec_outcome,
    is_halted,
    permit_outcome,
    plan,
    proposal_id,
)
from tradingstack_workers.bots.settings import DEFAULT_FEED, BotSettings
from tradingstack_workers.bots.strategies import Signal
from tradingstack_workers.runtime.settings import SettingsError, load_settings
from tradingstack_workers.wire import Budget, Permit, Proposal
from tradingstack_workers.wire.result import ExecutionResult

PROPOSAL = {"bot": "b", "strategy": "s", "symbol": "BTCUSDT", "side": "BUY", "qty": "1.0",
            "price": "10.0", "notional_usd": "10.0", "ts": "1767225660.0"}  # fmt: skip


def sig(side: str) -> Signal:
    return Signal("BTCUSDT", 1_767_225_660.0, side, "r", 1.0)  # type: ignore[arg-type]


def test_proposal_id_is_a_pure_function_of_the_bar() -> None:
    a = proposal_id("acct", "bot", "BTCUSDT", 1_767_225_660.0, "BUY")
    assert a == proposal_id("acct", "bot", "BTCUSDT", 1_767_225_660.0, "BUY")
    others = {
        proposal_id("acct2", "bot", "BTCUSDT", 1_767_225_660.0, "BUY"),
        proposal_id("acct", "bot2", "BTCUSDT", 1_767_225_660.0, "BUY"),
        proposal_id("acct", "bot", "ETHUSDT", 1_767_225_660.0, "BUY"),
        proposal_id("acct", "bot", "BTCUSDT", 1_767_225_720.0, "BUY"),
        proposal_id("acct", "bot", "BTCUSDT", 1_767_225_660.0, "SELL"),
    }
    assert a not in others
    assert len(others) == 5
    # A flip's exit and entry share bar and side; the leg tells them apart.
    flip_exit = proposal_id("acct", "bot", "BTCUSDT", 1_767_225_660.0, "BUY", leg="flip-exit")
    assert flip_exit not in {a, *others}
    # It is a valid proposal id (it becomes part of the permit key).
    assert Proposal.parse({**PROPOSAL, "proposal_id": a}, None).proposal_id == a


@pytest.mark.parametrize(
    ("side", "position", "halted", "expected"),
    [
        ("BUY", 0.0, False, (Order("entry", "BUY", 2.0),)),
        ("SELL", 0.0, False, (Order("entry", "SELL", 2.0),)),
        ("BUY", 1e-15, False, (Order("entry", "BUY", 2.0),)),  # float dust is flat
        ("BUY", 3.0, False, None),  # already long
        ("SELL", -3.0, False, None),
        # A flip: the exit of the whole position, then an entry judged on its own.
        ("SELL", 3.0, False, (Order("exit", "SELL", 3.0), Order("entry", "SELL", 2.0))),
        ("BUY", -3.0, False, (Order("exit", "BUY", 3.0), Order("entry", "BUY", 2.0))),
        ("EXIT", 3.0, False, (Order("exit", "SELL", 3.0),)),
        ("EXIT", -3.0, False, (Order("exit", "BUY", 3.0),)),
        ("EXIT", 0.0, False, None),
        # Halted: no entry; a flip only closes; exits run.
        ("BUY", 0.0, True, HALTED),
        ("SELL", 0.0, True, HALTED),
        ("BUY", 3.0, True, None),
        ("SELL", 3.0, True, (Order("exit", "SELL", 3.0),)),
        ("BUY", -3.0, True, (Order("exit", "BUY", 3.0),)),
        ("EXIT", 3.0, True, (Order("exit", "SELL", 3.0),)),
    ],
)
def test_entry_or_exit(side: str, position: float, halted: bool, expected: object) -> None:
    assert plan(sig(side), position, 2.0, halted=halted) == expected


@pytest.mark.parametrize(
    ("control", "halted"), [(None, False), ("0", False), ("1", True), ("yes", False)]
)
def test_halted_from_the_control_key(control: str | None, halted: bool) -> None:
    assert is_halted(control) is halted


def permit(granted: bool, reason: str) -> Permit:
    return Permit(
        granted=granted,
        reason=reason,
        proposal_id="p1",
        symbol="BTCUSDT",
        side="BUY",
        heat=0.1,
        conc=0.1,
        corr_proxy=1.0,
        k=0.0,
        k_source="proxy",
        stress=0.1,
        issued_ts=1.8e9,
    )


def test_permit_mapping() -> None:
    assert permit_outcome(None) == Outcome("SKIP", "permit_timeout")
    assert permit_outcome(permit(True, "ok")) is None
    assert permit_outcome(permit(False, "heat_limit")) == Outcome("BLOCKED", "heat_limit")


def budget(usd: float, mode: str) -> Budget:
    return Budget(
        symbol="BTCUSDT",
        budget_usd=usd,
        stress_factor=0.3,
        equity_usd=10_000.0,
        portfolio_heat=0.2,
        cluster_stress=0.1,
        vol_regime=0.33,
        mode=mode,
        timestamp=1_769_492_127,
        base_risk_pct=2.0,
    )


def test_budget_mapping() -> None:
    enforce = budget(500.0, "enforce")
    assert budget_check(enforce, 400.0).outcome is None
    assert budget_check(enforce, 500.0).outcome is None
    assert budget_check(enforce, 501.0).outcome == Outcome("BLOCKED", "budget_exceeded")
    shadow = budget_check(budget(500.0, "shadow"), 501.0)
    assert (shadow.outcome, shadow.violation) == (None, True)
    assert budget_check(budget(500.0, "shadow"), 10.0).violation is False
    # No budget (governor down, failed open, or its hash malformed): the entry proceeds,
    # the gate still decided.
    assert budget_check(None, 1e9).outcome is None


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        (ExecResult("filled"), Outcome("EXECUTE", "filled")),
        (ExecResult("duplicate", reason="seen"), Outcome("SKIP", "duplicate_order")),
        (ExecResult("stale_epoch", reason="current epoch is 4"), NOT_LEADER),
        (ExecResult("rejected", reason="notional_cap"), Outcome("BLOCKED", "notional_cap")),
        (ExecResult("rejected", reason="rate_limit"), Outcome("BLOCKED", "rate_limit")),
        (ExecResult("rejected", reason="halted"), HALTED),
    ],
)
def test_exec_result_mapping(result: ExecResult, outcome: Outcome) -> None:
    assert exec_outcome(result) == outcome


def test_errors_are_named_by_type_never_unknown() -> None:
    assert error_outcome(TimeoutError("x")) == Outcome("ERROR", "TimeoutError")


@pytest.mark.parametrize(
    "outcome",
    [HALTED, PERMIT_TIMEOUT, NOT_LEADER, BUDGET_EXCEEDED, Outcome("EXECUTE", "filled"),
     Outcome("SKIP", "duplicate_order"), error_outcome(KeyError("k"))],
)  # fmt: skip
def test_every_outcome_is_a_valid_result_entry(outcome: Outcome) -> None:
    entry = ExecutionResult(outcome.decision, outcome.reason, "BTCUSDT", 1.8e9, "b", "s", "p")
    assert ExecutionResult.parse(entry.to_fields(), 1.8e9).decision == outcome.decision


BASE = {"TS_BOT_NAME": "bb", "TS_STRATEGY": "bollinger_bounce", "TS_SYMBOLS": "BTCUSDT"}


def test_bot_settings_defaults() -> None:
    s = load_settings(BotSettings, BASE)
    assert (s.account, s.lease_name, s.leadership) == ("bb", "tradingstack-bot-bb", "redis")
    assert s.feed == DEFAULT_FEED
    assert s.permit_wait_seconds < s.heartbeat_interval_seconds


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"TS_FEED": '{"kind": "nope"}'}, "TS_FEED"),
        ({"TS_FEED": '{"kind": "synthetic", "seed": 1}'}, "TS_FEED"),
        ({"TS_PARAMS": '{"perod": 20}'}, "TS_PARAMS"),
        ({"TS_PERMIT_WAIT_SECONDS": "6"}, "TS_PERMIT_WAIT_SECONDS"),
        ({"TS_LEASE_SECONDS": "5"}, "TS_LEASE_SECONDS"),
        ({"TS_LEADERSHIP": "kubernetes"}, "TS_LEASE_NAMESPACE"),
        ({"TS_CYCLE_SECONDS": "0"}, "TS_CYCLE_SECONDS"),
        ({"TS_ORDER_QTY_USD": "-1"}, "TS_ORDER_QTY_USD"),
        ({"TS_ACCOUNT": "a b"}, "TS_ACCOUNT"),
        ({"TS_MODE": "live"}, "TS_MODE=live needs TS_EXCHANGE"),
        (
            {"TS_MODE": "live", "TS_EXCHANGE": '{"id": "binance"}'},
            "TS_MODE=live needs TS_EXCHANGE_API_KEY and TS_EXCHANGE_SECRET",
        ),
        ({"TS_EXCHANGE": '{"id": "binance", "apiUrl": "ftp://x"}'}, "TS_EXCHANGE.apiUrl"),
        ({"TS_FEED": '{"kind": "exchange", "interval_s": 60}'}, "TS_FEED: kind exchange needs"),
        (
            {
                "TS_EXCHANGE": '{"id": "binance"}',
                "TS_FEED": '{"kind": "exchange", "interval_s": 7}',
            },
            r"TS_FEED: feed\.interval_s: 7 is not an exchange bar length",
        ),
    ],
)
def test_bad_bot_settings_name_the_variable(extra: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(BotSettings, {**BASE, **extra})
