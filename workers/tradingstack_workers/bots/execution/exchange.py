"""The paper exchange: an account whose whole state lives in Redis, traded through one script.

Nothing is kept in the process: a restarted bot (new objects, same Redis) finds its
positions, cash and order records, and the chokepoint refuses any order it
already executed. Submitting is retried by the runtime's :class:`RetryPolicy`
across a failover; that is safe because the script is atomic and keyed by the
client order id (a retry whose first attempt was applied finds its own fill).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from ...keys import Keys
from ...runtime.once import NotReplicated
from ...runtime.redis_client import RetryPolicy
from ...runtime.releases import release
from .chokepoint import (
    FILLS_MAXLEN,
    FLAT,
    PRUNE_BATCH,
    RATE_WINDOW_SECONDS,
    SUBMIT,
    PaperConfig,
    Protections,
)
from .orders import ExecResult, Fill, OrderIntent


class Execution(Protocol):
    """What the bots trade through: the paper exchange or a live one, one interface."""

    account: str

    def open(self) -> None: ...

    def state(self) -> AccountState: ...

    def submit(
        self,
        intent: OrderIntent,
        epoch: int,
        mark_price: float,
        now: float,
        *,
        reservation: str | None = None,
        deadline: float | None = None,
    ) -> ExecResult: ...


@dataclass(frozen=True)
class AccountState:
    """Cash and signed positions (flat symbols are absent), as Redis holds them now."""

    cash_usd: float
    positions: Mapping[str, float]
    peak_equity_usd: float | None


def read_account(client: redis.Redis, retry: RetryPolicy, keys: Keys, account: str) -> AccountState:
    """The account's cash, positions and peak as Redis holds them (paper or live).

    Raises LookupError when the account has no cash yet (never opened or polled).
    """

    def read() -> list[Any]:
        pipe = client.pipeline(transaction=True)
        pipe.hgetall(keys.account(account))
        pipe.hgetall(keys.positions(account))
        return list(pipe.execute())

    fields, positions = retry.run(read, f"read account {account}")
    if "cash" not in fields:
        raise LookupError(f"account {account!r} is not open")
    peak = fields.get("peak_equity")
    return AccountState(
        cash_usd=float(fields["cash"]),
        positions={str(s): float(q) for s, q in positions.items() if abs(float(q)) > FLAT},
        peak_equity_usd=float(peak) if peak is not None else None,
    )


class PaperExchange:
    """One paper account: ``open``, ``submit``, ``state``."""

    def __init__(
        self,
        client: redis.Redis,
        retry: RetryPolicy,
        keys: Keys,
        account: str,
        *,
        config: PaperConfig,
        protections: Protections,
        replicas: int = 0,
        replica_timeout_ms: int = 500,
    ) -> None:
        self._client = client
        self._retry = retry
        self._keys = keys
        self.account = account
        self.config = config
        self.protections = protections
        self._replicas = replicas
        self._replica_timeout_ms = replica_timeout_ms

    def open(self) -> None:
        """Create the account with its initial cash unless it exists (restart-safe: HSETNX)."""
        key = self._keys.account(self.account)
        cash = repr(self.config.initial_cash_usd)

        def create() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.hsetnx(key, "cash", cash)
            pipe.hsetnx(key, "initial_cash", cash)
            pipe.execute()

        self._retry.run(create, f"open account {self.account}")

    def state(self) -> AccountState:
        return read_account(self._client, self._retry, self._keys, self.account)

    def submit(
        self,
        intent: OrderIntent,
        epoch: int,
        mark_price: float,
        now: float,
        *,
        reservation: str | None = None,
        deadline: float | None = None,
    ) -> ExecResult:
        """Execute ``intent`` at ``mark_price`` if ``epoch`` is current (``now``: epoch s).

        ``reservation`` names the permit's reservation (the proposal id) of an entry: the
        entry runs only while it holds, and the answer ends it. ``deadline`` (the lease's
        end) matters to an exchange reached over a network; the paper exchange fills
        inside Redis, where the epoch check is the whole fence.
        """
        if intent.account != self.account:
            raise ValueError(f"intent for account {intent.account!r} sent to {self.account!r}")
        a, p = self._keys, self.protections
        keys = [
            a.fence(self.account),
            a.orders(self.account),
            a.positions(self.account),
            a.account(self.account),
            a.fills(self.account),
            a.order_rate(self.account),
            a.halted,
            a.marks(self.account),
            a.order_index(self.account),
            a.reservations,
            a.snapshot(intent.symbol),
            a.snapshot_index,
            a.portfolio_state,
            a.reservation_grants,
            a.reservation_releases,
        ]
        args: list[str | int] = [
            epoch,
            intent.client_order_id,
            intent.symbol,
            intent.side,
            repr(float(intent.qty)),
            repr(float(mark_price)),
            repr(self.config.fee_bps),
            repr(self.config.slippage_bps),
            p.max_open_positions,
            repr(float(p.max_order_notional_usd)),
            p.max_orders_per_minute,
            repr(float(now)),
            "1" if p.halted else "0",
            intent.bot,
            intent.intent_id,
            FILLS_MAXLEN,
            repr(FLAT),
            RATE_WINDOW_SECONDS,
            self.config.order_ttl_seconds,
            repr(self.config.max_leverage),
            PRUNE_BATCH,
            reservation or "",
            self.account,
            a.snapshot(""),
        ]
        attempts = 0

        def attempt() -> list[Any]:
            nonlocal attempts
            attempts += 1
            pipe = self._client.pipeline(transaction=False)
            # EVAL, not EVALSHA: after a failover the new master lacks the script cache.
            pipe.eval(SUBMIT, len(keys), *keys, *args)
            if self._replicas:
                pipe.execute_command("WAIT", self._replicas, self._replica_timeout_ms)
            replies = list(pipe.execute())
            if self._replicas and int(replies[1]) < self._replicas:
                raise NotReplicated(f"order {intent.client_order_id} not on enough replicas")
            reply: list[Any] = replies[0]
            return reply

        status, payload = self._retry.run(attempt, f"submit {intent.client_order_id}")
        result = _result(str(status), str(payload), epoch, retried=attempts > 1)
        return release_on_refusal(self._client, self._retry, self._keys, result, reservation)


def release_on_refusal(
    client: redis.Redis,
    retry: RetryPolicy,
    keys: Keys,
    result: ExecResult,
    reservation: str | None,
) -> ExecResult:
    """``result``, once the permit's ``reservation`` (a proposal id) is ended if the order
    was refused: a refusal adds no exposure, so the gate stops counting the permit's."""
    if result.status == "rejected" and reservation:
        release(client, retry, keys, reservation)
    return result


def _result(status: str, payload: str, epoch: int, *, retried: bool) -> ExecResult:
    if status == "filled":
        return ExecResult("filled", fill=Fill.from_json(payload))
    if status == "duplicate":
        fill = Fill.from_json(payload)
        if retried and fill.epoch == epoch:
            # Our own earlier attempt was applied and its reply lost: this is our fill.
            return ExecResult("filled", fill=fill, recovered=True)
        return ExecResult("duplicate", reason="client order id already executed", fill=fill)
    if status == "stale_epoch":
        return ExecResult("stale_epoch", reason=f"current epoch is {payload}")
    return ExecResult("rejected", reason=payload)
