"""The stack's book (runtime.book): retiring the accounts of bots the spec no longer has.

The writers' side (every account's part summed in the portfolio state and snapshots) is
in test_ledger; here the supervisor's side, with real Redis: the function, and ``up``'s
start, which calls it as the operator's reconciliation does (tests/operator).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.harness.book import NOW, write_account
from tests.harness.book import hash_text as text
from tests.harness.redis_procs import RedisProcess, free_port

from tradingstack_operator.manifests import load_manifest
from tradingstack_operator.render import names
from tradingstack_operator.render.stack import stack_from_manifest
from tradingstack_workers.governor.inputs import PortfolioState, parse_portfolio
from tradingstack_workers.keys import Keys
from tradingstack_workers.password import read_password
from tradingstack_workers.runtime import book
from tradingstack_workers.runtime.redis_client import RetryPolicy
from tradingstack_workers.stacks.commands import read_state, render
from tradingstack_workers.stacks.locate import StackRef
from tradingstack_workers.up import local_redis, runner
from tradingstack_workers.wire.ledger import PositionSnapshot

pytestmark = pytest.mark.integration

KEYS = Keys()
RETRY = RetryPolicy(budget_seconds=5.0)
PAPER = Path(__file__).parents[2] / "examples" / "paper.yaml"


@pytest.fixture
def r(redis_proc: RedisProcess) -> redis.Redis:
    return redis_proc.client()


def test_retire_drops_every_undeclared_account_and_sums_again(r: redis.Redis) -> None:
    write_account(r, KEYS, "kept", 10_000.0, 0.5)  # equity 10 050 at 100/BTC
    write_account(r, KEYS, "gone", 90_000.0, 2.0)  # 90 200
    write_account(r, KEYS, "kept", 10_000.0, 0.5, mark=80.0)  # the book loses 50: 100 200
    assert book.retire(r, RETRY, KEYS, ["kept", "never-wrote"]) == ["gone"]

    state = text(r, KEYS.portfolio_state)
    # 10 040, and the book's 50 USD below its peak stays: the peak moves by gone's 90 160.
    assert parse_portfolio(state, now=NOW).value == PortfolioState(
        equity_usd=10_040.0, drawdown_pct=50.0 / 10_090.0 * 100, timestamp=NOW, unit_stated=True
    )
    assert not [f for f in state if f.endswith(":gone")]
    snapshot = text(r, KEYS.snapshot("BTCUSDT"))
    assert PositionSnapshot.parse("BTCUSDT", snapshot, NOW).position_amt == 0.5
    assert "position_amt:gone" not in snapshot

    assert book.retire(r, RETRY, KEYS, ["kept"]) == []  # idempotent
    assert text(r, KEYS.portfolio_state) == state


def test_retiring_every_account_leaves_no_equity_and_flat_snapshots(r: redis.Redis) -> None:
    """No declared account wrote yet: the equity is unknown (the gate denies with
    equity_unknown), not a stale sum; the snapshot keeps its mark for clusters."""
    write_account(r, KEYS, "gone", 90_000.0, 2.0)
    assert book.retire(r, RETRY, KEYS, []) == ["gone"]
    assert r.exists(KEYS.portfolio_state) == 0
    snapshot = PositionSnapshot.parse("BTCUSDT", text(r, KEYS.snapshot("BTCUSDT")), NOW)
    assert (snapshot.position_amt, snapshot.mark_price) == (0.0, 100.0)


def test_a_hash_without_parts_is_left_as_it_is(r: redis.Redis) -> None:
    """A seed-shaped state (one writer, no parts) is not the book's to retire."""
    seeded = {"equity_usd": "5000", "drawdown": "1", "timestamp": repr(NOW)}
    r.hset(KEYS.portfolio_state, items=[x for kv in seeded.items() for x in kv])
    assert book.retire(r, RETRY, KEYS, []) == []
    assert text(r, KEYS.portfolio_state) == seeded


def test_up_retires_the_accounts_of_bots_no_longer_in_the_manifest(tmp_path: Path) -> None:
    stack = stack_from_manifest(load_manifest(PAPER))
    keys = Keys(stack.spec.key_prefix)
    declared = [names.account(stack.name, bot.name) for bot in stack.spec.bots]
    local = local_redis.start(stack, tmp_path / "data", free_port)
    try:
        master = local.master()
        assert master is not None
        host, port = master.split(":")
        client = redis.Redis(
            host=host, port=int(port), password=read_password(local.secret), decode_responses=True
        )
        for account in [*declared, "paper-removed-bot"]:
            write_account(client, keys, account, 100_000.0, 1.0)
        events: list[tuple[str, dict[str, Any]]] = []
        runner._apply_halted(stack, local, lambda event, **f: events.append((event, f)))
        assert ("book", {"key": keys.portfolio_state, "retired": ["paper-removed-bot"]}) in events
        state = text(client, keys.portfolio_state)
        assert float(state["equity_usd"]) == 100_100.0 * len(declared)  # 1 BTC at 100 each
        client.close()
    finally:
        local.stop()


CORRUPT = [
    ("peak_equity_usd", "junk", "drawdown"),  # the book's own peak
    ("cash_usd:paper-ghost", "junk", "equity_usd"),
    ("cash_usd:paper-ghost", "nan", "equity_usd"),
]


@pytest.mark.parametrize(("part", "value", "fault"), CORRUPT)
def test_status_says_the_book_is_malformed_when_the_readers_do(
    redis_proc: RedisProcess, part: str, value: str, fault: str
) -> None:
    """A part that is not a number makes the book's figure unreadable: the gate denies
    every entry on it. status read the hash as floats and dropped what was none: it showed
    ``drawdown 0.00 %`` for a malformed drawdown, no book line for a malformed equity, and
    ``equity nan USD`` (NaN in --json, which is no JSON) for a part "nan"."""
    stack = stack_from_manifest(load_manifest(PAPER))
    keys = Keys(stack.spec.key_prefix)
    r = redis_proc.client()
    write_account(r, keys, "paper-majors-rsi", 100_000.0, 1.0)
    r.hset(keys.portfolio_state, part, value)
    write_account(r, keys, "paper-majors-rsi", 100_000.0, 1.0)
    ref = StackRef(
        stack=stack, where="up", url=f"redis://127.0.0.1:{redis_proc.port}",
        password=redis_proc.password,
    )  # fmt: skip
    state = read_state(ref)
    book_lines = [line for line in render(state).splitlines() if line.startswith("book:")]
    assert len(book_lines) == 1
    assert "malformed" in book_lines[0]
    assert fault in book_lines[0]
    json.dumps(state, allow_nan=False)  # --json stays JSON
