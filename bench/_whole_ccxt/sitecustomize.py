"""Loaded by a process started with this folder first on PYTHONPATH: the loopback guard
(tests/harness/loopback_site), then ``import ccxt`` whole, every exchange, as a live bot
loaded it before lean_ccxt.py. bench.memory_live's baseline."""

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
runpy.run_path(str(ROOT / "tests" / "harness" / "loopback_site" / "sitecustomize.py"))

import ccxt  # noqa: E402, F401 - whole, before the bot's lean_ccxt finds it imported
