"""The one error a spec produces: every offending field path with what is wrong there."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel


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


def did_you_mean(root: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """`` (did you mean keyPrefix?)`` for the unknown field at ``loc`` (a pydantic error
    location under ``root``): the field of its model whose wire name is closest, ignoring
    case and underscores (``key_prefix`` is ``keyPrefix``); "" when none is close."""
    model = _model_at(root, loc[:-1])
    if model is None or not isinstance(loc[-1], str):
        return ""
    names = [f.alias or name for name, f in model.model_fields.items()]
    folded = {n.lower().replace("_", ""): n for n in names}
    wanted = loc[-1].lower().replace("_", "")
    close = difflib.get_close_matches(wanted, list(folded), n=1, cutoff=0.75)
    return f" (did you mean {folded[close[0]]}?)" if close else ""


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose fields sit at ``loc`` (list indices and dict keys stepped over)."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        found = _models_in(field.annotation) if field is not None else []
        if len(found) != 1:
            return None
        model = found[0]
    return model


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The models an annotation holds: itself, or inside Optional, list, dict, Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) or typing.get_args(
        annotation
    ):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []
