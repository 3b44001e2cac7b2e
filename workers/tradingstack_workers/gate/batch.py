"""What a batch of verdicts adds up to: the counts its metrics take and its one log line.

Pure: no Redis, no clock, no logging. The permits and audit entries in Redis are the
record of every decision; the log says per batch what was decided (counts by outcome,
K source and fallback), the figures of its last decision in seed 001's words (the
runbook greps ``K=0.748 (cluster)``), and, per decision, only the refusals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..wire.proposal import Proposal
from .decide import Verdict


@dataclass(frozen=True)
class Tally:
    """Counts of a batch's verdicts, and its last verdict."""

    proposals: int
    #: By (granted, reason): (True, "ok"), (False, "heat_limit"), ...
    outcomes: Counter[tuple[bool, str]]
    k_sources: Counter[str]
    k_fallbacks: Counter[str]
    last: Verdict

    @classmethod
    def of(cls, verdicts: Sequence[Verdict]) -> Tally:
        """The tally of ``verdicts`` (at least one)."""
        return cls(
            len(verdicts),
            Counter((v.permit, v.reason) for v in verdicts),
            Counter(v.k_source for v in verdicts),
            Counter(v.k_fallback for v in verdicts if v.k_fallback is not None),
            verdicts[-1],
        )

    @property
    def granted(self) -> int:
        return sum(n for (granted, _), n in self.outcomes.items() if granted)

    def denied(self) -> dict[str, int]:
        return {reason: n for (granted, reason), n in self.outcomes.items() if not granted}


def figures_message(verdict: Verdict) -> str:
    """Seed 001's line: ``heat=1.000, conc=1.000, corr_proxy=1.000, K=0.748 (cluster),
    stress=0.962``."""
    return (
        f"heat={verdict.heat:.3f}, conc={verdict.conc:.3f}, "
        f"corr_proxy={verdict.corr_proxy:.3f}, K={verdict.k:.3f} ({verdict.k_source}), "
        f"stress={verdict.stress:.3f}"
    )


def batch_line(
    decided: Sequence[tuple[str, Proposal, Verdict]],
    tally: Tally,
    *,
    repeated: int,
    seconds: float,
) -> tuple[str, dict[str, Any]]:
    """The batch's log message and fields. ``decided``: (entry id, proposal, verdict) in
    order; ``repeated``: proposals decided before (a redelivery: the first decision
    stands); ``seconds``: from the batch's read to its decisions written."""
    last_entry, last_proposal, last = decided[-1]
    refused = [
        {"proposal_id": p.proposal_id, "symbol": p.symbol, "side": p.side,
         "reason": v.reason, "entry": entry}
        for entry, p, v in decided
        if not v.permit
    ]  # fmt: skip
    fields: dict[str, Any] = {
        "event": "decisions",
        "proposals": tally.proposals,
        "granted": tally.granted,
        "denied": tally.denied(),
        "repeated": repeated,
        "k_source": dict(tally.k_sources),
        "k_fallback": dict(tally.k_fallbacks),
        "refused": refused,
        "first_entry": decided[0][0],
        "last": {
            "proposal_id": last_proposal.proposal_id,
            "symbol": last_proposal.symbol,
            "side": last_proposal.side,
            "granted": last.permit,
            "reason": last.reason,
            "heat": round(last.heat, 6),
            "conc": round(last.conc, 6),
            "corr_proxy": round(last.corr_proxy, 6),
            "k": round(last.k, 6),
            "k_source": last.k_source,
            "k_fallback": last.k_fallback,
            "stress": round(last.stress, 6),
            "entry": last_entry,
        },
        "seconds": round(seconds, 6),
    }
    return figures_message(last), fields
