"""The four dashboards: seed 004's system health and trading performance, the risk
pipeline (P2.6, P2.7, P2.8) and decision intelligence (P3.5).

Metric names come from the workers' own metrics modules, never retyped here; ``sel``
is the PromQL matcher list that scopes every query to one stack.
"""

from __future__ import annotations

from tradingstack_workers.bots import metrics as bot
from tradingstack_workers.clusters import metrics as p27
from tradingstack_workers.gate import metrics as p26
from tradingstack_workers.governor import metrics as p28
from tradingstack_workers.intel import metrics as p35
from tradingstack_workers.runtime import metrics as runtime

from .panels import RATE, Panel, Query

SECONDS = "s"
USD = "currencyUSD"


def _total(name: str) -> str:
    return f"{name}_total"


def _p95(histogram: str, sel: str, by: str) -> str:
    return (
        f"histogram_quantile(0.95, sum by ({by}, le) (rate({histogram}_bucket{{{sel}}}[{RATE}])))"
    )


def _leading(gauge: str, sel: str) -> str:
    """A ledger figure as the bot's leader publishes it (a standby's copy goes stale)."""
    return (
        f"max by (bot) ({gauge}{{{sel}}} and on (namespace, pod) ({bot.IS_LEADER}{{{sel}}} == 1))"
    )


def system_health(sel: str) -> list[Panel]:
    """Seed 004's System Health dashboard (bots) plus every worker's runtime health."""
    heartbeat_age = f"time() - {bot.HEARTBEAT}{{{sel}}}"
    return [
        Panel("Bot heartbeat age", (Query(f"max by (bot) ({heartbeat_age})", "{{bot}}"),),
              kind="stat", unit=SECONDS, steps=((30, "orange"), (60, "red")),
              description="Seconds since each bot last completed a cycle (60 s: failover)"),
        Panel("Leaders per bot", (Query(f"sum by (bot) ({bot.IS_LEADER}{{{sel}}})", "{{bot}}"),),
              kind="stat", base="red", steps=((1, "green"), (2, "red")),
              description="Exactly one instance of each bot holds its Lease"),
        Panel("Symbols loaded",
              (Query(f"max by (bot) ({bot.SYMBOLS_LOADED}{{{sel}}})", "{{bot}}"),), kind="stat"),
        Panel("Open positions", (Query(_leading(bot.OPEN_POSITIONS, sel), "{{bot}}"),),
              kind="stat"),
        Panel("Bot cycle duration (p95)",
              (Query(_p95(bot.CYCLE_DURATION, sel, "bot"), "{{bot}}"),), unit=SECONDS),
        Panel("Bot cycle errors by type",
              (Query(f"sum by (bot, type) (rate({_total(bot.ERRORS)}{{{sel}}}[{RATE}]))",
                     "{{bot}} {{type}}"),), unit="ops"),
        Panel("Market data age",
              (Query(f"max by (bot) ({bot.MARKET_DATA_AGE}{{{sel}}})", "{{bot}}"),), unit=SECONDS),
        Panel("Worker heartbeat age",
              (Query(f"time() - {runtime.HEARTBEAT}{{{sel}}}", "{{component}} {{pod}}"),),
              unit=SECONDS, steps=((60, "red"),)),
        Panel("Targets up and ready", (
            Query(f"sum by (component) (up{{{sel}}})", "up {{component}}"),
            Query(f"sum by (component) ({runtime.READY}{{{sel}}})", "ready {{component}}"),
        )),
        Panel("Worker step errors",
              (Query(f"sum by (kind, error) (rate({_total(runtime.STEP_ERRORS)}{{{sel}}}[{RATE}]))",
                     "{{kind}} {{error}}"),), unit="ops"),
        Panel("Worker steps and step duration (p95)", (
            Query(f"sum by (kind) (rate({_total(runtime.STEPS)}{{{sel}}}[{RATE}]))",
                  "steps/s {{kind}}"),
            Query(_p95(runtime.STEP_DURATION, sel, "kind"), "p95 s {{kind}}"),
        )),
        Panel("Redis retries",
              (Query(f"sum by (kind) (rate({_total(runtime.REDIS_RETRIES)}{{{sel}}}[{RATE}]))",
                     "{{kind}}"),), unit="ops",
              description="Calls retried after a transient error (a failover shows here)"),
    ]  # fmt: skip


def trading_performance(sel: str) -> list[Panel]:
    """Seed 004's Trading Performance dashboard, per bot (each trades its own account)."""
    pnl_steps = ((0, "green"),)
    return [
        Panel("Portfolio value", (Query(_leading(bot.PORTFOLIO_VALUE, sel), "{{bot}}"),),
              kind="stat", unit=USD),
        Panel("Total portfolio value",
              (Query(f"sum({_leading(bot.PORTFOLIO_VALUE, sel)})", "total"),),
              kind="stat", unit=USD),
        Panel("Daily P&L", (Query(_leading(bot.DAILY_PNL, sel), "{{bot}}"),),
              kind="stat", unit=USD, base="red", steps=pnl_steps),
        Panel("Daily P&L, all bots", (Query(f"sum({_leading(bot.DAILY_PNL, sel)})", "total"),),
              kind="stat", unit=USD, base="red", steps=pnl_steps),
        Panel("Portfolio value over time",
              (Query(_leading(bot.PORTFOLIO_VALUE, sel), "{{bot}}"),), unit=USD),
        Panel("Daily P&L trend", (Query(_leading(bot.DAILY_PNL, sel), "{{bot}}"),), unit=USD),
        Panel("Signals by strategy",
              (Query(f"sum by (strategy, side) (increase({_total(bot.SIGNALS)}{{{sel}}}[{RATE}]))",
                     "{{strategy}} {{side}}"),)),
        Panel("Orders filled by side",
              (Query(f"sum by (side) (increase({_total(bot.ORDERS)}{{{sel}}}[{RATE}]))",
                     "{{side}}"),)),
        Panel("Execution results by decision",
              (Query(f"sum by (decision) (rate({_total(bot.DECISIONS)}{{{sel}}}[{RATE}]))",
                     "{{decision}}"),), unit="ops"),
        Panel("Entries over budget (shadow mode)",
              (Query(f"sum by (bot) (increase({_total(bot.BUDGET_VIOLATIONS)}{{{sel}}}[{RATE}]))",
                     "{{bot}}"),)),
    ]  # fmt: skip


def portfolio_risk(sel: str) -> list[Panel]:
    """Seeds 000-002: P2.7's live-health set, P2.6's cluster use, P2.8's inputs and budgets."""
    return [
        Panel("Correlation ready (P2.7)", (Query(f"max({p27.CORR_READY}{{{sel}}})", "ready"),),
              kind="stat", base="red", steps=((1, "green"),)),
        Panel("Clusters", (Query(f"max({p27.CLUSTERS_COUNT}{{{sel}}})", "clusters"),),
              kind="stat"),
        Panel("ClusterStress", (Query(f"max({p27.CLUSTER_STRESS_SUM}{{{sel}}})", "stress"),),
              kind="stat", unit="percentunit", steps=((0.7, "orange"), (0.9, "red"))),
        Panel("Gate uses cluster K (P2.6)",
              (Query(f"max({p26.CLUSTER_STRESS_USED}{{{sel}}})", "1 cluster, 0 proxy"),),
              kind="stat", base="orange", steps=((1, "green"),)),
        Panel("Cluster updates per minute",
              (Query(f"sum(rate({_total(p27.UPDATES)}{{{sel}}}[10m])) * 60", "updates/min"),)),
        Panel("Price points per symbol (warm-up)", (
            Query(f"max by (symbol) ({p27.POINTS_PER_SYMBOL}{{{sel}}})", "{{symbol}}"),
            Query(f"max({p27.MIN_POINTS_PER_SYMBOL}{{{sel}}})", "minimum"),
        )),
        Panel("Gate: source of K", (
            Query(f"sum by (source) (rate({_total(p26.K_SOURCE)}{{{sel}}}[{RATE}]))", "{{source}}"),
        ), unit="ops"),
        Panel("Gate fallbacks to proxy (30m)", (
            Query(f"sum by (reason) (increase({_total(p26.CLUSTER_FALLBACK)}{{{sel}}}[30m]))",
                  "{{reason}}"),
        )),
        Panel("Position snapshot age",
              (Query(f"max by (symbol) ({p26.SNAPSHOT_AGE}{{{sel}}})", "{{symbol}}"),),
              unit=SECONDS, steps=((300, "red"),)),
        Panel("Portfolio heat and stress", (
            Query(f"max({p26.PORTFOLIO_HEAT}{{{sel}}})", "heat"),
            Query(f"max({p26.LAST_STRESS}{{{sel}}})", "stress (last decision)"),
            Query(f"max({p28.STRESS_FACTOR}{{{sel}}})", "governor stress factor"),
        )),
        Panel("Permits", (
            Query(f"sum by (reason) (rate({_total(p26.PERMITS_ISSUED)}{{{sel}}}[{RATE}]))",
                  "issued {{reason}}"),
            Query(f"sum by (reason) (rate({_total(p26.PERMITS_DENIED)}{{{sel}}}[{RATE}]))",
                  "denied {{reason}}"),
        ), unit="ops"),
        Panel("Gate decision latency (p95)",
              (Query(_p95(p26.DECISION_LATENCY, sel, "namespace"), "p95"),), unit=SECONDS),
        Panel("Budgets by symbol (P2.8)",
              (Query(f"max by (symbol) ({p28.BUDGET_VALUE}{{{sel}}})", "{{symbol}}"),), unit=USD),
        Panel("Governor portfolio state", (
            Query(f"max by (source) ({p28.PORTFOLIO_SOURCE}{{{sel}}})", "source {{source}}"),
            Query(f"max({p28.PORTFOLIO_AGE}{{{sel}}})", "age s"),
            Query(f"max({p28.ENFORCE_MODE}{{{sel}}})", "enforce (1) / shadow (0)"),
        )),
        Panel("Governor degraded inputs", (
            Query(f"sum(rate({_total(p28.LKG_CACHE_USED)}{{{sel}}}[5m])) * 60", "LKG used/min"),
            Query(f"sum(rate({_total(p28.PORTFOLIO_TOO_OLD)}{{{sel}}}[5m])) * 60",
                  "too old/min"),
            Query(f"sum by (input_type) (rate({_total(p28.STALE_INPUT)}{{{sel}}}[5m])) * 60",
                  "stale {{input_type}}/min"),
        )),
        Panel("Budgets computed per minute", (
            Query(f"sum(rate({_total(p28.BUDGET_COMPUTED)}{{{sel}}}[5m])) * 60", "budgets/min"),
        )),
    ]  # fmt: skip


def decision_intelligence(sel: str) -> list[Panel]:
    """Seed 003's "why are we not trading" queries as panels (P3.5, P3.5.1)."""
    decisions = _total(p35.DECISIONS)
    share = (
        f"sum by (decision) (increase({decisions}{{{sel}}}[15m])) / ignoring (decision) "
        f"group_left sum(increase({decisions}{{{sel}}}[15m]))"
    )
    return [
        Panel("Decision distribution (15m)", (Query(share, "{{decision}}"),),
              kind="stat", unit="percentunit",
              description="Healthy: EXECUTE 30-50 %, SKIP 30-50 %, BLOCKED 10-20 %, ERROR < 5 %"),
        Panel("Top reason share", (Query(f"max({p35.TOP_SHARE}{{{sel}}})", "top reason"),),
              kind="stat", unit="percentunit", steps=((0.4, "orange"), (0.6, "red"))),
        Panel("Pending", (Query(f"sum({p35.PENDING}{{{sel}}})", "pending"),), kind="stat",
              steps=((100, "orange"),)),
        Panel("Lag", (Query(f"sum({p35.LAG}{{{sel}}})", "lag"),), kind="stat",
              steps=((100, "orange"),)),
        Panel("Decisions per second",
              (Query(f"sum by (decision) (rate({decisions}{{{sel}}}[{RATE}]))", "{{decision}}"),),
              unit="ops"),
        Panel("Results processed per second",
              (Query(f"sum(rate({_total(p35.PROCESSED)}{{{sel}}}[{RATE}]))", "processed"),),
              unit="ops"),
        Panel("Gate-explosion alerts by severity (P3.5.1)", (
            Query(f"sum by (severity) (increase({_total(p35.ALERTS)}{{{sel}}}[{RATE}]))",
                  "{{severity}}"),
        )),
        Panel("Data quality", (
            Query(f"sum(rate({_total(p35.UNKNOWN_DECISIONS)}{{{sel}}}[{RATE}]))", "unknown"),
            Query(f"sum by (field) (rate({_total(p35.MALFORMED)}{{{sel}}}[{RATE}]))",
                  "malformed {{field}}"),
            Query(f"sum by (cause) (rate({_total(p35.DEAD_LETTERED)}{{{sel}}}[{RATE}]))",
                  "dead-lettered {{cause}}"),
        ), unit="ops"),
    ]  # fmt: skip
