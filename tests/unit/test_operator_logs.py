"""The operator's log lines are JSON and keep every extra= field (kopf's text lost them)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from tradingstack_operator.main import configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restored_logging")
def test_extra_fields_reach_the_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    logging.getLogger("tradingstack_operator.reconcile").info(
        "applying", extra={"child": "apps/v1/Deployment/x", "why": [".spec.replicas"]}
    )
    (line,) = [json.loads(raw) for raw in capsys.readouterr().err.splitlines() if raw.strip()]
    assert line["message"] == "applying"
    assert line["child"] == "apps/v1/Deployment/x"
    assert line["why"] == [".spec.replicas"]
    assert line["severity"] == "info"
