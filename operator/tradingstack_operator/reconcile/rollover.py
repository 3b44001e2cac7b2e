"""Where a password rollover stands, and the PasswordsRolledOver condition that says so.

The rollover itself is planned in :mod:`.rotation` and run by ``..rotation`` (the shell),
which answers a :class:`Rollover` on every reconcile. The condition appears on a stack
only once a rollover is seen under way, and stays once it finished: a stack whose
passwords never changed carries none, so a resync of it writes nothing.

======================================  =======  ==========================
the step's answer                       status   reason
======================================  =======  ==========================
not asked (paused, no step)             kept as it was
a node unreachable, or an error         False    PasswordRolloverStuck
  (only while a rollover is under way)
nodes accept the new passwords, not     False    PasswordRolloverBegun
  every node logs in with them yet
every node takes the new passwords;     False    PasswordRolloverSwitched
  the workers have not all rolled
only the new passwords are accepted     True     PasswordRolloverFinished
======================================  =======  ==========================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .condition import Condition

TYPE = "PasswordsRolledOver"
BEGUN = "PasswordRolloverBegun"
SWITCHED = "PasswordRolloverSwitched"
FINISHED = "PasswordRolloverFinished"
STUCK = "PasswordRolloverStuck"
BEGUN_MESSAGE = "Redis accepts the new passwords beside the old ones"
#: A rollover first seen stuck began with the Secrets' change; whether any node took the
#: new passwords is not known (an unusable Secret stops the step before it asks Redis).
BEGUN_STUCK_MESSAGE = "the Secrets hold new passwords; the rollover could not start on Redis yet"


@dataclass(frozen=True)
class Rollover:
    """Where a rollover stands after one call of the step.

    ``switched``: every node accepts the new passwords and logs in with its own;
    ``done``: nothing but the new passwords is accepted anywhere; ``unreachable``: nodes
    (``host:port``) that could not be asked; ``error``: why a call stopped; ``under_way``:
    the nodes asked held other passwords than the Secrets' (None: nobody could be asked).
    """

    switched: bool
    done: bool
    unreachable: tuple[str, ...] = ()
    error: str | None = None
    under_way: bool | None = None

    @property
    def trouble(self) -> str | None:
        """What keeps the rollover from moving on, for a condition's message."""
        parts = []
        if self.unreachable:
            parts.append(
                "waiting for nodes not reached (or refusing every admin password known): "
                + ", ".join(self.unreachable)
            )
        if self.error:
            parts.append(self.error)
        return "; ".join(parts) or None


def rollover_condition(
    rollover: Rollover | None, prior: Mapping[str, Any] | None, now: datetime
) -> Condition | None:
    """The condition from this run's ``rollover`` and the stack's ``prior`` condition of
    the same type (None: the stack has none; the result None: it still has none). ``now``
    dates a finish (to the microsecond: two runs never share it), so that a rollover begun
    and finished within one run (no worker to roll) after an earlier one is told apart."""
    kept = Condition.written(prior) if prior else None
    if rollover is None:
        return kept
    was_under_way = kept is not None and kept.reason != FINISHED
    trouble = rollover.trouble
    if not (rollover.under_way or was_under_way):
        # Nothing to roll over among the nodes asked: no noise on a settled stack, and a
        # finished rollover stays reported as finished.
        return kept
    if trouble:
        return Condition(TYPE, False, STUCK, trouble)
    if rollover.done:
        return Condition(
            TYPE, True, FINISHED,
            f"finished {now.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}: every Redis node and "
            "worker uses the new passwords; the old ones are refused",
        )  # fmt: skip
    if rollover.switched:
        return Condition(
            TYPE, False, SWITCHED,
            "Redis takes the new passwords (and still the old ones): waiting for the workers "
            "to roll onto the new worker password",
        )  # fmt: skip
    return Condition(TYPE, False, BEGUN, f"{BEGUN_MESSAGE}; switching once every node does")


def announced(
    prior: Mapping[str, Any] | None, condition: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(reason, message) of the Events to post when the condition moves from ``prior`` to
    ``condition``: each new reason, and a new finish; a rollover first seen past its
    beginning (begin and switch happen in one call) is announced as begun too, and one
    first seen stuck as begun with the Secrets only: nothing says Redis took anything."""
    was = prior.get("reason") if prior else None
    reason = condition["reason"]
    new_finish = reason == FINISHED and prior is not None and prior["message"] != condition[
        "message"]  # fmt: skip
    if reason == was and not new_finish:
        return []
    starting = was in (None, FINISHED) and reason != BEGUN
    begun = BEGUN_STUCK_MESSAGE if reason == STUCK else BEGUN_MESSAGE
    return ([(BEGUN, begun)] if starting else []) + [(reason, condition["message"])]
