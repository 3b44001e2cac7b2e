"""Every wire format the workers exchange through Redis, defined once (beside ``keys.py``).

Each stream entry and hash has one class here: the writer builds it and calls
``to_fields``, every reader parses with the same class's ``parse``, so a rule (a
field's range, text that must be UTF-8, a timestamp's unit) is written once
(:mod:`.fields`). Parsing raises :class:`BadEntry` naming the field and its
:class:`Fault`; readers count it and skip (hashes) or dead-letter (streams) it.

===========================  ==========================  ===============  =================
key (``keys.Keys``)          class                       writer           readers
===========================  ==========================  ===============  =================
``snapshot(SYMBOL)``         :class:`PositionSnapshot`   bots (fills,     clusters, gate,
                                                         ledger)          governor
``snapshot_index`` (set)     its symbols (SADD)          every snapshot   clusters, gate,
                                                         writer           governor
``portfolio_state``          :class:`PortfolioStateHash` bots (ledger)    gate, governor,
                                                                          ``up``'s view
``market_state(SYMBOL)``     :class:`MarketStateHash`    bots (ledger)    governor
``cluster_state``            :class:`ClusterStateHash`   clusters         gate, governor,
                                                                          ``up``'s view
``cluster_state_stream``     :func:`audit_fields`        clusters         (audit)
``portfolio_heat``           :class:`HeatHash`           gate             governor
``proposal_stream``          :class:`Proposal`           bots             gate (group)
``permit(ID)``               :class:`Permit`             gate             bots
``budget(SYMBOL)``           :class:`Budget`             governor         bots
``result_stream``            :class:`ExecutionResult`    bots             intel (group),
                                                                          ``up``'s view
``dead_letter(STREAM)``      :mod:`.dead_letter`         stream readers   (operators)
``exchange_drift_stream(A)`` :class:`DriftAlert`         bots (poller)    operators, tests
``reservations`` (field)     :class:`Reservation`        gate             gate, bots
===========================  ==========================  ===============  =================

``snapshot`` and ``portfolio_state`` hold the stack's whole book: each bot account
writes its part in fields of its own and the sum in the fields above, in one script
(``runtime.book``); readers ignore the parts.

A worker's private state (the paper account, the clusters' price history, intel's
buckets) stays with that worker. No worker imports another worker's package: what
two workers share lives here.
"""

from .budget import Budget
from .cluster import ClusterStateHash, audit_fields
from .drift import DriftAlert
from .errors import BadEntry, Fault
from .fields import (
    EPOCH_MAX_SECONDS,
    EPOCH_MIN_SECONDS,
    MAX_FUTURE_SKEW_SECONDS,
    check_epoch_seconds,
    epoch_seconds_problem,
    is_symbol,
)
from .heat import HeatHash
from .ledger import (
    VOL_REGIMES,
    MarketStateHash,
    PortfolioStateHash,
    PositionSnapshot,
    VolRegime,
)
from .proposal import KSource, Permit, Proposal, Side
from .reservation import Reservation
from .result import COUNTED, DECISIONS, NO_REASON, UNKNOWN, Decision, ExecutionResult

__all__ = [
    "COUNTED",
    "DECISIONS",
    "EPOCH_MAX_SECONDS",
    "EPOCH_MIN_SECONDS",
    "MAX_FUTURE_SKEW_SECONDS",
    "NO_REASON",
    "UNKNOWN",
    "VOL_REGIMES",
    "BadEntry",
    "Budget",
    "ClusterStateHash",
    "Decision",
    "DriftAlert",
    "ExecutionResult",
    "Fault",
    "HeatHash",
    "KSource",
    "MarketStateHash",
    "Permit",
    "PortfolioStateHash",
    "PositionSnapshot",
    "Proposal",
    "Reservation",
    "Side",
    "VolRegime",
    "audit_fields",
    "check_epoch_seconds",
    "epoch_seconds_problem",
    "is_symbol",
]
