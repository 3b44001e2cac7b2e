"""The one error a spec produces: every offending field path with what is wrong there."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SpecProblem:
    """One problem, at a field path such as ``spec.redis.sentinel.quorum``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecError(ValueError):
    """An invalid TradingStack spec; ``problems`` lists each field and what to change."""

    def __init__(self, problems: Iterable[SpecProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(p.path for p in self.problems)
