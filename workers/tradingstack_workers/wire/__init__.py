"""Every wire format the workers exchange through Redis, defined once (beside ``keys.py``).

Each stream entry and hash has one class here: the writer builds it and calls
``to_fields``, every reader parses with the same class, so a rule (a field's range, a
timestamp's unit) is written once. Parsing raises :class:`BadEntry` naming the field.

===========================  ==========================  ===============  =================
key (``keys.Keys``)          class                       writer           readers
===========================  ==========================  ===============  =================
``snapshot(SYMBOL)``         :class:`PositionSnapshot`   bots (ledger)    clusters, gate,
                                                                          governor
``portfolio_state``          :class:`PortfolioStateHash` bots (ledger)    gate, governor
``market_state(SYMBOL)``     :class:`MarketStateHash`    bots (ledger)    governor
``proposal_stream``          :class:`Proposal`           bots             gate (group)
``permit(ID)``               :class:`Permit`             gate             bots
``budget(SYMBOL)``           :class:`Budget`             governor         bots
``result_stream``            :class:`ExecutionResult`    bots             intel (group)
``exchange_drift_stream(A)`` :class:`DriftAlert`         bots (poller)    operators, tests
===========================  ==========================  ===============  =================

No worker imports another worker's package: what two workers share lives here.
"""

from .budget import Budget
from .drift import DriftAlert
from .errors import BadEntry
from .ledger import VOL_REGIMES, MarketStateHash, PortfolioStateHash, PositionSnapshot
from .proposal import KSource, Permit, Proposal, Side
from .result import COUNTED, DECISIONS, NO_REASON, UNKNOWN, Decision, ExecutionResult

__all__ = [
    "COUNTED",
    "DECISIONS",
    "NO_REASON",
    "UNKNOWN",
    "VOL_REGIMES",
    "BadEntry",
    "Budget",
    "Decision",
    "DriftAlert",
    "ExecutionResult",
    "KSource",
    "MarketStateHash",
    "Permit",
    "PortfolioStateHash",
    "PositionSnapshot",
    "Proposal",
    "Side",
]
