"""The operator's log lines: JSON in the workers' schema, every extra= field kept (kopf's
text format lost them), kopf's object lines naming the object."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import kopf
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
def test_extra_fields_reach_the_json_line_in_the_workers_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging()
    logging.getLogger("tradingstack_operator.reconcile").info(
        "applying", extra={"child": "apps/v1/Deployment/x", "why": [".spec.replicas"]}
    )
    (line,) = [json.loads(raw) for raw in capsys.readouterr().out.splitlines() if raw.strip()]
    assert line["msg"] == "applying"
    assert line["child"] == "apps/v1/Deployment/x"
    assert line["why"] == [".spec.replicas"]
    assert (line["level"], line["logger"], line["kind"]) == (
        "INFO",
        "tradingstack_operator.reconcile",
        "operator",
    )
    assert line["ts"].endswith("Z")


@pytest.mark.usefixtures("restored_logging")
def test_kopfs_object_lines_name_the_object_and_carry_none_of_kopfs_internals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging()
    meta: Any = {"name": "paper", "namespace": "desk", "uid": "u-1"}
    body = kopf.Body({"apiVersion": "tradingstack.io/v1alpha1", "kind": "TradingStack",
                      "metadata": meta})  # fmt: skip
    logger = kopf.ObjectLogger(body=body, settings=kopf.OperatorSettings())
    logger.info("Handler 'reconcile' succeeded.", extra={"attempt": 1})
    (line,) = [json.loads(raw) for raw in capsys.readouterr().out.splitlines() if raw.strip()]
    assert line["msg"] == "Handler 'reconcile' succeeded."
    assert line["object"]["name"] == "paper"
    assert line["object"]["namespace"] == "desk"
    assert line["attempt"] == 1
    assert not {"k8s_ref", "k8s_skip", "settings"} & set(line)
