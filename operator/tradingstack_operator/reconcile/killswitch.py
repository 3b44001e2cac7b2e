"""The kill switch as the reconciler sees it: what was written, what Redis holds.

``spec.halted`` is carried to the bots through Redis (``<prefix>:control:halted``),
never through their pods: the reconciler writes it first on every run, also while the
stack is paused and before any child is applied (so a child that fails to apply
cannot hold it back), then reads it back. Pure here: the write itself is the
injected :data:`WriteKillSwitch` (``..killswitch`` in production; tests point it at
real Redis processes).

The Halted condition reports what Redis holds, not what the spec asks:

=================  ==================  ========  =====================================
spec.halted        Redis holds         Halted    reason (Degraded)
=================  ==================  ========  =====================================
true               "1", on a replica   True      KillSwitchEngaged
true               anything else       False /   KillSwitchPending (Degraded: True)
                                       Unknown
false              "1"                 True      KillSwitchPending (Degraded: True)
false              "0" or absent       False     Trading
false              unknown             Unknown   KillSwitchUnknown
=================  ==================  ========  =====================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..render.names import BOT_COMPONENT
from ..resources import COMPONENT_LABEL
from ..sentinel import PassCredentials
from ..spec import TradingStackSpec
from .condition import Condition

Manifest = dict[str, Any]


@dataclass(frozen=True)
class KillSwitch:
    """One run's kill switch: ``wanted`` (spec.halted) and what Redis held afterwards
    (``held``: None when Redis could not be asked, ``error`` says why)."""

    wanted: bool
    held: bool | None = None
    replicated: bool = False
    error: str | None = None

    @property
    def confirmed(self) -> bool:
        """Redis holds what the spec asks, on a replica too when the stack has any."""
        return self.held is not None and self.held == self.wanted and self.replicated

    @property
    def pending(self) -> bool:
        """The spec asks for a state Redis is not known to hold (a resume whose Redis is
        unreachable is not pending: absent or unknown, no bot is being held back)."""
        if self.wanted:
            return not self.confirmed
        return self.held is True


#: Writes ``spec.halted`` into the stack's Redis and reads it back: (name, namespace, spec,
#: the pass's credentials).
WriteKillSwitch = Callable[[str, str, TradingStackSpec, PassCredentials], KillSwitch]


def redis_ready(children: Sequence[Mapping[str, Any]]) -> bool:
    """A Redis pod of the stack is ready: before that, its pods' names may not even
    resolve, and there is nothing to write to or log in to."""
    return any(
        c.get("kind") == "StatefulSet" and int((c.get("status") or {}).get("readyReplicas") or 0)
        for c in children
    )


def write_if_redis_runs(
    write: WriteKillSwitch,
    name: str,
    namespace: str,
    spec: TradingStackSpec,
    children: Sequence[Manifest],
    *,
    credentials: PassCredentials,
) -> KillSwitch:
    """``write`` once a Redis pod of the stack is ready; before that there is nothing to
    write to (and asking would only wait on DNS for names that do not resolve yet)."""
    if not redis_ready(children):
        return KillSwitch(wanted=spec.halted, error="no Redis pod is ready yet")
    return write(name, namespace, spec, credentials)


def not_written(
    _name: str, _namespace: str, spec: TradingStackSpec, _credentials: PassCredentials
) -> KillSwitch:
    """The seam's default: nothing written, nothing known."""
    return KillSwitch(wanted=spec.halted, error="no kill switch writer configured")


def halted_condition(switch: KillSwitch, key: str) -> Condition:
    """The Halted condition from what Redis holds (see the module's table)."""
    why = f": {switch.error}" if switch.error else ""
    if switch.wanted and switch.confirmed:
        return Condition(
            "Halted", True, "KillSwitchEngaged",
            f"{key} = 1 in Redis: bots open no positions; exits still run",
        )  # fmt: skip
    if switch.wanted:
        return Condition(
            "Halted", switch.held, "KillSwitchPending",
            f"spec.halted is set but Redis does not hold {key} = 1 on a replica yet{why}",
        )  # fmt: skip
    if switch.held is True:
        return Condition(
            "Halted", True, "KillSwitchPending",
            f"spec.halted is false but Redis still holds {key} = 1 (set by tradingstack halt, "
            f"or the resume did not land){why}",
        )  # fmt: skip
    if switch.held is None:
        return Condition("Halted", None, "KillSwitchUnknown", f"Redis not asked{why}")
    return Condition("Halted", False, "Trading", "bots may open positions")


def withhold_new_bots(
    desired: Sequence[Manifest], observed: Sequence[Manifest], switch: KillSwitch
) -> list[Manifest]:
    """While a halt is not confirmed, no bot Deployment that does not exist yet is created:
    a stack created halted (its Redis not up yet) must not start trading before the
    switch lands. Existing bots are left as they are (halting rolls no pod)."""
    if not (switch.wanted and not switch.confirmed):
        return list(desired)
    existing = {(m["kind"], m["metadata"]["name"]) for m in observed}
    return [
        m
        for m in desired
        if not (
            m["kind"] == "Deployment"
            and (m["metadata"].get("labels") or {}).get(COMPONENT_LABEL) == BOT_COMPONENT
            and (m["kind"], m["metadata"]["name"]) not in existing
        )
    ]
