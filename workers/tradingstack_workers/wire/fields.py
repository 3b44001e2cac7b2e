"""Field rules every wire format shares, written once: text, numbers, epoch timestamps.

Every value travels as Redis text. The models in this package declare their fields
with the types below and are parsed with :func:`parse`, which turns pydantic's first
error into one :class:`BadEntry` naming the field (fields are checked in contract
order, so it is the first field at fault).

Timestamps are epoch **seconds** everywhere (:func:`check_epoch_seconds`): a value
before 2000-01-01 or from 5138 on (``1e11``) is in another unit (milliseconds,
microseconds, nanoseconds; or minutes, days), and one further ahead of the reader's
clock than :data:`MAX_FUTURE_SKEW_SECONDS` is wrong (a broken clock, or milliseconds
that happen to be small): trusted, either would keep an input "fresh" for ever.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Hashable, Iterable, Mapping
from functools import cache
from typing import Annotated, Any, Final, Self, TypeVar, cast

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from ..runtime.freshness import FUTURE_SKEW_SECONDS, is_future
from .errors import BadEntry, Fault

#: 2000-01-01T00:00:00Z. Nothing this system reads was written before it.
EPOCH_MIN_SECONDS: Final = 946_684_800.0
#: Year 5138 in seconds, 1973 in milliseconds: at or above, the value is not seconds.
EPOCH_MAX_SECONDS: Final = 1e11
#: Clocks of different hosts disagree by this much at most: the one freshness rule's skew.
MAX_FUTURE_SKEW_SECONDS: Final = FUTURE_SKEW_SECONDS

SYMBOL_PATTERN: Final = r"^[A-Z0-9]{2,30}$"
#: Ids become part of Redis keys (the permit), so keep them plain.
ID_PATTERN: Final = r"^[A-Za-z0-9_.:-]{1,128}$"
#: Free text (a bot's or strategy's name) is bounded: it lands in logs and audit streams.
MAX_TEXT = 256


_SYMBOL = re.compile(SYMBOL_PATTERN)


def is_symbol(text: str) -> bool:
    """True for a plain ticker (``BTCUSDT``): what may become a key suffix or a label.

    ``fullmatch``: with ``match``, the pattern's ``$`` also matches before a final
    newline, so ``"BTCUSDT\n"`` would pass as a symbol of its own (tests/unit/
    test_symbol_scan.py)."""
    return bool(_SYMBOL.fullmatch(text))


def utf8_problem(text: str) -> str | None:
    """Why ``text`` is not what UTF-8 bytes decode to, or None.

    Workers read Redis with ``surrogateescape``, so bytes that are not UTF-8 arrive as
    lone surrogates instead of failing the whole reply; this names them per field.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        return f"bytes that are not UTF-8 (hex {raw[:40].hex()})"
    return None


def is_blank(text: str) -> bool:
    """True for a field that says nothing: empty or only whitespace (any script's).

    Every reader reads it alike: missing where the field is required, empty where it
    is optional (the models by :func:`bad_entry`, the hand-written result parse too).
    """
    return not text.strip()


def ascii_float(text: str) -> float:
    """``text`` as a number, read as every wire format reads one; ValueError otherwise.

    ``float()`` alone also reads other scripts' digits (full-width, Arabic-Indic), which
    the models refuse: a hand-written reader uses this so the two never disagree.
    """
    if not text.isascii():
        raise ValueError(f"{text!r} is not a number")
    return float(text)


def epoch_seconds_problem(ts: float, now: float | None) -> tuple[Fault, str] | None:
    """Why ``ts`` is not an epoch-seconds time a reader at ``now`` may trust, or None.

    ``now`` None checks the unit only (a file read before any clock matters).
    """
    if not math.isfinite(ts):
        return Fault.NOT_FINITE, f"{ts!r} is not finite"
    if ts >= EPOCH_MAX_SECONDS:
        unit = "milliseconds" if ts < 1e14 else "microseconds" if ts < 1e17 else "nanoseconds"
        return Fault.WRONG_UNIT, f"{ts:.0f} looks like {unit}; epoch seconds expected"
    if ts < EPOCH_MIN_SECONDS:
        return Fault.WRONG_UNIT, f"{ts!r} is before 2000-01-01; epoch seconds expected"
    if now is not None and is_future(ts, now):
        return Fault.IN_FUTURE, f"{ts!r} is {ts - now:.0f} s in the future"
    return None


def check_epoch_seconds(field: str, ts: float, now: float | None) -> float:
    """``ts`` when it is a trustworthy epoch-seconds time; :class:`BadEntry` otherwise."""
    # The usual case in two comparisons (hot in intel; NaN fails them and is named below).
    if EPOCH_MIN_SECONDS <= ts < EPOCH_MAX_SECONDS and (now is None or not is_future(ts, now)):
        return ts
    problem = epoch_seconds_problem(ts, now)
    if problem is not None:
        raise BadEntry(field, problem[1], problem[0])
    return ts


def _utf8_text(value: object) -> object:
    if isinstance(value, str):
        problem = utf8_problem(value)
        if problem is not None:
            raise PydanticCustomError(Fault.NOT_UTF8.value, problem)
        return value.strip()
    return value


def _epoch_seconds(value: float, info: ValidationInfo) -> float:
    now = info.context.get("now") if isinstance(info.context, dict) else None
    problem = epoch_seconds_problem(value, now)
    if problem is not None:
        raise PydanticCustomError(problem[0].value, problem[1])
    return value


#: Text of a field: stripped, not empty, bounded, UTF-8.
Text = Annotated[
    str, BeforeValidator(_utf8_text), StringConstraints(min_length=1, max_length=MAX_TEXT)
]
Symbol = Annotated[str, BeforeValidator(_utf8_text), StringConstraints(pattern=SYMBOL_PATTERN)]
Id = Annotated[str, BeforeValidator(_utf8_text), StringConstraints(pattern=ID_PATTERN)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
UnitInterval = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
#: Epoch seconds, checked against the reader's clock (``context={"now": ...}``).
EpochSeconds = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_epoch_seconds)]
#: Whole epoch seconds (a budget's timestamp, a cluster state's updated_ts).
EpochSecondsInt = Annotated[int, AfterValidator(_epoch_seconds)]


#: Config of every wire format (a frozen pydantic dataclass): unknown fields are ignored,
#: since a newer writer may add some.
WIRE = ConfigDict(extra="ignore")


_FAULTS: dict[str, Fault] = {
    "missing": Fault.MISSING,
    "string_too_short": Fault.MISSING,
    "too_short": Fault.MISSING,
    "float_parsing": Fault.NOT_A_NUMBER,
    "float_type": Fault.NOT_A_NUMBER,
    "int_parsing": Fault.NOT_A_NUMBER,
    "int_from_float": Fault.NOT_A_NUMBER,
    "finite_number": Fault.NOT_FINITE,
    "greater_than": Fault.OUT_OF_RANGE,
    "greater_than_equal": Fault.OUT_OF_RANGE,
    "less_than": Fault.OUT_OF_RANGE,
    "less_than_equal": Fault.OUT_OF_RANGE,
    **{fault.value: fault for fault in Fault},
}
_BOUNDS = {
    "greater_than": ("gt", "above"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "below"),
    "less_than_equal": ("le", "at most"),
}


def _problem(item: ErrorDetails) -> str:
    kind, ctx, given = item["type"], item.get("ctx") or {}, item.get("input")
    shown = repr(given)[:80]
    if kind == "missing" and item["msg"] != "Field required":
        return str(item["msg"])  # our own rule's message (a field that needs another)
    if kind in ("missing", "string_too_short", "too_short"):
        return "missing"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_from_float"):
        return f"{shown} is not a number"
    if kind == "finite_number":
        return f"{shown} is not finite"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"{shown} must be {words} {ctx[key]}"
    if kind == "string_pattern_mismatch":
        return f"{shown} does not match {ctx['pattern']}"
    if kind == "string_too_long":
        return f"longer than {ctx['max_length']} characters"
    if kind == "literal_error":
        return f"{shown} is not {ctx['expected']}"
    return str(item["msg"]).removeprefix("Value error, ")


def bad_entry(error: ValidationError) -> BadEntry:
    """The first problem of ``error`` as a :class:`BadEntry` naming its field."""
    item = error.errors(include_url=False)[0]
    loc = item["loc"]
    field = str(loc[0]) if loc else str((item.get("ctx") or {}).get("field", "entry"))
    given = item.get("input")
    if isinstance(given, str) and is_blank(given):
        return BadEntry(field, "missing", Fault.MISSING)
    return BadEntry(field, _problem(item), _FAULTS.get(item["type"], Fault.BAD_FORMAT))


M = TypeVar("M")


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def parse(model: type[M], fields: Mapping[str, Any], now: float | None) -> M:
    """``fields`` as ``model``; :class:`BadEntry` names the first field at fault.

    ``now`` is the reader's clock (epoch seconds) for the timestamps' future check.
    """
    try:
        adapter = _adapter(cast(Hashable, model))
        return cast(M, adapter.validate_python(fields, context={"now": now}))
    except ValidationError as exc:
        raise bad_entry(exc) from None


def text_fields(entry: object, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """A wire dataclass's fields as Redis text, in declaration order (:func:`text_of`)."""
    fields = dataclasses.fields(entry)  # type: ignore[arg-type]
    return text_of((f.name, getattr(entry, f.name)) for f in fields if f.name not in exclude)


def text_of(values: Iterable[tuple[str, object]]) -> dict[str, str]:
    """``(name, value)`` pairs as Redis text, in order: floats by ``repr`` (an exact round
    trip), bools as 1/0, None left out."""
    out: dict[str, str] = {}
    for name, value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "1" if value else "0"
        elif isinstance(value, float):
            out[name] = repr(value)
        else:
            out[name] = str(value)
    return out


class WireFormat:
    """What every wire format offers: ``parse`` (the reader's one function) and
    ``to_fields`` (the writer's text). Mixed into frozen pydantic dataclasses."""

    @classmethod
    def parse(cls, fields: Mapping[str, str], now: float | None) -> Self:
        """``fields`` as read at ``now`` (epoch seconds); :class:`BadEntry` names the
        first field at fault."""
        return parse(cls, fields, now)

    def to_fields(self) -> dict[str, str]:
        return text_fields(self)
