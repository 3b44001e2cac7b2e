"""The governor's shell: every ``interval_seconds`` read, decide, write budgets, measure.

All judgement lives in :func:`.decide.decide`; this class only moves data
between Redis, the decision and the metrics, and carries the LKG cache from one
cycle to the next. Shadow and enforce modes write the same budgets; only the
``mode`` field differs, and the bots decide what it means.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from ..runtime.leadership import Leadership
from ..runtime.loop import WorkerContext
from ..runtime.singleton import SingletonWorker
from .budget import Weights
from .decide import EMPTY_CACHE, CycleInputs, Decision, LkgCache, Policy, Source, decide
from .inputs import (
    MarketState,
    drawdown_looks_like_a_fraction,
    parse_cluster,
    parse_heat,
    parse_market,
    parse_portfolio,
)
from .metrics import GovernorMetrics
from .settings import GovernorSettings
from .store import GovernorStore, RawInputs

log = logging.getLogger(__name__)


def policy_of(settings: GovernorSettings) -> Policy:
    return Policy(
        mode=settings.mode,
        staleness_seconds=settings.staleness_seconds,
        lkg_max_age_seconds=settings.lkg_max_age_seconds,
        heat_stale_seconds=settings.heat_stale_seconds,
        cluster_stale_seconds=settings.cluster_stale_seconds,
        base_risk_pct=settings.base_risk_pct,
        total_risk_pct=settings.total_risk_pct,
        max_drawdown_pct=settings.max_drawdown_pct,
        weights=Weights(settings.heat_weight, settings.cluster_weight, settings.vol_weight),
    )


@dataclass(frozen=True)
class Parsed:
    inputs: CycleInputs
    #: input type -> problems found this cycle (malformed values, wrong key types).
    problems: Mapping[str, tuple[str, ...]]


def parse_cycle(raw: RawInputs, symbols: list[str], now: float) -> Parsed:
    """Typed inputs from raw hashes; whatever is malformed becomes missing and is reported."""
    problems: dict[str, list[str]] = {name: [why] for name, why in raw.unreadable.items()}
    portfolio = parse_portfolio(raw.portfolio, now)
    heat = parse_heat(raw.heat, now)
    cluster = parse_cluster(raw.cluster, now)
    for name, parsed in (
        ("portfolio_state", portfolio),
        ("portfolio_heat", heat),
        ("cluster_stress", cluster),
    ):
        problems.setdefault(name, []).extend(parsed.problems)
    markets: dict[str, MarketState | None] = {}
    for symbol in symbols:
        market = parse_market(raw.markets.get(symbol, {}))
        markets[symbol] = market.value
        problems.setdefault("vol_regime", []).extend(f"{symbol}: {p}" for p in market.problems)
    inputs = CycleInputs(
        symbols=symbols,
        portfolio=portfolio.value,
        heat=heat.value,
        cluster=cluster.value,
        markets=markets,
    )
    return Parsed(inputs, {name: tuple(found) for name, found in problems.items() if found})


class GovernorWorker(SingletonWorker[GovernorSettings]):
    """One instance writes budgets (a fenced write per cycle); the others stand by."""

    def __init__(
        self, ctx: WorkerContext[GovernorSettings], elect: Leadership | None = None
    ) -> None:
        super().__init__(ctx, ctx.settings.interval_seconds, elect=elect)
        settings = ctx.settings
        self.policy = policy_of(settings)
        self.store = GovernorStore(ctx.redis, ctx.retry, ctx.keys)
        self.metrics = GovernorMetrics.create(ctx.registry, settings.mode)
        self.cache: LkgCache = EMPTY_CACHE
        self._last_source: Source | None = None
        self._warned_drawdown_unit = False

    def on_lead(self, epoch: int) -> None:
        # A new leader starts as a restarted one would: no last-known-good of its own.
        self.cache = EMPTY_CACHE

    def lead(self, epoch: int) -> None:
        now = self.ctx.clock()
        symbols, rejected = self.store.symbols()
        if rejected:
            log.warning("snapshot keys skipped: not a symbol", extra={"suffixes": rejected[:10]})
        parsed = parse_cycle(self.store.read(symbols), symbols, now)
        for name, problems in parsed.problems.items():
            log.warning("malformed input", extra={"input_type": name, "problems": problems[:5]})
        self.metrics.malformed(name for name, problems in parsed.problems.items() for _ in problems)
        self._check_drawdown_unit(parsed.inputs)
        decision = decide(parsed.inputs, self.cache, now, self.policy)
        self.cache = decision.cache
        # Counted before the write, so whoever sees the budgets sees their figures too.
        self.metrics.record(decision)
        self._log(decision)
        if decision.budgets:
            commands = self.store.budget_commands(
                decision.budgets, self.ctx.settings.budget_ttl_seconds
            )
            self.writer.apply(epoch, "budgets", commands)

    def _check_drawdown_unit(self, inputs: CycleInputs) -> None:
        state = inputs.portfolio
        if self._warned_drawdown_unit or state is None:
            return
        if drawdown_looks_like_a_fraction(state):
            self._warned_drawdown_unit = True
            log.warning(
                "drawdown is a percent (5 means 5 %); this one looks like a fraction",
                extra={"drawdown": state.drawdown_pct, "read_as_pct": state.drawdown_pct},
            )

    def _log(self, decision: Decision) -> None:
        detail = {
            "source": decision.source,
            "budgets": len(decision.budgets),
            "portfolio_age_seconds": (
                None if decision.portfolio_age is None else round(decision.portfolio_age, 3)
            ),
            "stale_inputs": sorted(set(decision.stale_inputs)),
        }
        if decision.source != self._last_source:
            level = logging.INFO if decision.source == "fresh" else logging.WARNING
            log.log(level, f"portfolio state source: {decision.source}", extra=detail)
            self._last_source = decision.source
        else:
            log.debug("cycle", extra=detail)
