"""P3.5.1 alerts: thresholds at their edges, and dedup over simulated time."""

from __future__ import annotations

import pytest

from tradingstack_workers.intel.alerts import (
    Alert,
    AlertPolicy,
    Severity,
    evaluate,
    severity,
    top_reason,
)
from tradingstack_workers.keys import Keys

POLICY = AlertPolicy(min_total=1)
T0 = 1_769_929_500.0


@pytest.mark.parametrize(
    ("pct", "expected"),
    # Seed 003: "share > 40 %": exactly at a threshold is the level below (review D14).
    [(0, None), (39.99, None), (40, None), (40.01, "MEDIUM"), (60, "MEDIUM"),
     (60.01, "HIGH"), (80, "HIGH"), (80.01, "CRITICAL"), (100, "CRITICAL")],
)  # fmt: skip
def test_thresholds(pct: float, expected: str | None) -> None:
    assert severity(pct, POLICY) == expected


def test_the_seeds_example_event() -> None:
    alert = evaluate({"p33_permit_denied": 1234, "heat_limit": 10}, 2000, T0, POLICY, {})
    assert alert == Alert("5m", "p33_permit_denied", 1234, 2000, 0.617, int(T0), "HIGH")
    assert alert.to_fields() == {
        "window": "5m",
        "reason": "p33_permit_denied",
        "score": "1234",
        "total": "2000",
        "share": "0.617",
        "timestamp": "1769929500",
        "severity": "HIGH",
        "alert_id": "p35_alert_1769929500_p33_permit_denied",
    }


def test_share_is_of_all_decisions_not_only_of_the_reasons() -> None:
    # 5 skips among 100 decisions: the desk trades; no gate explosion.
    assert evaluate({"heat_limit": 5}, 100, T0, POLICY, {}) is None


def test_small_windows_do_not_alert() -> None:
    policy = AlertPolicy(min_total=10)
    assert evaluate({"heat_limit": 9}, 9, T0, policy, {}) is None
    assert evaluate({"heat_limit": 10}, 10, T0, policy, {}) is not None


def test_nothing_to_alert_on() -> None:
    assert evaluate({}, 0, T0, POLICY, {}) is None
    assert top_reason({"a": 0}) is None


def test_ties_go_to_the_first_name_so_replicas_agree() -> None:
    assert top_reason({"b": 5, "a": 5, "c": 1}) == ("a", 5)


def test_window_names() -> None:
    assert [AlertPolicy(window_seconds=s).window for s in (300, 90, 3600, 120)] == [
        "5m", "90s", "1h", "2m"]  # fmt: skip


Store = dict[tuple[str, Severity], float]


def simulate(
    minutes: int, shares: dict[int, float], policy: AlertPolicy, store: Store
) -> list[tuple[int, str]]:
    """Check once a minute; ``store`` plays the Redis dedup keys ((reason, severity) -> ts)."""
    raised: list[tuple[int, str]] = []
    for minute in range(minutes):
        now = T0 + 60 * minute
        share = shares.get(minute, 0.0)
        alert = evaluate({"heat_limit": round(share * 1000)}, 1000, now, policy, store)
        if alert is not None:
            store[alert.reason, alert.severity] = now
            raised.append((minute, alert.severity))
    return raised


def test_at_most_one_alert_per_reason_per_dedup_period() -> None:
    policy = AlertPolicy(dedup_seconds=300)
    shares = dict.fromkeys(range(20), 0.85)
    # minute 0, then every 5 minutes while the explosion lasts
    assert simulate(20, shares, policy, {}) == [(0, "CRITICAL"), (5, "CRITICAL"),
                                                (10, "CRITICAL"), (15, "CRITICAL")]  # fmt: skip


def test_escalation_goes_through_the_period_and_a_lower_level_does_not() -> None:
    """Review D17: MEDIUM then HIGH then CRITICAL a minute apart are three alerts."""
    policy = AlertPolicy(dedup_seconds=300)
    shares = {0: 0.45, 1: 0.65, 2: 0.9, 3: 0.9, 4: 0.5, 5: 0.9, 6: 0.3, 7: 0.9}
    assert simulate(8, shares, policy, {}) == [
        (0, "MEDIUM"), (1, "HIGH"), (2, "CRITICAL"), (7, "CRITICAL"),
    ]  # fmt: skip


def test_a_restarted_replica_reads_the_shared_dedup_state() -> None:
    policy = AlertPolicy(dedup_seconds=300)
    store: Store = {}
    shares = dict.fromkeys(range(10), 0.7)
    assert simulate(2, shares, policy, store) == [(0, "HIGH")]
    # "restart": same store (Redis), time goes on
    later = evaluate({"heat_limit": 700}, 1000, T0 + 240, policy, store)
    assert later is None
    assert evaluate({"heat_limit": 700}, 1000, T0 + 300, policy, store) is not None


def test_dedup_is_per_reason() -> None:
    store: Store = {("heat_limit", "CRITICAL"): T0}
    alert = evaluate({"stress_limit": 900}, 1000, T0 + 10, POLICY, store)
    assert alert is not None
    assert alert.reason == "stress_limit"


def test_zero_dedup_alerts_every_check() -> None:
    policy = AlertPolicy(dedup_seconds=0)
    assert len(simulate(3, dict.fromkeys(range(3), 0.5), policy, {})) == 3


def test_none_is_never_a_gate() -> None:
    """Review D16: seed 003's window (18 UNKNOWN, reason none) raised a CRITICAL on 'none'."""
    assert top_reason({"none": 18}) is None
    assert evaluate({"none": 18}, 18, T0, POLICY, {}) is None
    assert top_reason({"none": 18, "heat_limit": 2}) == ("heat_limit", 2)


def test_alerts_go_to_the_seeds_key() -> None:
    """Review D9: seed 003 publishes to quantum:p35:alerts; its consumers read that key."""
    assert Keys().intel_alerts_stream == "quantum:p35:alerts"
    assert Keys("desk").intel_alert_dedup("5m", "heat_limit", "HIGH") == (
        "desk:p35:alert_dedup:5m:heat_limit:HIGH"
    )
