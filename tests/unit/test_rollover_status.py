"""The PasswordsRolledOver condition and its Events, from where the rollover step stands.

Pure: each case feeds ``compute_status`` the :class:`Rollover` a run of the step answered
and the status the stack held, as the reconciler does on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tradingstack_operator.reconcile import rollover as roll
from tradingstack_operator.reconcile.rollover import Rollover
from tradingstack_operator.reconcile.status import (
    Component,
    Observation,
    compute_status,
    transitions,
)
from tradingstack_operator.spec import TradingStackStatus

T0 = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
SETTLED = Rollover(switched=True, done=True, under_way=False)
SWITCHED = Rollover(switched=True, done=False, under_way=True)
FINISHED = Rollover(switched=True, done=True, under_way=True)
UNREACHABLE = ("paper-redis-2.paper-redis-headless.desk.svc.cluster.local:6379",)


def observed(rollover: Rollover | None) -> Observation:
    return Observation(
        generation=3, halted=False, paused=False,
        redis=Component("redis", 3, 3, 3, rolled_out=True), redis_master="paper-redis-0:6379",
        workers=[Component("gate", 1, 1, 1, rolled_out=True)], rollover=rollover,
    )  # fmt: skip


def run(
    steps: Sequence[Rollover | None], status: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[list[tuple[str, str, str]]]]:
    """The status after each step's answer, one run a minute, and each run's Events."""
    status = status or {}
    events = []
    for i, step in enumerate(steps):
        after = compute_status(observed(step), status, T0 + timedelta(minutes=i))
        events.append(transitions(status, after))
        status = after
    return status, events


def rolled_over(status: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in status["conditions"] if c["type"] == roll.TYPE), None)


def reasons(events: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    return [(kind, reason) for kind, reason, _ in events if reason.startswith("PasswordRollover")]


@pytest.mark.parametrize("step", [None, SETTLED, Rollover(False, False, UNREACHABLE,
                                                          under_way=False),
                                  Rollover(False, False, error="ConnectionError")])  # fmt: skip
def test_a_stack_that_is_not_rolling_over_has_no_condition_and_no_event(
    step: Rollover | None,
) -> None:
    # An unreachable pod whose peers hold only the Secrets' passwords, or nobody asked:
    # Redis trouble is RedisReady's to report, not a rollover.
    status, events = run([SETTLED, step, step])
    assert rolled_over(status) is None
    assert [reasons(e) for e in events] == [[], [], []]
    again = compute_status(observed(step), status, T0 + timedelta(hours=1))
    assert again == status  # a resync writes nothing


def test_a_rollover_is_announced_as_begun_switched_and_finished() -> None:
    status, events = run([SETTLED, SWITCHED])
    cond = rolled_over(status)
    assert cond is not None
    assert (cond["status"], cond["reason"]) == ("False", roll.SWITCHED)
    assert "waiting for the workers to roll" in cond["message"]
    # Begin and switch happen in one call of the step: both are announced.
    assert reasons(events[1]) == [("Normal", roll.BEGUN), ("Normal", roll.SWITCHED)]

    status, events = run([SWITCHED, SWITCHED, FINISHED, SETTLED, SETTLED], status)
    assert [reasons(e) for e in events] == [[], [], [("Normal", roll.FINISHED)], [], []]
    cond = rolled_over(status)
    assert cond is not None
    assert (cond["status"], cond["reason"]) == ("True", roll.FINISHED)
    assert cond["lastTransitionTime"] == "2026-11-30T18:02:00Z"  # kept while settled
    TradingStackStatus.model_validate(status)


def test_a_stuck_rollover_is_a_warning_naming_what_it_waits_for() -> None:
    status, _ = run([SWITCHED])
    stuck = Rollover(False, False, UNREACHABLE, "asking: TimeoutError: Timeout reading",
                     under_way=None)  # fmt: skip
    status, events = run([stuck, stuck], status)
    cond = rolled_over(status)
    assert cond is not None
    assert (cond["status"], cond["reason"]) == ("False", roll.STUCK)
    assert UNREACHABLE[0] in cond["message"]
    assert "TimeoutError" in cond["message"]
    assert [reasons(e) for e in events] == [[("Warning", roll.STUCK)], []]
    # The node back: the rollover moves on, and says so.
    status, events = run([SWITCHED], status)
    assert reasons(events[0]) == [("Normal", roll.SWITCHED)]


def test_an_unusable_secret_on_a_running_stack_is_a_stuck_rollover() -> None:
    # What the step answers when a Secret it reads lacks a key or holds a bad password.
    bad = Rollover(False, False, error="Secret paper-redis-users has no key worker",
                   under_way=True)  # fmt: skip
    status, events = run([SETTLED, bad])
    cond = rolled_over(status)
    assert cond is not None
    assert cond["message"] == "Secret paper-redis-users has no key worker"
    assert reasons(events[1]) == [("Normal", roll.BEGUN), ("Warning", roll.STUCK)]
    # The step stopped at the Secret, before Redis: the Begun Event claims nothing of it.
    begun = next(message for _, reason, message in events[1] if reason == roll.BEGUN)
    assert "Redis accepts" not in begun
    assert "Secrets hold new passwords" in begun


def test_a_rollover_first_seen_past_its_beginning_says_redis_took_the_passwords() -> None:
    _, events = run([SETTLED, SWITCHED])
    assert events[1][0][1:] == (roll.BEGUN, roll.BEGUN_MESSAGE)


def test_a_run_that_does_not_ask_keeps_the_condition_as_it_was() -> None:
    status, _ = run([SWITCHED])
    paused, events = run([None, None], status)
    assert rolled_over(paused) == rolled_over(status)
    assert events == [[], []]


def test_a_node_that_has_not_switched_yet_is_reported_as_begun() -> None:
    begun = Rollover(switched=False, done=False, under_way=True)
    status, events = run([begun, SWITCHED])
    cond = rolled_over(status)
    assert cond is not None
    assert cond["reason"] == roll.SWITCHED
    assert [reasons(e) for e in events] == [[("Normal", roll.BEGUN)], [("Normal", roll.SWITCHED)]]


def test_a_second_rollover_after_a_finished_one_is_announced_again() -> None:
    status, _ = run([SWITCHED, FINISHED, SETTLED])
    status, events = run([SWITCHED], status)
    assert reasons(events[0]) == [("Normal", roll.BEGUN), ("Normal", roll.SWITCHED)]


def test_a_rollover_begun_and_finished_in_one_run_is_announced_each_time() -> None:
    # An admin password change on a stack without workers to roll: one call finishes it.
    status, events = run([FINISHED, SETTLED, FINISHED, SETTLED])
    assert [reasons(e) for e in events] == [
        [("Normal", roll.BEGUN), ("Normal", roll.FINISHED)], [],
        [("Normal", roll.BEGUN), ("Normal", roll.FINISHED)], [],
    ]  # fmt: skip
    cond = rolled_over(status)
    assert cond is not None
    assert cond["message"].startswith("finished 2026-11-30T18:02:00.000000Z:")  # the latest finish
