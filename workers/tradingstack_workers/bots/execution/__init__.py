"""Execution: the paper exchange, its fenced chokepoint, and the ledger it feeds."""

from .chokepoint import PaperConfig, Protections
from .exchange import AccountState, Execution, PaperExchange
from .ledger import Ledger, LedgerWrite
from .orders import ExecResult, Fill, OrderIntent, client_order_id

__all__ = [
    "AccountState",
    "ExecResult",
    "Execution",
    "Fill",
    "Ledger",
    "LedgerWrite",
    "OrderIntent",
    "PaperConfig",
    "PaperExchange",
    "Protections",
    "client_order_id",
]
