"""``POST /test/inject_portfolio_state``: write a portfolio state by hand, in test mode only.

Seed 002 used it to prove enforce-mode blocking without real positions. Outside
test mode the route is not registered at all, so the health server answers 404:
a production pod offers no way to forge its own primary input.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable

import redis

from ..runtime.health import Routes
from ..runtime.loop import WorkerContext
from .settings import GovernorSettings
from .store import GovernorStore

log = logging.getLogger(__name__)

PATH = "/test/inject_portfolio_state"
REQUIRED = ("equity_usd", "drawdown")
OPTIONAL = ("timestamp",)


class BadRequest(ValueError):
    pass


def portfolio_fields(body: bytes, now: float) -> dict[str, str]:
    """The hash to write, from a JSON object {equity_usd, drawdown, timestamp?}."""
    try:
        doc = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadRequest("body must be a JSON object")
    unknown = sorted(set(doc) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    doc.setdefault("timestamp", now)
    fields: dict[str, str] = {}
    for name in (*REQUIRED, *OPTIONAL):
        value = doc.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadRequest(f"{name} must be a number")
        if not math.isfinite(value):
            raise BadRequest(f"{name} must be finite")
        fields[name] = repr(value)
    return fields  # a negative equity is allowed: the blown-account path must be testable


def routes(ctx: WorkerContext[GovernorSettings]) -> Routes:
    """The test route when TS_TEST_MODE is true; no routes otherwise."""
    if not ctx.settings.test_mode:
        return {}
    log.warning("test mode: %s is enabled", PATH)
    store = GovernorStore(ctx.redis, ctx.retry, ctx.keys)
    return {("POST", PATH): _handler(store, ctx.clock)}


def _handler(
    store: GovernorStore, clock: Callable[[], float]
) -> Callable[[bytes], tuple[int, dict[str, object]]]:
    def inject(body: bytes) -> tuple[int, dict[str, object]]:
        try:
            fields = portfolio_fields(body, clock())
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        try:
            store.write_portfolio_state(fields)
        except redis.RedisError as exc:
            return 503, {"error": f"redis: {exc}"}
        log.warning("portfolio state injected", extra={"fields": fields})
        return 200, {"written": dict(fields)}

    return inject
