"""The rolling check of known reservations (gate/spot_check.py): how many fields a book
read fetches, that every known field comes round within its period, and what counts as
a difference. Pure: no Redis."""

from __future__ import annotations

from collections.abc import Collection

from hypothesis import given
from hypothesis import strategies as st

from tradingstack_workers.gate.spot_check import UNANSWERED, SpotCheck, differing

PERIOD = 5.0


def read(check: SpotCheck, known: Collection[str], at: float) -> tuple[str, ...]:
    """A book read at ``at``: its fields picked, then compared."""
    picked = check.pick(known, at)
    check.checked(picked, at)
    return picked.fields


def test_each_read_checks_as_many_fields_as_keep_pace_with_the_period() -> None:
    known = {f"p{i}": None for i in range(100)}
    check = SpotCheck(PERIOD, max_per_read=30)
    assert len(read(check, known, 0.0)) == 1  # the first read: at least one
    assert len(read(check, known, 1.0)) == 20  # 100 fields x 1 s / 5 s
    assert len(read(check, known, 1.0)) == 1  # reads close together: one each
    assert len(read(check, known, 1.25)) == 5
    assert len(read(check, known, 100.0)) == 30  # after an idle stretch: the cap
    assert read(check, {}, 101.0) == ()
    small = SpotCheck(PERIOD)
    read(small, {"a": None, "b": None}, 0.0)
    assert sorted(read(small, {"a": None, "b": None}, 60.0)) == ["a", "b"]  # no more than known


def test_fields_come_in_turn_and_those_no_longer_known_are_skipped() -> None:
    known = dict.fromkeys("abcde")
    check = SpotCheck(PERIOD)
    assert [read(check, known, t) for t in (0.0, 1.0, 1.0, 2.0)] == [("a",), ("b",), ("c",), ("d",)]
    del known["e"]  # expired and forgotten
    known["f"] = None  # granted since the turn began: in the next turn
    assert read(check, known, 2.0) == ("a",)
    assert [read(check, known, 2.0) for _ in range(5)] == [("b",), ("c",), ("d",), ("f",), ("a",)]


def test_fields_of_a_read_that_read_no_book_are_picked_again() -> None:
    """A read ahead that found no entries reads no book: the fetch that follows picks
    its fields again, with the time since fields were last compared."""
    known = {f"p{i}": None for i in range(100)}
    check = SpotCheck(PERIOD)
    read(check, known, 0.0)
    ahead = check.pick(known, 1.0)  # sent with a write; no entries, no book
    fetched = check.pick(known, 1.5)
    assert (len(ahead.fields), fetched.fields[: len(ahead.fields)]) == (20, ahead.fields)
    check.checked(fetched, 1.5)
    assert read(check, known, 1.5)[0] == f"p{1 + len(fetched.fields)}"


@given(
    st.integers(1, 300),
    st.lists(st.tuples(st.floats(0.0, 2.0, allow_nan=False), st.booleans()), min_size=1,
             max_size=200),
)  # fmt: skip
def test_every_field_known_throughout_is_checked_within_two_periods_of_reads(
    size: int, steps: list[tuple[float, bool]]
) -> None:
    """However the reads are spaced, and whichever reads ahead read no book: a span of
    book reads covering two periods, and the read that ends it, compared every field
    (the per-read cap not reached: 300 x 2 s / 5 s)."""
    known = dict.fromkeys(f"p{i}" for i in range(size))
    check = SpotCheck(PERIOD)
    reads: list[tuple[float, set[str]]] = []
    at = 0.0
    for step, unread_ahead in steps:
        at += step
        if unread_ahead:
            check.pick(known, at)
        reads.append((at, set(read(check, known, at))))
    for start, (began, _) in enumerate(reads):
        end = next((e for e in range(start, len(reads)) if reads[e][0] - began >= 2 * PERIOD), None)
        if end is not None:
            assert set().union(*(fields for _, fields in reads[start + 1 : end + 1])) == set(known)


def test_a_difference_is_a_value_unlike_the_text_known() -> None:
    known = {"a": ('{"qty":"1.0"}', None), "b": ('{"qty":"2.0"}', None)}
    assert differing(["a", "b"], ['{"qty":"1.0"}', '{"qty":"2.0"}'], known) is None
    assert differing(["a", "b"], ['{"qty":"1.0"}', '{"qty":"5.0"}'], known) == "b"
    assert differing(["a", "b"], [None, '{"qty":"2.0"}'], known) is None  # gone: the length's
    assert differing(["gone"], ['{"qty":"9.0"}'], known) is None  # forgotten since picked
    assert differing([], [], known) is None
    assert differing(["a"], "WRONGTYPE", known) == UNANSWERED  # an error never agrees
    assert differing(["a", "b"], ['{"qty":"1.0"}'], known) == UNANSWERED
