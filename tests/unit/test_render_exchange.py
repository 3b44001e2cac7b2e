"""A bot's exchange, rendered: TS_EXCHANGE without the key, the key by Secret reference, and
``up``'s local stand-in for that Secret (the person's own environment)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.unit.render_corpus import DATA, load, one

from tradingstack_operator.render import render
from tradingstack_workers.bots.execution.venue_config import VenueConfig
from tradingstack_workers.up.plan import PlanError, Redis, local_env

LIVE = DATA / "specs" / "valid" / "live-exchange.yaml"
SINGLE = Redis("redis://127.0.0.1:6400/0", (), Path("/nonexistent/password"))


def bot_env(name: str) -> list[dict[str, Any]]:
    deployment = one(render(load(LIVE)), "Deployment", name)
    env: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return env


def values(env: list[dict[str, Any]]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in env if "value" in e}


def test_the_exchange_reaches_the_bot_without_its_key() -> None:
    env = bot_env("live-exchange-bot-crypto")
    plain = values(env)
    assert plain["TS_MODE"] == "live"
    assert json.loads(plain["TS_EXCHANGE"]) == {
        "id": "binance",
        "marketType": "futures",
        "sandbox": False,
        "apiUrl": "https://api.example.net",
        "pollSeconds": 30,
        "driftToleranceUsd": 2.5,
        "sendWindowSeconds": 3,
        "openOrderTimeoutSeconds": 60,
    }
    venue = VenueConfig.model_validate_json(plain["TS_EXCHANGE"])  # what the bot reads
    assert (venue.market_type, venue.send_window_seconds) == ("futures", 3.0)
    assert venue.open_order_timeout_seconds == 60.0
    assert json.loads(plain["TS_FEED"]) == {"kind": "exchange", "interval_s": 60}
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in env
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert refs == {
        "TS_EXCHANGE_API_KEY": {"name": "binance-trading-key", "key": "apiKey"},
        "TS_EXCHANGE_SECRET": {"name": "binance-trading-key", "key": "secret"},
        "TS_EXCHANGE_PASSWORD": {
            "name": "binance-trading-key",
            "key": "password",
            "optional": True,
        },
    }


def test_the_operator_never_writes_the_exchange_secret() -> None:
    manifests = render(load(LIVE))
    assert not [
        m for m in manifests if m["kind"] == "Secret" and "trading-key" in m["metadata"]["name"]
    ]


def test_up_takes_the_key_from_its_own_environment() -> None:
    env = bot_env("live-exchange-bot-spot")
    local = local_env(env, instance="i", redis=SINGLE, http_port=1,
                      environ={"TS_EXCHANGE_API_KEY": "k", "TS_EXCHANGE_SECRET": "s"})  # fmt: skip
    assert (local["TS_EXCHANGE_API_KEY"], local["TS_EXCHANGE_SECRET"]) == ("k", "s")
    assert "TS_EXCHANGE_PASSWORD" not in local  # optional, not exported
    with pytest.raises(
        PlanError, match="TS_EXCHANGE_SECRET: key secret of Secret kraken-trading-key"
    ):
        local_env(
            env, instance="i", redis=SINGLE, http_port=1, environ={"TS_EXCHANGE_API_KEY": "k"}
        )
