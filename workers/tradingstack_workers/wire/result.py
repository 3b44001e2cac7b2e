"""The execution-result entry: what bots write to the result stream and intel reads.

Defined once; the bots import :class:`ExecutionResult` to write entries
(``to_fields``), intel parses them (``from_fields``). A decision outside the four
of the contract is read as ``UNKNOWN`` (keeping what was written in
``raw_decision``), so a broken writer shows up as a data-quality problem in the
counts instead of vanishing; writing ``UNKNOWN`` is refused. A reason outside the
plain alphabet (``leverage ratio exceeded``, ``héat_limit``, 129 characters) is
sanitised, not fatal: every other character becomes ``_`` and it is cut to 128, the
written one kept in ``raw_reason``; dead-lettering the whole result would drop its
decision and bias the distribution (review D12). Anything else that breaks the
contract raises :class:`BadEntry` naming the field, and the entry is dead-lettered.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final, Literal, NamedTuple

from .errors import BadEntry

Decision = Literal["EXECUTE", "SKIP", "BLOCKED", "ERROR", "UNKNOWN"]
#: What a writer may send, in report order.
DECISIONS: Final = ("EXECUTE", "SKIP", "BLOCKED", "ERROR")
UNKNOWN: Final = "UNKNOWN"
#: Every decision a reader counts, in report order.
COUNTED: Final = (*DECISIONS, UNKNOWN)
#: The reason recorded when a decision that is not EXECUTE came without one (UNKNOWN only).
NO_REASON: Final = "none"

#: Reasons and symbols become hash fields and key parts: keep them plain.
_REASON = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9_.:/-]")
_REASON_MAX = 128
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
_OPTIONAL = ("bot", "strategy", "proposal_id")
#: Symbols and reasons already found plain: a set lookup instead of a regex per entry
#: (a few dozen distinct values in practice; bounded so odd input cannot grow it).
_PLAIN_SYMBOLS: set[str] = set()
_PLAIN_REASONS: set[str] = set()
_PLAIN_MAX = 10_000


def _plain(text: str, pattern: re.Pattern[str], seen: set[str]) -> bool:
    if not pattern.match(text):
        return False
    if len(seen) < _PLAIN_MAX:
        seen.add(text)
    return True


__all__ = ["COUNTED", "DECISIONS", "NO_REASON", "UNKNOWN", "BadEntry", "ExecutionResult"]


_KNOWN: dict[str, Decision] = {d: d for d in DECISIONS}
_KNOWN.update((d.lower(), d) for d in DECISIONS)


def sanitise_reason(reason: str) -> str:
    """Every character outside ``[A-Za-z0-9_.:/-]`` as ``_``, at most 128 characters."""
    return _NOT_PLAIN.sub("_", reason)[:_REASON_MAX]


class ExecutionResult(NamedTuple):
    """What became of one proposal: executed, or which gate or guard stopped it.

    ``reason`` is the gate or guard name (``heat_limit``, ``p33_permit_denied``);
    it is required unless the decision is EXECUTE, where it is optional. A named
    tuple rather than a frozen dataclass: intel builds one per entry, hundreds of
    thousands a second, and a frozen dataclass costs four times as much to build.
    """

    decision: Decision
    reason: str
    symbol: str
    ts: float
    bot: str = ""
    strategy: str = ""
    proposal_id: str = ""
    #: The decision as written, when it was outside the contract (UNKNOWN).
    raw_decision: str = ""
    #: The reason as written, when it had to be sanitised.
    raw_reason: str = ""

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> ExecutionResult:
        """Parse stream fields; :class:`BadEntry` names the first field at fault."""
        raw = fields.get("decision") or ""
        decision = _KNOWN.get(raw) or _KNOWN.get(raw.strip().upper(), UNKNOWN)
        symbol = fields.get("symbol") or ""
        if symbol not in _PLAIN_SYMBOLS and not _plain(symbol, _SYMBOL, _PLAIN_SYMBOLS):
            problem = "missing" if not symbol else f"{symbol!r} does not match {_SYMBOL.pattern}"
            raise BadEntry("symbol", problem)
        reason = fields.get("reason") or ""
        raw_reason = ""
        if not reason:
            if decision in ("SKIP", "BLOCKED", "ERROR"):
                raise BadEntry("reason", f"missing (required when decision is {decision})")
            reason = NO_REASON if decision == UNKNOWN else ""
        elif reason not in _PLAIN_REASONS and not _plain(reason, _REASON, _PLAIN_REASONS):
            raw_reason, reason = reason, sanitise_reason(reason)
        ts_text = fields.get("ts") or ""
        try:
            ts = float(ts_text)
        except ValueError:
            raise BadEntry("ts", f"{ts_text!r} is not a number" if ts_text else "missing") from None
        if not math.isfinite(ts) or ts <= 0:
            raise BadEntry("ts", f"{ts_text!r} must be a finite Unix time")
        return cls(
            decision,
            reason,
            symbol,
            ts,
            fields.get("bot") or "",
            fields.get("strategy") or "",
            fields.get("proposal_id") or "",
            raw.strip().upper() if decision == UNKNOWN else "",
            raw_reason,
        )

    def to_fields(self) -> dict[str, str]:
        """Stream fields for XADD; refuses to write a decision outside the contract."""
        if self.decision not in DECISIONS:
            raise BadEntry("decision", f"{self.decision!r} is not one of {', '.join(DECISIONS)}")
        if not self.reason and self.decision != "EXECUTE":
            raise BadEntry("reason", f"missing (required when decision is {self.decision})")
        if self.reason and not _REASON.match(self.reason):  # ours write plain reasons only
            raise BadEntry("reason", f"{self.reason[:40]!r} does not match {_REASON.pattern}")
        fields = {
            "decision": self.decision,
            "reason": self.reason,
            "symbol": self.symbol,
            "ts": repr(self.ts),
        }
        for name in _OPTIONAL:
            value: str = getattr(self, name)
            if value:
                fields[name] = value
        ExecutionResult.from_fields(fields)  # the reader's rules: never write what it rejects
        return fields
