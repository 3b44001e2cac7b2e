"""``POST /test/inject_portfolio_state``: write a portfolio state by hand, in test mode only.

Seed 002 used it to prove enforce-mode blocking without real positions. Outside
test mode the route is not registered at all, so the health server answers 404:
a production pod offers no way to forge its own primary input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..runtime.health import Routes
from ..runtime.loop import WorkerContext
from ..wire import PortfolioStateHash
from .settings import GovernorSettings
from .store import GovernorStore

log = logging.getLogger(__name__)

PATH = "/test/inject_portfolio_state"


class BadRequest(ValueError):
    pass


class _Body(BaseModel):
    """The request body: strict JSON numbers (no strings, no booleans), nothing else."""

    model_config = ConfigDict(extra="forbid", strict=True)

    equity_usd: float = Field(ge=0, allow_inf_nan=False)
    drawdown: float = Field(allow_inf_nan=False)
    timestamp: float | None = Field(default=None, allow_inf_nan=False)


def portfolio_fields(body: bytes, now: float) -> dict[str, str]:
    """The hash to write, from a JSON object {equity_usd, drawdown, timestamp?}."""
    try:
        doc = _Body.model_validate_json(body or b"null")
        if doc.timestamp is None and "timestamp" in doc.model_fields_set:
            raise BadRequest("timestamp: must be a number when given")
        state = PortfolioStateHash(
            equity_usd=doc.equity_usd,
            drawdown=doc.drawdown,
            timestamp=now if doc.timestamp is None else doc.timestamp,
        )
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadRequest(f"{where}: {first['msg']}") from None
    return state.to_fields()


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
