"""P3.5.1 gate-explosion alerts, as pure functions of the window's counts and the time.

Every check (60 s) takes the top reason of the window and its share of all decisions
in it: *over* the medium / high / critical percentages (40 / 60 / 80, seed 003: "share
> 40 %") it is an alert of that severity; exactly 40 % is not. At most one alert per
(reason, window, severity) per dedup period, and none while the same reason alerted at
a higher severity: the caller passes when the reason last alerted at each severity
(kept in Redis, so a restarted or second replica knows) and :func:`evaluate` stays
silent inside the period. An escalation (MEDIUM, then CRITICAL a minute later) goes
through at once: the desk wants it more than the seed's literal "max 1 alert per
(reason, window) per 5 minutes", which held it back for up to 5 minutes. A window
with fewer than ``min_total`` decisions never alerts: one skip is not an explosion.
The pseudo-reason ``none`` (an UNKNOWN result without a reason) is never a gate; a
high UNKNOWN share is a data-quality alert of its own (the PrometheusRule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..wire.result import NO_REASON

Severity = Literal["MEDIUM", "HIGH", "CRITICAL"]
SEVERITIES: tuple[Severity, ...] = ("MEDIUM", "HIGH", "CRITICAL")


@dataclass(frozen=True)
class AlertPolicy:
    medium_pct: float = 40
    high_pct: float = 60
    critical_pct: float = 80
    window_seconds: int = 300
    dedup_seconds: int = 300
    min_total: int = 1

    @property
    def window(self) -> str:
        """The window as the seed names it: ``5m`` (also ``90s``, ``1h``)."""
        s = self.window_seconds
        if s % 3600 == 0:
            return f"{s // 3600}h"
        return f"{s // 60}m" if s % 60 == 0 else f"{s}s"


@dataclass(frozen=True)
class Alert:
    """The seed's alert event; :meth:`to_fields` is its stream form."""

    window: str
    reason: str
    score: int
    total: int
    share: float
    timestamp: int
    severity: Severity

    @property
    def alert_id(self) -> str:
        return f"p35_alert_{self.timestamp}_{self.reason}"

    def to_fields(self) -> dict[str, str]:
        return {
            "window": self.window,
            "reason": self.reason,
            "score": str(self.score),
            "total": str(self.total),
            "share": repr(self.share),
            "timestamp": str(self.timestamp),
            "severity": self.severity,
            "alert_id": self.alert_id,
        }


def severity(share_pct: float, policy: AlertPolicy) -> Severity | None:
    """The severity a share (in percent) earns, or None at or below the medium threshold."""
    if share_pct > policy.critical_pct:
        return "CRITICAL"
    if share_pct > policy.high_pct:
        return "HIGH"
    if share_pct > policy.medium_pct:
        return "MEDIUM"
    return None


def at_or_above(level: Severity) -> tuple[Severity, ...]:
    """The severities an alert at ``level`` is deduplicated against."""
    return SEVERITIES[SEVERITIES.index(level) :]


def top_reason(reasons: Mapping[str, int]) -> tuple[str, int] | None:
    """The most counted reason; ties go to the alphabetically first, so replicas agree."""
    ranked = ranking(reasons)
    return ranked[0] if ranked else None


def ranking(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Counts from highest to lowest, ties by name; zero counts and ``none`` left out."""
    return sorted(
        ((k, v) for k, v in counts.items() if v > 0 and k != NO_REASON),
        key=lambda kv: (-kv[1], kv[0]),
    )


def evaluate(
    reasons: Mapping[str, int],
    total: int,
    now: float,
    policy: AlertPolicy,
    last_alerted: Mapping[tuple[str, Severity], float],
) -> Alert | None:
    """The alert to raise now, if any.

    ``reasons`` and ``total`` are the window's reason counts and decision count;
    ``last_alerted`` maps (reason, severity) to when it last alerted for this window.
    """
    top = top_reason(reasons)
    if top is None or total < policy.min_total or total <= 0:
        return None
    reason, score = top
    share = score / total
    level = severity(share * 100, policy)
    if level is None:
        return None
    held = [last_alerted[reason, s] for s in at_or_above(level) if (reason, s) in last_alerted]
    if held and now - max(held) < policy.dedup_seconds:
        return None
    return Alert(policy.window, reason, score, total, round(share, 4), int(now), level)
