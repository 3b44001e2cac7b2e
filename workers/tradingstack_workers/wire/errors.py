"""The one error a wire format raises: which field broke its contract, and how."""

from __future__ import annotations


class BadEntry(ValueError):
    """A stream entry or hash that breaks its contract; ``field`` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
