"""``tradingstack up``'s supervisor decisions: pure, the clock passed in."""

from __future__ import annotations

from tradingstack_workers.up.plan import Probe
from tradingstack_workers.up.redis_watch import server_ready
from tradingstack_workers.up.supervise import (
    Backoff,
    ChildView,
    Readiness,
    after_probe,
    after_readiness_probe,
    decide,
    is_ready,
    probe_due,
    probe_for,
    probed,
    readiness_due,
)

LIVE = Probe("/healthz", period_s=10, timeout_s=3, failure_threshold=3)
STARTUP = Probe("/healthz", period_s=5, timeout_s=3, failure_threshold=60)
BACKOFF = Backoff(initial_s=1, max_s=30, reset_after_s=60)


def running(started_ok: bool = True, failures: int = 0, streak: int = 0) -> ChildView:
    return ChildView(True, 100.0, started_ok, failures, None, streak)


def test_startup_probe_until_first_success_then_liveness() -> None:
    assert probe_for(running(started_ok=False), LIVE, STARTUP) is STARTUP
    assert probe_for(running(), LIVE, STARTUP) is LIVE
    assert probe_for(running(started_ok=False), LIVE, None) is LIVE


def test_probe_due_once_per_period() -> None:
    view = running()
    assert probe_due(view, 100.0, LIVE, STARTUP)
    probed = after_probe(view, True, 100.0)
    assert not probe_due(probed, 109.9, LIVE, STARTUP)
    assert probe_due(probed, 110.0, LIVE, STARTUP)
    assert not probe_due(ChildView(False, 100.0, True, 0, None, 0), 200.0, LIVE, STARTUP)


def test_initial_delay_is_honoured() -> None:
    delayed = Probe("/healthz", 10, 3, 3, initial_delay_s=15)
    assert not probe_due(running(), 110.0, delayed, None)
    assert probe_due(running(), 115.0, delayed, None)


def test_failures_accumulate_and_success_resets() -> None:
    view = after_probe(after_probe(running(), False, 101.0), False, 111.0)
    assert view.failures == 2
    assert decide(view, 111.0, LIVE, STARTUP, BACKOFF).action == "keep"
    assert after_probe(view, True, 121.0).failures == 0


def test_liveness_threshold_restarts_at_once_the_first_time() -> None:
    decision = decide(running(failures=3), 130.0, LIVE, STARTUP, BACKOFF)
    assert decision.action == "restart"
    assert decision.reason == "liveness probe failed 3 times"
    assert decision.start_at == 130.0
    assert decision.streak == 1


def test_startup_threshold_is_the_startup_probes() -> None:
    assert decide(running(False, failures=3), 130.0, LIVE, STARTUP, BACKOFF).action == "keep"
    decision = decide(running(False, failures=60), 400.0, LIVE, STARTUP, BACKOFF)
    assert decision.reason == "startup probe failed 60 times"


def test_exit_restarts_with_exponential_backoff_capped() -> None:
    for streak, delay in [(0, 0), (1, 1), (2, 2), (3, 4), (6, 30), (20, 30)]:
        view = ChildView(False, 100.0, False, 0, None, streak)
        decision = decide(view, 101.0, LIVE, STARTUP, BACKOFF)
        assert (decision.action, decision.reason) == ("restart", "exited")
        assert decision.start_at == 101.0 + delay
        assert decision.streak == streak + 1


def test_backoff_resets_after_a_healthy_stretch() -> None:
    view = ChildView(False, 100.0, True, 0, None, 5)
    assert decide(view, 160.0, LIVE, STARTUP, BACKOFF).start_at == 160.0
    assert decide(view, 159.0, LIVE, STARTUP, BACKOFF).start_at == 159.0 + 16


READY = Probe("/readyz", period_s=5, timeout_s=1, failure_threshold=2)


def test_readiness_is_probed_only_once_started_and_once_per_period() -> None:
    assert not readiness_due(running(started_ok=False), Readiness(), 100.0, READY)
    assert not readiness_due(ChildView(False, 100.0, True, 0, None, 0), Readiness(), 100.0, READY)
    assert readiness_due(running(), Readiness(), 100.0, READY)
    sent = probed(Readiness(), 100.0)
    assert not readiness_due(running(), sent, 104.9, READY)
    assert readiness_due(running(), sent, 105.0, READY)
    delayed = Probe("/readyz", 5, 1, 2, initial_delay_s=15)
    assert not readiness_due(running(), Readiness(), 114.9, delayed)
    assert readiness_due(running(), Readiness(), 115.0, delayed)


def test_unready_until_a_success_then_until_failure_threshold_failures_in_a_row() -> None:
    assert not Readiness().ready
    assert not after_readiness_probe(Readiness(), False, READY).ready
    ready = after_readiness_probe(Readiness(), True, READY)
    assert ready.ready
    once = after_readiness_probe(ready, False, READY)
    assert (once.ready, once.failures) == (True, 1)
    assert after_readiness_probe(once, True, READY) == ready  # a success resets the count
    twice = after_readiness_probe(once, False, READY)
    assert (twice.ready, twice.failures) == (False, 2)
    assert after_readiness_probe(twice, True, READY).ready


def test_ready_needs_alive_started_and_the_probe_unless_there_is_none() -> None:
    ready = Readiness(ready=True)
    assert is_ready(running(), ready, READY)
    assert not is_ready(running(), Readiness(), READY)
    assert not is_ready(running(started_ok=False), ready, READY)
    assert not is_ready(ChildView(False, 100.0, True, 0, None, 0), ready, READY)
    assert is_ready(running(), Readiness(), None)
    assert not is_ready(running(started_ok=False), Readiness(), None)


def test_a_server_is_ready_by_the_pods_rule() -> None:
    """render/redis_sh/probe.sh: a replica once linked and synced; a master once the
    sentinels name it."""
    linked = {"role": "slave", "master_link_status": "up", "master_sync_in_progress": 0}
    assert server_ready(linked, 7001, 7000)
    assert not server_ready({**linked, "master_link_status": "down"}, 7001, 7000)
    assert not server_ready({**linked, "master_sync_in_progress": 1}, 7001, 7000)
    assert server_ready({"role": "master"}, 7000, 7000)
    assert not server_ready({"role": "master"}, 7000, 7001)  # the sentinels name another
    assert not server_ready({"role": "master"}, 7000, None)  # they name none
