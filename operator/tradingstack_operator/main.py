"""``tradingstack operator``: validate the configuration, then hand over to kopf."""

from __future__ import annotations

import sys

import kopf

from tradingstack_workers.runtime.settings import SettingsError, load_settings

from .config import OperatorConfig


def configure_logging() -> None:
    """kopf's JSON log lines: every ``extra=`` field the reconciler attaches (``child``,
    ``why``, ``error``) is kept, and the object a line is about goes under ``object``.
    (kopf's text format dropped them all.)"""
    kopf.configure(verbose=False, log_format=kopf.LogFormat.JSON, log_refkey="object")


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
