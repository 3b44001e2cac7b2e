"""``tradingstack up`` on the example stack with one live bot on the fake Binance, end to end.

The manifest is ``examples/paper.yaml`` turned live (tests/harness/live_stack.py): one
bot (two replicas, active-standby) on the fake Binance (loopback); Redis with Sentinel
and every worker as in the example. ``up`` takes the key from its own
environment (``TS_EXCHANGE_API_KEY`` / ``TS_EXCHANGE_SECRET``), as a person exports it.
Every process runs under the loopback guard.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import redis
import yaml
from tests.harness.fake_binance import FakeBinance
from tests.harness.live_stack import live_example, synthetic_fake
from tests.harness.live_venue import API_KEY, SECRET
from tests.harness.loopback_guard import SITE
from tests.harness.processes import DEADLINE, ROOT
from tests.harness.redis_procs import wait_for
from tests.harness.up_process import UpProcess

from tradingstack_operator.manifests import Dumper
from tradingstack_workers.keys import Keys
from tradingstack_workers.wire import ExecutionResult, PortfolioStateHash

pytestmark = pytest.mark.integration

KEYS = Keys()


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    exchange = synthetic_fake(API_KEY, SECRET)
    yield exchange
    exchange.stop()


def master(up: UpProcess) -> redis.Redis:
    (info,) = up.of("redis")
    password = (up.data_dir / "redis-password").read_text().strip()
    sentinels = [(h, int(p)) for h, p in (a.split(":") for a in info["sentinels"])]
    sentinel = redis.Sentinel(
        sentinels, sentinel_kwargs={"password": password, "socket_timeout": 1},
        password=password, socket_timeout=1, decode_responses=True,
    )  # fmt: skip
    return cast(redis.Redis, sentinel.master_for("mymaster", socket_timeout=1))


def test_up_trades_live_on_the_fake_exchange(fake: FakeBinance, tmp_path: Path) -> None:
    manifest = tmp_path / "live.yaml"
    manifest.write_text(yaml.dump(live_example(fake.url), Dumper=Dumper), encoding="utf-8")
    environ = {
        "TS_EXCHANGE_API_KEY": API_KEY,
        "TS_EXCHANGE_SECRET": SECRET,
        "PYTHONPATH": f"{SITE}{os.pathsep}{ROOT}",
    }
    up = UpProcess(manifest, tmp_path / "data", ["--env", "bots:TS_CYCLE_SECONDS=0.5"], environ)
    try:
        wait_for(lambda: bool(up.of("all_healthy")), DEADLINE * 2, "every process healthy")
        # clusters, two gates, governor, intel (as in the example) and the bot's two replicas
        assert len(up.ports()) == 7
        wait_for(lambda: len(fake.accepted()) >= 2, DEADLINE * 3, "orders on the exchange")
        client = master(up)

        def executed() -> list[ExecutionResult]:
            entries = cast(list[tuple[str, dict[str, str]]], client.xrange(KEYS.result_stream))
            parsed = [ExecutionResult.parse(f, None) for _, f in entries]
            return [r for r in parsed if r.decision == "EXECUTE"]

        wait_for(lambda: len(executed()) >= 2, DEADLINE, "EXECUTE results")
        account = "livefake-crypto"
        ids = {o.client_order_id for o in fake.accepted()}
        recorded = cast(dict[str, str], client.hgetall(KEYS.orders(account)))
        assert ids <= set(recorded), "every order on the exchange went through the chokepoint"
        assert len(ids) == len(fake.accepted())
        # The poller reconciled the exchange into the ledger the gate and governor read.
        wait_for(lambda: client.exists(KEYS.portfolio_state) == 1, DEADLINE, "portfolio state")
        state = cast(dict[str, str], client.hgetall(KEYS.portfolio_state))
        assert PortfolioStateHash.parse(state, None).equity_usd == pytest.approx(
            100_000.0, rel=0.01
        )
        bot_logs = list((tmp_path / "data").rglob("livefake-bot-crypto-0.log"))
        assert bot_logs, "the bot's log"
        logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "data").rglob("*.log"))
        assert '"decision"' in logs
        assert "loopback guard" not in logs
        assert SECRET not in logs
        assert API_KEY not in logs
    finally:
        up.stop()
