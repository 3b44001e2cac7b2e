"""ccxt with the bot's one exchange (lean_ccxt.py, issue #18): what it drops from ccxt's
``__init__.py``, and in a fresh interpreter what it loads and what it refuses."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.harness.fake_binance import FakeBinance, Reply
from tests.harness.live_venue import API_KEY, PRICES, SECRET

from tradingstack_workers.bots.execution.lean_ccxt import without_exchanges

ROOT = Path(__file__).resolve().parents[2]

#: Run in a fresh interpreter after the test's program: what is loaded, as JSON.
REPORT = """
import json
ccxt = sys.modules["ccxt"]
exchanges = sorted(
    m.split(".")[1] for m in sys.modules
    if m.count(".") == 1 and m.startswith("ccxt.") and m.split(".")[1] in ccxt.exchanges
)
print(json.dumps({"exchanges": exchanges, "result": result}))
"""


def fresh(program: str) -> dict[str, object]:
    """Run ``program`` (which sets ``result``) then :data:`REPORT` in a new interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys\n" + program + REPORT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return report


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    exchange = FakeBinance(API_KEY, SECRET, prices=dict(PRICES), balances={}).start()
    yield exchange
    exchange.stop()


def installed_init() -> tuple[str, str]:
    spec = importlib.util.find_spec("ccxt")
    assert spec is not None
    assert spec.origin is not None
    return Path(spec.origin).read_text(encoding="utf-8"), spec.origin


def test_the_installed_ccxt_init_has_the_shape_it_relies_on() -> None:
    source, origin = installed_init()
    code = without_exchanges(source, origin)
    assert code is not None
    # Every name __init__.py binds stays, but for the exchange classes.
    assert {"Exchange", "errors", "exchanges", "DDoSProtection", "NotSupported"} <= set(
        code.co_names
    )
    assert "kraken" not in code.co_names


INIT = """
from ccxt.base.exchange import Exchange
from ccxt.alpha import alpha
from ccxt.beta import beta
exchanges = ['alpha', 'beta']
"""


@pytest.mark.parametrize(
    "source",
    [
        INIT.replace("exchanges = ['alpha', 'beta']", ""),  # no list of exchanges
        INIT.replace("from ccxt.beta import beta\n", ""),  # a listed exchange not imported
        INIT.replace("import beta", "import beta as gamma"),  # bound under another name
        INIT.replace("['alpha', 'beta']", "tuple(['alpha', 'beta'])"),  # not a plain list
        INIT.replace("'beta']", "'beta', name]"),  # not only names
    ],
)
def test_an_init_of_another_shape_is_not_rewritten(source: str) -> None:
    assert without_exchanges(source, "__init__.py") is None


def test_the_lean_package_gives_a_working_client_and_no_other_exchange(
    fake: FakeBinance,
) -> None:
    fake.script("GET /api/v3/ticker/24hr", Reply(429, -1003, "Too many requests", retry_after=1))
    report = fresh(f"""
from tradingstack_workers.bots.execution.lean_ccxt import exchange_class
exchange_class("binance")  # as the bot worker does, before anything imports ccxt
import ccxt
from tradingstack_workers.bots.execution.venue import connect
from tradingstack_workers.bots.execution.venue_config import VenueConfig
client = connect(VenueConfig.model_validate(
    {{"id": "binance", "sandbox": False, "apiUrl": {fake.url!r}}}), None)
try:
    client.fetch_ticker("BTC/USDT")
    first = "answered"
except ccxt.DDoSProtection as exc:
    first = type(exc).__name__
result = {{
    "first": first,
    "last": client.fetch_ticker("BTC/USDT")["last"],
    "class": type(client).__module__,
    "bound": ccxt.binance is type(client),
    "others_bound": "kraken" in vars(ccxt),
}}
""")
    assert report["exchanges"] == ["binance"]
    assert report["result"] == {
        "first": "DDoSProtection",
        "last": PRICES["BTCUSDT"],
        "class": "ccxt.binance",
        "bound": True,
        "others_bound": False,
    }


def test_a_derived_exchange_loads_its_parent_and_binds_both_classes() -> None:
    report = fresh("""
from tradingstack_workers.bots.execution.lean_ccxt import exchange_class
cls = exchange_class("binanceusdm")
import ccxt
result = [cls is ccxt.binanceusdm, isinstance(ccxt.binance, type), cls.__mro__[1].__name__]
""")
    assert report == {"exchanges": ["binance", "binanceusdm"], "result": [True, True, "binance"]}


def test_another_exchange_read_off_the_package_is_loaded_then() -> None:
    report = fresh("""
from tradingstack_workers.bots.execution.lean_ccxt import exchange_class
exchange_class("binance")
import ccxt
before = "ccxt.kraken" in sys.modules
result = [before, ccxt.kraken.__module__, getattr(ccxt, "nosuchx", None)]
""")
    assert report == {"exchanges": ["binance", "kraken"], "result": [False, "ccxt.kraken", None]}


@pytest.mark.parametrize("exchange_id", ["nosuchx", "base", "abstract", "static_dependencies"])
def test_an_id_ccxt_does_not_list_is_named_and_nothing_more_is_imported(exchange_id: str) -> None:
    report = fresh(f"""
from tradingstack_workers.bots.execution.lean_ccxt import exchange_class
from tradingstack_workers.bots.execution.venue_config import VenueError
try:
    exchange_class({exchange_id!r})
    result = "loaded"
except VenueError as exc:
    result = str(exc)
""")
    assert report == {
        "exchanges": [],
        "result": f"exchange.id: {exchange_id!r} is not an exchange ccxt knows",
    }


def test_a_ccxt_imported_whole_before_is_used_as_it_is() -> None:
    report = fresh("""
import ccxt
from tradingstack_workers.bots.execution.lean_ccxt import exchange_class
result = exchange_class("kraken") is ccxt.kraken
""")
    assert report["result"] is True
    assert len(report["exchanges"]) > 100  # type: ignore[arg-type]


def test_an_init_it_cannot_rewrite_imports_ccxt_whole_with_a_warning() -> None:
    report = fresh("""
import logging
warnings = []
class Keep(logging.Handler):
    def emit(self, record): warnings.append(record.getMessage())
logging.getLogger().addHandler(Keep(logging.WARNING))
from tradingstack_workers.bots.execution import lean_ccxt
lean_ccxt.without_exchanges = lambda source, filename: None
result = [lean_ccxt.exchange_class("binance").__module__, warnings]
""")
    assert report["result"] == [
        "ccxt.binance",
        ["ccxt's __init__.py has no source or another shape: importing every exchange"],
    ]
    assert len(report["exchanges"]) > 100  # type: ignore[arg-type]
