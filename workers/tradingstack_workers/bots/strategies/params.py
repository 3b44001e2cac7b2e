"""Strategy parameters: frozen pydantic models, errors that name ``params.<field>``.

Parameters arrive from ``TS_PARAMS`` as a JSON object of numbers, so whole-number
parameters (periods) come as floats: ``14.0`` is accepted, ``14.5`` is refused.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails


class ParamsError(ValueError):
    """Bad strategy name or parameters; the message names the parameter and the fix."""


class StrategyParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}
_WHOLE = {"int_from_float", "int_parsing", "int_type"}


def _phrase(item: ErrorDetails) -> str:
    kind, ctx = item["type"], item.get("ctx") or {}
    if kind in _BOUNDS:
        key, op = _BOUNDS[kind]
        bound = ctx[key]
        text = (
            f"must be {op} {bound:g}" if isinstance(bound, int | float) else f"must be {op} {bound}"
        )
    elif kind in _WHOLE:
        text = "must be a whole number"
    elif kind == "finite_number":
        text = "must be a finite number"
    elif kind in {"float_parsing", "float_type"}:
        text = "must be a number"
    else:
        text = item["msg"].removeprefix("Value error, ")
    given: Any = item.get("input")
    return f"{text} (got {given!r})" if isinstance(given, int | float) else text


def describe(error: ValidationError) -> str:
    """Every problem as ``params.<field>: <what it must be> (got <value>)``, joined by ``; ``."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in ("params", *item["loc"]))
        parts.append(f"{where}: {_phrase(item)}")
    return "; ".join(parts)
