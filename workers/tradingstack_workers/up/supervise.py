"""The supervisor's decisions, as the kubelet makes them: pure, the clock passed in.

A child is probed with its startup probe until one succeeds, then with its liveness
probe; ``failure_threshold`` consecutive failures, or an exit, restart it. Restarts back
off exponentially (like CrashLoopBackOff, shorter) and the back-off resets once a child
has stayed up for ``reset_after_s``.

Readiness is kept beside that and restarts nothing: once the startup probe succeeded,
the readiness probe runs on its own period; a child is ready from its first success
until ``failure_threshold`` failures in a row (a child without a readiness probe is
ready once started), as the kubelet counts a pod's ready containers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .plan import Probe


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 1.0
    max_s: float = 30.0
    reset_after_s: float = 60.0

    def delay(self, streak: int) -> float:
        """Wait before the ``streak``-th restart in a row (0: the first, immediate)."""
        return 0.0 if streak <= 0 else min(self.max_s, self.initial_s * 2 ** (streak - 1))


@dataclass(frozen=True)
class ChildView:
    """What the supervisor knows about one child at ``now``."""

    alive: bool
    started_at: float
    started_ok: bool  # the startup probe (or a first liveness probe) has succeeded
    failures: int  # consecutive failed probes of the current kind
    last_probe_at: float | None
    streak: int  # restarts in a row without a healthy stretch


@dataclass(frozen=True)
class Decision:
    action: Literal["keep", "restart"]
    reason: str = ""
    start_at: float = 0.0  # when the replacement may start
    streak: int = 0  # the streak the replacement inherits


def probe_for(view: ChildView, liveness: Probe, startup: Probe | None) -> Probe:
    return startup if startup is not None and not view.started_ok else liveness


def probe_due(view: ChildView, now: float, liveness: Probe, startup: Probe | None) -> bool:
    """Whether the probe in force is due: after its initial delay, once per period."""
    if not view.alive:
        return False
    probe = probe_for(view, liveness, startup)
    if now < view.started_at + probe.initial_delay_s:
        return False
    return view.last_probe_at is None or now - view.last_probe_at >= probe.period_s


def after_probe(view: ChildView, ok: bool, now: float) -> ChildView:
    """The child's view once a probe answered (``ok``) or failed; success resets failures."""
    if ok:
        return ChildView(view.alive, view.started_at, True, 0, now, view.streak)
    return ChildView(
        view.alive, view.started_at, view.started_ok, view.failures + 1, now, view.streak
    )


def decide(
    view: ChildView, now: float, liveness: Probe, startup: Probe | None, backoff: Backoff
) -> Decision:
    """Keep the child, or restart it (and when) because it exited or failed its probe."""
    probe = probe_for(view, liveness, startup)
    if view.alive and view.failures < probe.failure_threshold:
        return Decision("keep")
    if view.alive:
        which = "startup" if probe is startup else "liveness"
        reason = f"{which} probe failed {view.failures} times"
    else:
        reason = "exited"
    return restart(view, reason, now, backoff)


def restart(view: ChildView, reason: str, now: float, backoff: Backoff) -> Decision:
    """Restart after the back-off of the streak, which a healthy stretch resets."""
    healthy_stretch = view.started_ok and now - view.started_at >= backoff.reset_after_s
    streak = 0 if healthy_stretch else view.streak
    return Decision("restart", reason, now + backoff.delay(streak), streak + 1)


@dataclass(frozen=True)
class Readiness:
    """What the readiness probe said of one child: unready until its first success."""

    ready: bool = False
    failures: int = 0  # consecutive failed readiness probes
    last_probe_at: float | None = None


def readiness_due(view: ChildView, readiness: Readiness, now: float, probe: Probe) -> bool:
    """Whether the readiness probe is due: once the startup probe succeeded, after the
    probe's initial delay, once per its period."""
    if not (view.alive and view.started_ok) or now < view.started_at + probe.initial_delay_s:
        return False
    return readiness.last_probe_at is None or now - readiness.last_probe_at >= probe.period_s


def probed(readiness: Readiness, now: float) -> Readiness:
    """``readiness`` with a probe sent at ``now`` (not due again for a period)."""
    return Readiness(readiness.ready, readiness.failures, now)


def after_readiness_probe(readiness: Readiness, ok: bool, probe: Probe) -> Readiness:
    """Ready on a success; unready after ``failure_threshold`` failures in a row."""
    if ok:
        return Readiness(True, 0, readiness.last_probe_at)
    failures = readiness.failures + 1
    return Readiness(
        readiness.ready and failures < probe.failure_threshold, failures, readiness.last_probe_at
    )


def is_ready(view: ChildView, readiness: Readiness, probe: Probe | None) -> bool:
    """Whether the child counts as ready: alive, started, and (with a readiness probe)
    ready by it."""
    return view.alive and view.started_ok and (probe is None or readiness.ready)
