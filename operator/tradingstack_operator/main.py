"""``tradingstack operator``: validate the configuration, then hand over to kopf."""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any, TextIO

import kopf

from tradingstack_workers.runtime import logs
from tradingstack_workers.runtime.settings import SettingsError, load_settings

from .config import OperatorConfig


class OperatorJsonFormatter(logs.JsonFormatter):
    """The workers' log schema (``ts``, ``level``, ``logger``, ``msg``, ``kind``,
    ``instance``, every ``extra=`` key) for the operator's lines and kopf's, so one query
    reads the whole product's logs. kopf's own record attributes are no fields; the
    object a line is about goes under ``object`` (kind, name, namespace, uid)."""

    def __init__(self, static: dict[str, str]) -> None:
        super().__init__(static, reserved=KOPF_ATTRS)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        ref = getattr(record, "k8s_ref", None)
        if ref:
            log_data["object"] = ref


#: What kopf's object loggers attach to a record for its own formatters.
KOPF_ATTRS = ("k8s_skip", "k8s_ref", "settings")


def configure_logging(stream: TextIO | None = None) -> None:
    """kopf's levels (asyncio kept quiet), the workers' JSON lines on ``stream`` (stdout): every
    ``extra=`` field the reconciler attaches (``child``, ``why``, ``error``) is kept
    (kopf's text format dropped them all)."""
    kopf.configure(verbose=False)
    static = {"kind": "operator", "instance": socket.gethostname()}
    out = sys.stdout if stream is None else stream
    logs.configure("INFO", static, out, formatter=OperatorJsonFormatter(static))


def run() -> int:
    try:
        config = load_settings(OperatorConfig)
    except SettingsError as exc:
        print(f"tradingstack operator: invalid settings: {exc}", file=sys.stderr)
        return 2
    from .handlers import build_registry  # noqa: PLC0415 - after the settings are known good

    namespaces = config.watched_namespaces
    configure_logging()
    kopf.run(
        registry=build_registry(config),
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=config.standalone,
        priority=config.peering_priority,
        peering_name=config.peering_name,
        liveness_endpoint=f"http://0.0.0.0:{config.health_port}/healthz",
    )
    return 0
