"""The governor's metrics: seed 002's p28_* names, defined here and nowhere else.

Counters are declared without ``_total`` (prometheus-client appends it on
export); :data:`EXPORTED` lists the names as Prometheus, the alert rules and the
dashboards see them. The three event counters count once per cycle (one
decision about the portfolio state per cycle), not once per symbol.
``p28_budget_computed_total`` carries no symbol label on purpose: the alert
``rate(p28_budget_computed_total[2m]) == 0`` must not fire for one symbol whose
position was closed while the loop is fine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge

from .decide import SOURCES, Decision
from .inputs import INPUT_TYPES

LKG_CACHE_USED = "p28_lkg_cache_used"
PORTFOLIO_TOO_OLD = "p28_portfolio_too_old"
BUDGET_COMPUTED = "p28_budget_computed"
STALE_INPUT = "p28_stale_input"
MALFORMED_INPUT = "p28_malformed_input"
BUDGET_VALUE = "p28_budget_value_usd"
STRESS_FACTOR = "p28_stress_factor"
ENFORCE_MODE = "p28_enforce_mode"
PORTFOLIO_SOURCE = "p28_portfolio_source"
PORTFOLIO_AGE = "p28_portfolio_state_age_seconds"

#: Names as exported.
EXPORTED: tuple[str, ...] = (
    f"{LKG_CACHE_USED}_total",
    f"{PORTFOLIO_TOO_OLD}_total",
    f"{BUDGET_COMPUTED}_total",
    f"{STALE_INPUT}_total",
    f"{MALFORMED_INPUT}_total",
    BUDGET_VALUE,
    STRESS_FACTOR,
    ENFORCE_MODE,
    PORTFOLIO_SOURCE,
    PORTFOLIO_AGE,
)


@dataclass
class GovernorMetrics:
    lkg_cache_used: Counter
    portfolio_too_old: Counter
    budget_computed: Counter
    stale_input: Counter
    malformed_input: Counter
    budget_value: Gauge
    stress_factor: Gauge
    enforce_mode: Gauge
    portfolio_source: Gauge
    portfolio_age: Gauge
    _symbols: set[str] = field(default_factory=set)

    @classmethod
    def create(cls, registry: CollectorRegistry, mode: str) -> GovernorMetrics:
        metrics = cls(
            lkg_cache_used=Counter(
                LKG_CACHE_USED, "Cycles served from the last-known-good cache", registry=registry
            ),
            portfolio_too_old=Counter(
                PORTFOLIO_TOO_OLD,
                "Cycles failing open: portfolio state absent or older than the LKG limit",
                registry=registry,
            ),
            budget_computed=Counter(
                BUDGET_COMPUTED, "Budgets computed and written", registry=registry
            ),
            stale_input=Counter(
                STALE_INPUT,
                "Inputs found stale or missing (fallback used)",
                ["input_type"],
                registry=registry,
            ),
            malformed_input=Counter(
                MALFORMED_INPUT,
                "Inputs that could not be parsed (treated as missing)",
                ["input_type"],
                registry=registry,
            ),
            budget_value=Gauge(
                BUDGET_VALUE, "Current budget per symbol, USD", ["symbol"], registry=registry
            ),
            stress_factor=Gauge(
                STRESS_FACTOR,
                "Current stress factor per symbol (0-1)",
                ["symbol"],
                registry=registry,
            ),
            enforce_mode=Gauge(ENFORCE_MODE, "P2.8 mode: 0=shadow, 1=enforce", registry=registry),
            portfolio_source=Gauge(
                PORTFOLIO_SOURCE,
                "1 for the portfolio state source of the last cycle (fresh, lkg, none)",
                ["source"],
                registry=registry,
            ),
            portfolio_age=Gauge(
                PORTFOLIO_AGE,
                "Age of the portfolio state behind the budgets (-1 when failing open)",
                registry=registry,
            ),
        )
        metrics.enforce_mode.set(1.0 if mode == "enforce" else 0.0)
        for input_type in INPUT_TYPES:  # series exist at 0 so rate() works from the start
            metrics.stale_input.labels(input_type=input_type)
            metrics.malformed_input.labels(input_type=input_type)
        for source in SOURCES:
            metrics.portfolio_source.labels(source=source)
        return metrics

    def malformed(self, input_types: Iterable[str]) -> None:
        for input_type in input_types:
            self.malformed_input.labels(input_type=input_type).inc()

    def record(self, decision: Decision) -> None:
        """Count one cycle's decision, after its budgets were written."""
        if decision.source == "lkg":
            self.lkg_cache_used.inc()
        elif decision.source == "none":
            self.portfolio_too_old.inc()
        for source in SOURCES:
            self.portfolio_source.labels(source=source).set(
                1.0 if source == decision.source else 0.0
            )
        age = decision.portfolio_age
        self.portfolio_age.set(-1.0 if age is None else age)
        for input_type in decision.stale_inputs:
            self.stale_input.labels(input_type=input_type).inc()
        self.budget_computed.inc(len(decision.budgets))
        current = {b.symbol for b in decision.budgets}
        for gone in self._symbols - current:  # no phantom budgets on dashboards
            self.budget_value.remove(gone)
            self.stress_factor.remove(gone)
        for b in decision.budgets:
            self.budget_value.labels(symbol=b.symbol).set(b.budget_usd)
            self.stress_factor.labels(symbol=b.symbol).set(b.stress_factor)
        self._symbols = current
