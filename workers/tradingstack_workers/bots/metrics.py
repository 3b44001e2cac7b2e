"""The bots' metrics, Prometheus-named (base units, ``_total``); names defined here only.

Seed 004's ``quantshift_<bot>_*`` names become ``tradingstack_bot_*``: the bot is a
target label (pod, bot) rather than part of the name, so one dashboard serves every
bot. Standby instances export the same set with ``is_leader`` 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

HEARTBEAT = "tradingstack_bot_heartbeat_timestamp_seconds"
CYCLE_DURATION = "tradingstack_bot_cycle_duration_seconds"
ERRORS = "tradingstack_bot_errors"  # exported as ..._total
SYMBOLS_LOADED = "tradingstack_bot_symbols_loaded"
PORTFOLIO_VALUE = "tradingstack_bot_portfolio_value_usd"
DAILY_PNL = "tradingstack_bot_daily_pnl_usd"
OPEN_POSITIONS = "tradingstack_bot_open_positions"
SIGNALS = "tradingstack_bot_signals"  # exported as ..._total
ORDERS = "tradingstack_bot_orders"  # exported as ..._total
IS_LEADER = "tradingstack_bot_is_leader"
MARKET_DATA_AGE = "tradingstack_bot_market_data_age_seconds"
DECISIONS = "tradingstack_bot_decisions"  # exported as ..._total
BUDGET_VIOLATIONS = "tradingstack_bot_budget_violations"  # exported as ..._total
MALFORMED = "tradingstack_bot_malformed_inputs"  # exported as ..._total{input, field}

NAMES = (
    HEARTBEAT,
    CYCLE_DURATION,
    ERRORS + "_total",
    SYMBOLS_LOADED,
    PORTFOLIO_VALUE,
    DAILY_PNL,
    OPEN_POSITIONS,
    SIGNALS + "_total",
    ORDERS + "_total",
    IS_LEADER,
    MARKET_DATA_AGE,
    DECISIONS + "_total",
    BUDGET_VIOLATIONS + "_total",
    MALFORMED + "_total",
)

#: A live bot's exchange metrics, exported by ``execution.venue`` (every call to the
#: exchange) and ``execution.poller`` (the account poll). Named here, without ccxt, so
#: that the operator's alert rules import them without ccxt's ~45 MiB of resident memory
#: (bench.operator_controlplane). A paper bot exports none of them: not in :data:`NAMES`.
REQUEST_DURATION = "tradingstack_exchange_request_duration_seconds"
REQUEST_ERRORS = "tradingstack_exchange_request_errors"  # exported as ..._total
BACKOFFS = "tradingstack_exchange_backoffs"  # exported as ..._total
KEY_PERMISSION = "tradingstack_exchange_key_permission"
KEY_PERMISSIONS_KNOWN = "tradingstack_exchange_key_permissions_known"
DRIFT = "tradingstack_exchange_drift_usd"
DRIFT_EVENTS = "tradingstack_exchange_drift_events"  # exported as ..._total
RECONCILES = "tradingstack_exchange_reconciles"  # exported as ..._total
OPEN_ORDERS = "tradingstack_exchange_open_orders"

_CYCLE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class BotMetrics:
    heartbeat: Gauge
    cycle_duration: Histogram
    errors: Counter
    symbols_loaded: Gauge
    portfolio_value: Gauge
    daily_pnl: Gauge
    open_positions: Gauge
    signals: Counter
    orders: Counter
    is_leader: Gauge
    market_data_age: Gauge
    decisions: Counter
    budget_violations: Counter
    malformed: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> BotMetrics:
        r = registry
        return cls(
            heartbeat=Gauge(HEARTBEAT, "Unix time of the bot's last completed cycle", registry=r),
            cycle_duration=Histogram(
                CYCLE_DURATION, "Duration of one bot cycle", registry=r, buckets=_CYCLE_BUCKETS
            ),
            errors=Counter(ERRORS, "Errors in the bot's cycle, by type", ["type"], registry=r),
            symbols_loaded=Gauge(SYMBOLS_LOADED, "Symbols with market data", registry=r),
            portfolio_value=Gauge(PORTFOLIO_VALUE, "Account equity at marks", registry=r),
            daily_pnl=Gauge(DAILY_PNL, "Equity change since the UTC day's first write", registry=r),
            open_positions=Gauge(OPEN_POSITIONS, "Symbols with a position", registry=r),
            signals=Counter(
                SIGNALS, "Strategy signals, by strategy and side", ["strategy", "side"], registry=r
            ),
            orders=Counter(
                ORDERS, "Orders filled, by strategy and side", ["strategy", "side"], registry=r
            ),
            is_leader=Gauge(
                IS_LEADER, "1 while this instance holds the account's lease", registry=r
            ),
            market_data_age=Gauge(
                MARKET_DATA_AGE, "Seconds since the newest bar closed", registry=r
            ),
            decisions=Counter(
                DECISIONS, "Execution results written, by decision", ["decision"], registry=r
            ),
            budget_violations=Counter(
                BUDGET_VIOLATIONS, "Entries over budget in shadow mode", registry=r
            ),
            malformed=Counter(
                MALFORMED,
                "Permits, budgets and cursors that broke their contract, by field",
                ["input", "field"],
                registry=r,
            ),
        )
