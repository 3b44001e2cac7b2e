"""The chaos tier: `tradingstack up examples/paper.yaml` under a steady proposal load."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A fault's test waits for recovery and for the work in flight to settle: its own limit
    is their sum (the stack's start is the module fixture's)."""
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.timeout(900))
