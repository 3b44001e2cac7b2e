"""One status condition as the reconciler computes it: metav1.Condition's type, status,
reason and message (the times and generation are :mod:`.status`'s to stamp)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_STATUS = {"True": True, "False": False}


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool | None  # None: Unknown
    reason: str
    message: str

    @classmethod
    def written(cls, cond: Mapping[str, Any]) -> Condition:
        """A condition as a status holds it (``status``: "True", "False" or "Unknown")."""
        return cls(cond["type"], _STATUS.get(cond["status"]), cond["reason"], cond["message"])

    @property
    def status_text(self) -> str:
        """The status as written: "True", "False" or "Unknown"."""
        return "Unknown" if self.status is None else str(self.status)
