"""``tradingstack intel report``: seed 003's queries A-E from Redis, as tables or JSON.

Settings come from the same ``TS_*`` variables as the worker (so the window, the
bucket width and the alert thresholds are the worker's). ``--now`` reports as of
another moment (an incident at 03:00, or a reproducible test).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..keys import Keys
from ..runtime import killswitch
from ..runtime.redis_client import RedisUnavailable, RetryPolicy, connect
from ..runtime.settings import SettingsError, load_settings
from . import queries, tables
from .settings import IntelSettings
from .store import IntelStore
from .worker import layout_from, policy_from

QUERIES = ("a", "b", "c", "d", "e")
#: Report calls give up after this long without Redis (a person is waiting), unless
#: TS_REDIS_RETRY_BUDGET_SECONDS says otherwise (the workers' 30 s default is not used).
RETRY_SECONDS = 5.0

Json = dict[str, Any]


def build(
    store: IntelStore,
    settings: IntelSettings,
    which: str,
    *,
    now: float,
    symbols: Sequence[str] = (),
    threshold_pct: float | None = None,
) -> Json:
    """The report as data: one section, or every section under its letter for ``all``."""
    wanted = QUERIES if which == "all" else (which,)
    policy = policy_from(settings)
    threshold = settings.alert_medium_pct if threshold_pct is None else threshold_pct
    prefix = store.keys.prefix
    data: Json = {}
    if set(wanted) & {"a", "b", "c", "d"}:
        per_symbol = list(symbols) if "b" in wanted else None
        window = store.read_window(now, settings.alert_window_seconds, per_symbol)
        for name in wanted:
            if name == "a":
                data["a"] = queries.overview(window)
            elif name == "b":
                data["b"] = queries.per_symbol(window, symbols)
            elif name == "c":
                data["c"] = queries.gate_share(window, threshold, prefix)
            elif name == "d":
                data["d"] = queries.drift(window, threshold, policy, prefix)
    if "e" in wanted:
        data["e"] = queries.health(store.health())
    if which != "all":
        return {"now": now, **data[which]}
    return {"now": now, "window_seconds": settings.alert_window_seconds, **data}


def render_text(report: Json, which: str) -> str:
    draw: dict[str, Callable[[Json], list[str]]] = {
        "a": tables.overview,
        "b": tables.per_symbol,
        "c": tables.gate_share,
        "d": tables.drift,
        "e": lambda e: tables.health(e, report["now"]),
    }
    blocks = (
        [draw[q](report[q]) for q in QUERIES if q in report]
        if which == "all"
        else [draw[which](report)]
    )
    if report.get("halted"):
        blocks.insert(0, [HALTED_BANNER])
    return "\n\n".join("\n".join(lines) for lines in blocks) + "\n"


HALTED_BANNER = (
    "KILL SWITCH ENGAGED: entries are refused (reason halted), exits run."
    " Resume: tradingstack resume NAME (or spec.halted: false)."
)

#: Exit code of ``report d`` when a gate's share is over the threshold.
EXIT_DRIFT = 3


def report_command(
    which: str,
    *,
    as_json: bool = False,
    symbols: Sequence[str] = (),
    threshold_pct: float | None = None,
    now: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Print the report; 0 on success, 1 when Redis cannot be reached, 2 on bad settings,
    and 3 when ``d`` finds drift, so a cron job or a CI check can act on it.

    ``environ`` replaces the process environment (``--stack``: the stack's own settings).
    """
    try:
        settings = load_settings(IntelSettings, environ)
    except SettingsError as exc:
        print(f"tradingstack intel report: invalid settings: {exc}", file=sys.stderr)
        return 2
    client = connect(settings)
    given = "redis_retry_budget_seconds" in settings.model_fields_set
    budget = settings.redis_retry_budget_seconds if given else RETRY_SECONDS
    store = IntelStore(
        client, RetryPolicy(budget_seconds=budget), layout_from(settings, Keys(settings.key_prefix))
    )
    names = [s for part in symbols for s in part.replace(",", " ").split()]
    try:
        report = build(
            store, settings, which, now=time.time() if now is None else now,
            symbols=names, threshold_pct=threshold_pct,
        )  # fmt: skip
        keys = Keys(settings.key_prefix)
        report["halted"] = RetryPolicy(budget_seconds=budget).run(
            lambda: killswitch.read(client, keys) is True, "read the kill switch"
        )
    except RedisUnavailable as exc:
        print(f"tradingstack intel report: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    if as_json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        sys.stdout.write(render_text(report, which))
    if which == "d" and not report.get("healthy", True):
        return EXIT_DRIFT
    return 0
