"""The exchange metrics' names (venue.py and poller.py export them), without ccxt:
the operator's alert rules read them, and importing ccxt for a few strings cost the
operator about 65 MiB of resident memory (bench.operator_controlplane)."""

from __future__ import annotations

REQUEST_DURATION = "tradingstack_exchange_request_duration_seconds"
REQUEST_ERRORS = "tradingstack_exchange_request_errors"  # exported as ..._total
BACKOFFS = "tradingstack_exchange_backoffs"  # exported as ..._total
KEY_PERMISSION = "tradingstack_exchange_key_permission"
KEY_PERMISSIONS_KNOWN = "tradingstack_exchange_key_permissions_known"
VENUE = (
    REQUEST_DURATION,
    REQUEST_ERRORS + "_total",
    BACKOFFS + "_total",
    KEY_PERMISSION,
    KEY_PERMISSIONS_KNOWN,
)

DRIFT = "tradingstack_exchange_drift_usd"
DRIFT_EVENTS = "tradingstack_exchange_drift_events"  # exported as ..._total
RECONCILES = "tradingstack_exchange_reconciles"  # exported as ..._total
OPEN_ORDERS = "tradingstack_exchange_open_orders"
POLLER = (DRIFT, DRIFT_EVENTS + "_total", RECONCILES + "_total", OPEN_ORDERS)
