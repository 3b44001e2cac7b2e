"""The one error a wire format raises: which field broke its contract, and how."""

from __future__ import annotations

from enum import StrEnum


class Fault(StrEnum):
    """What kind of problem a field has (a metric label: a short, closed set)."""

    MISSING = "missing"
    NOT_UTF8 = "not_utf8"
    NOT_A_NUMBER = "not_a_number"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    BAD_FORMAT = "bad_format"
    #: A timestamp in milliseconds (or finer, or coarser) where epoch seconds are expected.
    WRONG_UNIT = "wrong_unit"
    IN_FUTURE = "in_future"
    #: Fields that disagree with each other (notional_usd is not qty * price).
    INCONSISTENT = "inconsistent"


class BadEntry(ValueError):
    """A stream entry or hash that breaks its contract.

    ``field`` names the culprit, ``fault`` says what kind of problem it is; the message
    is ``<field>: <problem>``.
    """

    def __init__(self, field: str, problem: str, fault: Fault = Fault.BAD_FORMAT) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.fault = fault
