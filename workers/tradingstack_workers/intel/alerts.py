"""P3.5.1 gate-explosion alerts, as pure functions of the window's counts and the time.

Every check (60 s) takes the top reason of the window and its share of all decisions
in it: at or above the medium / high / critical percentages (40 / 60 / 80) it is an
alert of that severity. At most one alert per (reason, window) per dedup period: the
caller passes when each reason last alerted (kept in Redis, so a restarted or second
replica knows) and :func:`evaluate` stays silent inside the period. A window with
fewer than ``min_total`` decisions never alerts: one skip is not an explosion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

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
    """The severity a share (in percent) earns, or None below the medium threshold."""
    if share_pct >= policy.critical_pct:
        return "CRITICAL"
    if share_pct >= policy.high_pct:
        return "HIGH"
    if share_pct >= policy.medium_pct:
        return "MEDIUM"
    return None


def top_reason(reasons: Mapping[str, int]) -> tuple[str, int] | None:
    """The most counted reason; ties go to the alphabetically first, so replicas agree."""
    ranked = ranking(reasons)
    return ranked[0] if ranked else None


def ranking(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Counts from highest to lowest, ties by name; zero counts left out."""
    return sorted(((k, v) for k, v in counts.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))


def evaluate(
    reasons: Mapping[str, int],
    total: int,
    now: float,
    policy: AlertPolicy,
    last_alerted: Mapping[str, float],
) -> Alert | None:
    """The alert to raise now, if any.

    ``reasons`` and ``total`` are the window's reason counts and decision count;
    ``last_alerted`` maps a reason to when it last alerted for this window.
    """
    top = top_reason(reasons)
    if top is None or total < policy.min_total or total <= 0:
        return None
    reason, score = top
    share = score / total
    level = severity(share * 100, policy)
    if level is None:
        return None
    last = last_alerted.get(reason)
    if last is not None and now - last < policy.dedup_seconds:
        return None
    return Alert(policy.window, reason, score, total, round(share, 4), int(now), level)
