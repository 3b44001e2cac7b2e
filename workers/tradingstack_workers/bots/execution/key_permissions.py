"""What the bot's exchange key may do, read from the exchange before the first order.

A trading bot's key needs one permission: to trade its market. A key that can also
withdraw is refused: the bot sends no order with it, and says why (the key sits in a
Secret and in a pod's environment, where a leak empties the account if the key can
withdraw, and only costs bad trades if it cannot). A key that cannot trade the bot's
market type is refused too (every order would fail). A key that can transfer between
the owner's own accounts is reported (a warning, and the metric) but trades: the funds
stay the owner's, and the account poller reports the balance that moved as drift.

ccxt has no unified call for a key's permissions; where an exchange has an endpoint
that ccxt reaches (:data:`PROBES`: Binance's ``GET /sapi/v1/account/apiRestrictions``)
it is read when the bot opens the exchange. Elsewhere, and on a testnet (no real
funds; Binance's has no ``sapi``), the key is not checked: a warning says so and
``tradingstack_exchange_key_permissions_known`` is 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ccxt

from .venue import VenueCalls
from .venue_config import MarketType, VenueConfig, VenueError

log = logging.getLogger(__name__)


class KeyRefused(VenueError):
    """The key may do what a trading bot's key must not, or cannot trade its market."""


@dataclass(frozen=True)
class KeyPermissions:
    """What a key may do; None where the exchange's answer does not say."""

    #: Where the answer came from: the exchange and its endpoint.
    source: str
    spot: bool | None
    futures: bool | None
    withdraw: bool | None
    #: Move funds between the owner's accounts or wallets (sub-accounts, universal transfer).
    transfer: bool | None
    ip_restricted: bool | None

    def trades(self, market_type: MarketType) -> bool | None:
        return self.spot if market_type == "spot" else self.futures


def _flag(answer: Mapping[str, Any], name: str) -> bool | None:
    value = answer.get(name)
    return value if isinstance(value, bool) else None


def _any(*flags: bool | None) -> bool | None:
    if any(f is True for f in flags):
        return True
    return None if any(f is None for f in flags) else False


def binance_permissions(answer: Mapping[str, Any]) -> KeyPermissions:
    """Binance's ``GET /sapi/v1/account/apiRestrictions`` answer as :class:`KeyPermissions`."""
    return KeyPermissions(
        source="binance GET /sapi/v1/account/apiRestrictions",
        spot=_flag(answer, "enableSpotAndMarginTrading"),
        futures=_flag(answer, "enableFutures"),
        withdraw=_flag(answer, "enableWithdrawals"),
        transfer=_any(
            _flag(answer, "enableInternalTransfer"), _flag(answer, "permitsUniversalTransfer")
        ),
        ip_restricted=_flag(answer, "ipRestrict"),
    )


@dataclass(frozen=True)
class Probe:
    """How to read one exchange's key permissions through ccxt."""

    #: ccxt's implicit API method (called without arguments; signed by ccxt).
    method: str
    parse: Callable[[Mapping[str, Any]], KeyPermissions]


PROBES: dict[str, Probe] = {
    "binance": Probe("sapi_get_account_apirestrictions", binance_permissions),
}


def refusal(permissions: KeyPermissions, market_type: MarketType) -> str | None:
    """Why a bot must not trade with this key, or None. Pure."""
    source = permissions.source
    if permissions.withdraw:
        return (
            f"the key can withdraw funds ({source}: withdrawals enabled); a bot trades only"
            " with a key that has trading permission alone: create one without withdrawals"
            " and put it in the Secret"
        )
    if permissions.trades(market_type) is False:
        return f"the key may not trade {market_type} ({source}); enable {market_type} trading"
    return None


def concerns(permissions: KeyPermissions) -> list[str]:
    """What a person should tighten on a key the bot still trades with. Pure."""
    found = []
    if permissions.withdraw is None:
        found.append("the exchange did not say whether the key can withdraw")
    if permissions.transfer:
        found.append("the key can transfer funds between accounts")
    if permissions.ip_restricted is False:
        found.append("the key is not restricted to the cluster's egress IPs")
    return found


def read_key(calls: VenueCalls, config: VenueConfig) -> KeyPermissions | None:
    """The key's permissions, also set on the gauges; None when they cannot be read here
    (a testnet, or an exchange without a probe). ccxt's errors pass through."""
    probe = PROBES.get(config.id)
    if config.sandbox or probe is None:
        why = "a testnet" if config.sandbox else f"ccxt reaches no such endpoint on {config.id}"
        log.warning(
            "exchange key permissions not checked: make sure the key can trade only",
            extra={"exchange": config.id, "reason": why},
        )
        calls.metrics.key_known.set(0)
        return None
    answer = calls.call("key_permissions", getattr(calls.client, probe.method))
    permissions = probe.parse(answer)
    calls.metrics.key_known.set(1)
    flags = {
        "trade": permissions.trades(config.market_type),
        "withdraw": permissions.withdraw,
        "transfer": permissions.transfer,
    }
    for name, flag in flags.items():
        if flag is not None:  # a permission the answer does not state has no sample
            calls.metrics.key_permission.labels(permission=name).set(1 if flag else 0)
    return permissions


def check_key(calls: VenueCalls, config: VenueConfig) -> KeyPermissions | None:
    """Read the key's permissions (:func:`read_key`) and refuse an unsafe key.

    Raises :class:`KeyRefused` naming ``exchange.credentialsSecret``; ccxt's errors (a
    revoked key, a 5xx) pass through, so the bot's start fails and is tried again.
    """
    permissions = read_key(calls, config)
    if permissions is None:
        return None
    problem = refusal(permissions, config.market_type)
    if problem is not None:
        raise KeyRefused(f"exchange.credentialsSecret: {problem}")
    for concern in concerns(permissions):
        log.warning("exchange key: " + concern, extra={"source": permissions.source})
    return permissions


#: How often a trading bot reads its key's permissions again (seconds).
KEY_RECHECK_SECONDS = 3600.0


class KeyWatch:
    """The key's permissions read again every ``every_s`` while the bot trades.

    A key that gains a permission it must not have is reported (the gauges, hence the
    alert, and an error log), not refused: stopping mid-run would leave positions
    unmanaged, and a leaked key is as dangerous whether the bot trades or not.
    ``started`` is when the start's check ran, on the caller's monotonic clock.
    """

    def __init__(
        self,
        calls: VenueCalls,
        config: VenueConfig,
        started: float,
        every_s: float = KEY_RECHECK_SECONDS,
    ) -> None:
        self._calls = calls
        self._config = config
        self._every = every_s
        self._next = started + every_s

    def tick(self, now: float) -> None:
        """Read the permissions again when due; ccxt's errors are counted, not raised."""
        if now < self._next:
            return
        self._next = now + self._every
        try:
            permissions = read_key(self._calls, self._config)
        except ccxt.BaseError as exc:  # counted by endpoint (VenueCalls); next time again
            log.warning("exchange key: permissions not read", extra={"error": type(exc).__name__})
            return
        problem = None if permissions is None else refusal(permissions, self._config.market_type)
        if problem is not None:
            log.error("exchange key: " + problem + " (found while trading: replace the key)")
