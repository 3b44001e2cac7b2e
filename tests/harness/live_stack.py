"""The example stack turned live on the fake Binance: its manifest and its market.

``examples/paper.yaml`` as a person would turn it live: ``mode: live`` and its bots
replaced by one bot (two replicas, active-standby) whose ``exchange`` names binance with
its ``apiUrl`` on the fake (loopback) and a ``credentialsSecret``. The fake's market is
our synthetic path in 1-second candles, so the bot's strategy has an hour of history at
once and trades within a minute. Used by tests/integration/test_up_live.py and
bench.memory_live.
"""

from __future__ import annotations

import time
from typing import Any

from tests.harness.fake_binance import FakeBinance
from tests.harness.processes import ROOT
from tradingstack_operator.manifests import load_manifest
from tradingstack_workers.bots.marketdata import SyntheticFeed
from tradingstack_workers.bots.marketdata.config import SyntheticSpec

SYMBOLS = ("BTCUSDT", "ETHUSDT")
EXAMPLE = ROOT / "examples" / "paper.yaml"


def live_example(url: str) -> dict[str, Any]:
    """The example stack, turned live with one bot on the exchange at ``url``."""
    manifest = load_manifest(EXAMPLE)
    manifest["metadata"]["name"] = "livefake"
    spec = manifest["spec"]
    spec["mode"] = "live"
    spec["bots"] = [
        {
            "name": "crypto",
            "strategy": "bollinger_bounce",
            "symbols": list(SYMBOLS),
            "params": {"period": 20, "k": 1.0},
            "replicas": 2,
            "feed": {"intervalSeconds": 1},
            "exchange": {
                "id": "binance",
                "sandbox": False,
                "apiUrl": url,
                "credentialsSecret": {"name": "binance-trading-key"},
                "pollSeconds": 2,
                "driftToleranceUsd": 50,
            },
        }
    ]
    return manifest


def synthetic_fake(api_key: str, secret: str) -> FakeBinance:
    """A started fake Binance whose candles are the synthetic path of :data:`SYMBOLS`."""
    market = SyntheticFeed(
        SyntheticSpec(
            kind="synthetic", seed=7, interval_s=1, origin_ts=time.time() - 3600, symbols=SYMBOLS
        )
    )
    return FakeBinance(
        api_key, secret, prices={s: 1.0 for s in SYMBOLS}, balances={"USDT": 100_000.0},
        market=market,
    ).start()  # fmt: skip
