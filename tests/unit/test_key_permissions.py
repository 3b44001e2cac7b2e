"""The key-permission rule without I/O: Binance's apiRestrictions answer, read and judged."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest
from prometheus_client import CollectorRegistry

from tradingstack_workers.bots.execution.key_permissions import (
    binance_permissions,
    check_key,
    concerns,
    refusal,
)
from tradingstack_workers.bots.execution.venue import VenueCalls, VenueMetrics
from tradingstack_workers.bots.execution.venue_config import VenueConfig

#: A trading-only key as Binance describes it (GET /sapi/v1/account/apiRestrictions).
TRADING_ONLY: dict[str, Any] = {
    "ipRestrict": True,
    "createTime": 1623840271000,
    "enableReading": True,
    "enableSpotAndMarginTrading": True,
    "enableFutures": False,
    "enableMargin": False,
    "enableVanillaOptions": False,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "permitsUniversalTransfer": False,
    "tradingAuthorityExpirationTime": 1628985600000,
}


def key(**flags: Any) -> dict[str, Any]:
    return {**TRADING_ONLY, **flags}


def test_a_trading_only_key_trades_spot_with_nothing_to_tighten() -> None:
    permissions = binance_permissions(TRADING_ONLY)
    assert refusal(permissions, "spot") is None
    assert concerns(permissions) == []


def test_withdrawals_refuse_the_key_on_every_market() -> None:
    permissions = binance_permissions(key(enableWithdrawals=True, enableFutures=True))
    for market_type in ("spot", "futures"):
        problem = refusal(permissions, market_type)
        assert problem is not None
        assert problem.startswith("the key can withdraw funds (binance GET /sapi/v1/account/")


@pytest.mark.parametrize(
    ("flags", "market_type"),
    [({"enableFutures": False}, "futures"), ({"enableSpotAndMarginTrading": False}, "spot")],
)
def test_a_key_that_cannot_trade_the_market_is_refused(
    flags: dict[str, Any], market_type: str
) -> None:
    problem = refusal(binance_permissions(key(**flags)), market_type)  # type: ignore[arg-type]
    assert problem is not None
    assert problem.startswith(f"the key may not trade {market_type}")


@pytest.mark.parametrize("flag", ["enableInternalTransfer", "permitsUniversalTransfer"])
def test_transfers_are_a_concern_not_a_refusal(flag: str) -> None:
    permissions = binance_permissions(key(**{flag: True}))
    assert permissions.transfer is True
    assert refusal(permissions, "spot") is None
    assert concerns(permissions) == ["the key can transfer funds between accounts"]


def test_an_answer_that_does_not_say_is_unknown_not_safe() -> None:
    answer = {k: v for k, v in TRADING_ONLY.items() if k != "enableWithdrawals"}
    answer["enableInternalTransfer"] = "no"  # not a boolean: not read as one
    permissions = binance_permissions(answer)
    assert (permissions.withdraw, permissions.transfer) == (None, None)
    assert refusal(permissions, "spot") is None
    assert "the exchange did not say whether the key can withdraw" in concerns(permissions)


def never(_: float) -> bool:
    raise AssertionError("no pause expected")


@pytest.mark.parametrize(
    ("exchange", "sandbox"), [("binance", True), ("kraken", False)], ids=["testnet", "no-probe"]
)
def test_where_permissions_cannot_be_read_the_key_is_not_checked(
    exchange: str, sandbox: bool
) -> None:
    """A testnet (no real funds; Binance's has no sapi) or an exchange without a probe:
    no request is made, and the metric says the permissions are unknown."""
    client = getattr(ccxt, exchange)({"apiKey": "k", "secret": "s"})
    if sandbox:
        client.set_sandbox_mode(True)
    registry = CollectorRegistry()
    calls = VenueCalls(client, VenueMetrics.create(registry), never)
    config = VenueConfig.model_validate({"id": exchange, "sandbox": sandbox})
    assert check_key(calls, config) is None
    assert registry.get_sample_value("tradingstack_exchange_key_permissions_known") == 0
    assert registry.get_sample_value("tradingstack_exchange_request_duration_seconds_count",
                                     {"endpoint": "key_permissions"}) is None  # fmt: skip
