"""The execution-result entry: what bots write to the result stream and intel reads.

Defined once; the bots import :class:`ExecutionResult` to write entries
(``to_fields``), intel parses them (``parse``). A decision outside the four
of the contract is read as ``UNKNOWN`` (keeping what was written in
``raw_decision``), so a broken writer shows up as a data-quality problem in the
counts instead of vanishing; writing ``UNKNOWN`` is refused. A reason outside the
plain alphabet (``leverage ratio exceeded``, ``héat_limit``, 129 characters) is
sanitised, not fatal: every other character becomes ``_`` and it is cut to 128, the
written one kept in ``raw_reason``; dead-lettering the whole result would drop its
decision and bias the distribution (review D12). Anything else that breaks the
contract (bytes that are not UTF-8 in any field read, the reason's included: they
cannot even be decoded; a timestamp in milliseconds or in the future) raises
:class:`BadEntry` naming the field, and the entry is dead-lettered.

Hand-written rather than a pydantic model: intel parses hundreds of thousands of
entries a second, and this path is measured faster (``bench/intel_throughput.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Final, Literal, NamedTuple

from .errors import BadEntry, Fault
from .fields import (
    EPOCH_MAX_SECONDS,
    EPOCH_MIN_SECONDS,
    MAX_FUTURE_SKEW_SECONDS,
    MAX_TEXT,
    SYMBOL_PATTERN,
    ascii_float,
    check_epoch_seconds,
    is_blank,
    utf8_problem,
)

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
_SYMBOL = re.compile(SYMBOL_PATTERN)
_OPTIONAL = ("bot", "strategy", "proposal_id")
#: The fields a writer repeats from result to result; ``ts`` and ``proposal_id`` vary.
#: Whether they are valid does not depend on the others or on the reader's clock.
REPEATED_FIELDS: Final = ("decision", "reason", "symbol", "bot", "strategy")
#: Symbols and reasons already found plain: a set lookup instead of a regex per entry
#: (a few dozen distinct values in practice; bounded so odd input cannot grow it).
_PLAIN_SYMBOLS: set[str] = set()
_PLAIN_REASONS: set[str] = set()
_PLAIN_MAX = 10_000


def _text(text: str, field: str) -> str:
    """``text`` when it is what UTF-8 bytes decode to (ASCII, the usual case, at once)."""
    if not text.isascii():
        problem = utf8_problem(text)
        if problem is not None:
            raise BadEntry(field, problem, Fault.NOT_UTF8)
    return text


def _optional(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name) or ""
    if is_blank(value):
        return ""
    if value.isascii() and len(value) <= MAX_TEXT:  # the usual case
        return value
    value = _text(value, name)
    if len(value) > MAX_TEXT:
        raise BadEntry(name, f"longer than {MAX_TEXT} characters")
    return value


def _plain(text: str, pattern: re.Pattern[str], seen: set[str]) -> bool:
    if not pattern.fullmatch(text):  # match's "$" passes a final newline
        return False
    if len(seen) < _PLAIN_MAX:
        seen.add(text)
    return True


def _ts(fields: Mapping[str, str], now: float | None) -> float:
    ts_text = fields.get("ts") or ""
    try:
        ts = ascii_float(ts_text)
    except ValueError:
        if is_blank(ts_text):
            raise BadEntry("ts", "missing", Fault.MISSING) from None
        raise BadEntry("ts", f"{ts_text[:40]!r} is not a number", Fault.NOT_A_NUMBER) from None
    return check_epoch_seconds("ts", ts, now)


__all__ = [
    "COUNTED",
    "DECISIONS",
    "NO_REASON",
    "REPEATED_FIELDS",
    "UNKNOWN",
    "BadEntry",
    "ExecutionResult",
]


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
    def parse(cls, fields: Mapping[str, str], now: float | None) -> ExecutionResult:
        """The entry read at ``now`` (epoch seconds); :class:`BadEntry` names the first
        field at fault."""
        raw = fields.get("decision") or ""
        decision = _KNOWN.get(raw) or _KNOWN.get(_text(raw, "decision").strip().upper(), UNKNOWN)
        symbol = fields.get("symbol") or ""
        if symbol not in _PLAIN_SYMBOLS and not _plain(symbol, _SYMBOL, _PLAIN_SYMBOLS):
            if is_blank(symbol):
                raise BadEntry("symbol", "missing", Fault.MISSING)
            _text(symbol, "symbol")
            raise BadEntry("symbol", f"{symbol!r} does not match {_SYMBOL.pattern}")
        reason = fields.get("reason") or ""
        raw_reason = ""
        if is_blank(reason):
            if decision in ("SKIP", "BLOCKED", "ERROR"):
                problem = f"missing (required when decision is {decision})"
                raise BadEntry("reason", problem, Fault.MISSING)
            reason = NO_REASON if decision == UNKNOWN else ""
        elif reason not in _PLAIN_REASONS and not _plain(reason, _REASON, _PLAIN_REASONS):
            raw_reason, reason = _text(reason, "reason"), sanitise_reason(reason)
        ts = _ts(fields, now)
        return cls(
            decision,
            reason,
            symbol,
            ts,
            _optional(fields, "bot"),
            _optional(fields, "strategy"),
            _optional(fields, "proposal_id"),
            raw.strip().upper() if decision == UNKNOWN else "",
            raw_reason,
        )

    @staticmethod
    def check_varying(fields: Mapping[str, str], now: float | None) -> None:
        """What :meth:`parse` checks of the fields that change from entry to entry
        (``ts``, ``proposal_id``), in its order: for a reader that already parsed an
        entry with the same :data:`REPEATED_FIELDS` (those cannot be at fault then)."""
        # The usual case without a call (intel runs this per entry, 10^5 a second): an
        # ASCII number in the epoch-seconds range, not ahead of ``now``, and a short ASCII
        # id. Anything else goes through the checks themselves, for their exact error.
        ts_text = fields.get("ts") or ""
        proposal_id = fields.get("proposal_id") or ""
        if ts_text.isascii() and proposal_id.isascii() and len(proposal_id) <= MAX_TEXT:
            try:
                ts = float(ts_text)
            except ValueError:
                pass
            else:
                if EPOCH_MIN_SECONDS <= ts < EPOCH_MAX_SECONDS and (
                    now is None or ts - now <= MAX_FUTURE_SKEW_SECONDS
                ):
                    return
        _ts(fields, now)
        _optional(fields, "proposal_id")

    @staticmethod
    def varying_usual(batch: Sequence[dict[str, str]], now: float | None) -> bool:
        """True when every entry of ``batch`` has the usual varying fields, so that
        :meth:`check_varying` would pass each; False says only: check them one by one.

        The same usual case as :meth:`check_varying`'s, tested over the whole batch by
        C-level passes (map, join, min, max, sum) instead of a Python call per entry.
        """
        if not batch:
            return True
        stamps = list(map(dict.get, batch, repeat("ts")))
        if None in stamps:
            return False
        texts: list[str] = stamps  # type: ignore[assignment]  # None is ruled out above
        ids: list[str] = list(filter(None, map(dict.get, batch, repeat("proposal_id"))))
        if not ("".join(texts).isascii() and "".join(ids).isascii()):
            return False
        if max(map(len, ids), default=0) > MAX_TEXT:
            return False
        try:
            ts = list(map(float, texts))
        except ValueError:
            return False
        # min and max skip a NaN that is not first; the sum of a batch in range is finite.
        newest = max(ts)
        return (
            math.isfinite(sum(ts))
            and min(ts) >= EPOCH_MIN_SECONDS
            and newest < EPOCH_MAX_SECONDS
            and (now is None or newest - now <= MAX_FUTURE_SKEW_SECONDS)
        )

    def to_fields(self) -> dict[str, str]:
        """Stream fields for XADD; refuses to write a decision outside the contract."""
        if self.decision not in DECISIONS:
            problem = f"{self.decision!r} is not one of {', '.join(DECISIONS)}"
            raise BadEntry("decision", problem)
        if not self.reason and self.decision != "EXECUTE":
            raise BadEntry("reason", f"missing (required when decision is {self.decision})")
        if self.reason and not _REASON.fullmatch(self.reason):  # ours write plain reasons only
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
        # The reader's rules (at the entry's own time): never write what it rejects.
        ExecutionResult.parse(fields, self.ts)
        return fields
