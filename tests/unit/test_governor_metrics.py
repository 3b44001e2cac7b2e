"""The p28_* metrics: seed names, counted once per cycle, no phantom per-symbol gauges."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from tradingstack_workers.governor.decide import CycleInputs, LkgCache, Policy, decide
from tradingstack_workers.governor.inputs import PortfolioState
from tradingstack_workers.governor.metrics import EXPORTED, GovernorMetrics

T0 = 1_800_000_000.0


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_seed_names_are_exported() -> None:
    registry = CollectorRegistry()
    GovernorMetrics.create(registry, "shadow")
    exported = {s.name for m in registry.collect() for s in m.samples}
    for name in (
        "p28_lkg_cache_used_total",
        "p28_portfolio_too_old_total",
        "p28_budget_computed_total",
        "p28_stale_input_total",
    ):
        assert name in EXPORTED
        assert name in exported, name
    assert value(registry, "p28_enforce_mode") == 0.0
    assert value(registry, "p28_stale_input_total", input_type="portfolio_state") == 0.0


def test_record_counts_sources_and_drops_gone_symbols() -> None:
    registry = CollectorRegistry()
    metrics = GovernorMetrics.create(registry, "enforce")
    state = PortfolioState(10_000, 0, T0)
    both = CycleInputs(symbols=("BTCUSDT", "ETHUSDT"), portfolio=state)
    metrics.record(decide(both, None, T0, Policy()))
    assert value(registry, "p28_budget_computed_total") == 2
    assert value(registry, "p28_budget_value_usd", symbol="ETHUSDT") is not None

    one = CycleInputs(symbols=("BTCUSDT",), portfolio=None)
    metrics.record(decide(one, LkgCache(state), T0 + 60, Policy()))
    assert value(registry, "p28_lkg_cache_used_total") == 1
    assert value(registry, "p28_budget_value_usd", symbol="ETHUSDT") is None
    assert value(registry, "p28_portfolio_source", source="lkg") == 1
    assert value(registry, "p28_portfolio_state_age_seconds") == 60

    metrics.record(decide(one, LkgCache(state), T0 + 900.5, Policy()))
    assert value(registry, "p28_portfolio_too_old_total") == 1
    assert value(registry, "p28_budget_value_usd", symbol="BTCUSDT") is None
    assert value(registry, "p28_portfolio_source", source="none") == 1
    assert value(registry, "p28_stale_input_total", input_type="portfolio_state") == 2
    assert value(registry, "p28_budget_computed_total") == 3
