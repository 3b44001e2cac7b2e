"""The gate's batch path without I/O: the book kept across a batch's grants against a walk
of the whole book, the permit's text without its model, the batch's counts, metrics and
log line, reservations parsed once and known between reads."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from tradingstack_workers.gate.batch import Tally, batch_line, figures_message
from tradingstack_workers.gate.book import FLAT, Book
from tradingstack_workers.gate.decide import (
    ClusterState,
    GateLimits,
    PortfolioView,
    Position,
    Verdict,
    correlation_k,
    decide,
)
from tradingstack_workers.gate.known import KnownReservations
from tradingstack_workers.gate.metrics import GateMetrics
from tradingstack_workers.gate.reservations import (
    NOTHING,
    Grants,
    ParsedReservations,
    Reserved,
    add,
)
from tradingstack_workers.wire.proposal import Permit, Proposal, Side
from tradingstack_workers.wire.reservation import Reservation

NOW = 1_800_000_000.0
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "NEWUSDT")
LIMITS = GateLimits()

units = st.floats(min_value=1e-6, max_value=1e4, allow_nan=False)
prices = st.floats(min_value=0.01, max_value=1e5, allow_nan=False)


def walk(proposal: Proposal, view: PortfolioView) -> dict[str, float]:
    """The book after ``proposal`` by its definition, symbol by symbol (the reference)."""
    book: dict[str, float] = {}
    for symbol in {*view.positions, *view.reserved, proposal.symbol}:
        held = view.positions.get(symbol)
        reserved = view.reserved.get(symbol, NOTHING)
        amt = held.amt if held is not None else 0.0
        if symbol == proposal.symbol:
            amt += proposal.signed_qty
            price = held.mark_price if held is not None else proposal.price
        else:
            price = held.mark_price if held is not None else reserved.price
        worst = reserved.worst(amt)
        if abs(worst) > FLAT:
            book[symbol] = worst * price
    return book


@st.composite
def views(draw: st.DrawFn) -> PortfolioView:
    held = draw(st.lists(st.sampled_from(SYMBOLS[:5]), max_size=5, unique=True))
    positions = {
        s: Position(s, draw(st.sampled_from([-1.0, 1.0])) * draw(units), draw(prices), NOW)
        for s in held
    }
    reserved = {
        s: Reserved(draw(st.floats(0.0, 1e3)), -draw(st.floats(0.0, 1e3)), draw(prices))
        for s in draw(st.lists(st.sampled_from(SYMBOLS), max_size=3, unique=True))
    }
    covers = draw(st.none() | st.frozensets(st.sampled_from(SYMBOLS)))
    frozen = tuple(draw(st.lists(st.sampled_from(SYMBOLS), max_size=2, unique=True)))
    cluster = ClusterState(draw(st.floats(0.0, 1.0)), 1, NOW - 10, covers, frozen)
    equity = draw(st.floats(min_value=1.0, max_value=1e9))
    return PortfolioView(equity, NOW - 1, positions, cluster, NOW, reserved=reserved)


@st.composite
def proposals(draw: st.DrawFn, n: int = 0) -> Proposal:
    qty, price = draw(units), draw(prices)
    side: Side = draw(st.sampled_from(["BUY", "SELL"]))
    return Proposal(proposal_id=f"p-{n}", bot="b", strategy="s",
                    symbol=draw(st.sampled_from(SYMBOLS)), side=side, qty=qty, price=price,
                    notional_usd=qty * price, ts=NOW)  # fmt: skip


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@given(views(), st.lists(proposals(), min_size=1, max_size=12))
def test_the_book_kept_across_grants_equals_a_walk_of_the_whole_book(
    view: PortfolioView, batch: list[Proposal]
) -> None:
    """Each proposal judged on the book with every earlier one reserved, as if the view
    had held those reservations from the start (what serial handling would see)."""
    book = Book(view, LIMITS.leverage_cap)
    for i, proposal in enumerate(batch):
        expected = walk(proposal, view)
        after = book.after(proposal)
        sizes = [abs(e) for e in expected.values()]
        assert close(after.gross, sum(sizes))
        assert close(after.net, sum(expected.values()))
        assert close(after.largest, max(sizes, default=0.0))
        k = correlation_k(view, expected, 0.0, LIMITS)
        assert decide(proposal, view, LIMITS, book).k_fallback == k[2]
        reservation = Reservation(f"r{i}", proposal.symbol, proposal.signed_qty,
                                  proposal.price, NOW + 60)  # fmt: skip
        book.reserve(reservation)
        reserved = dict(view.reserved)
        reserved[proposal.symbol] = add(reserved.get(proposal.symbol, NOTHING), reservation)
        view = replace(view, reserved=reserved)
        assert book.reserved == view.reserved


def test_an_emptied_book_has_no_residue() -> None:
    view = PortfolioView(1e4, NOW, {"BTCUSDT": Position("BTCUSDT", 0.1, 3e4, NOW)}, None, NOW)
    book = Book(view, 3.0)
    close_out = Proposal(proposal_id="p", bot="b", strategy="s", symbol="BTCUSDT",
                         side="SELL", qty=0.1, price=3e4, notional_usd=3e3, ts=NOW)  # fmt: skip
    assert book.after(close_out)[:3] == (0.0, 0.0, 0.0)
    assert book.heat_now == pytest.approx(3e3 / 3e4)


def test_a_book_beyond_float_range_is_walked() -> None:
    held = {s: Position(s, 1e300, 1e10, NOW) for s in ("BTCUSDT", "ETHUSDT")}
    view = PortfolioView(1e4, NOW, held, None, NOW)
    verdict = decide(Proposal(proposal_id="p", bot="b", strategy="s", symbol="SOLUSDT",
                              side="BUY", qty=1.0, price=1.0, notional_usd=1.0, ts=NOW),
                     view, LIMITS)  # fmt: skip
    assert (verdict.permit, verdict.reason, verdict.heat) == (False, "heat_limit", 1.0)


figures_st = st.floats(min_value=0.0, max_value=1.0)
permit_values = st.fixed_dictionaries({
    "granted": st.booleans(), "reason": st.sampled_from(["ok", "reducing", "heat_limit"]),
    "heat": figures_st, "conc": figures_st, "corr_proxy": figures_st, "k": figures_st,
    "k_source": st.sampled_from(["cluster", "proxy"]), "stress": figures_st,
    "issued_ts": st.floats(min_value=1.6e9, max_value=2e9),
})  # fmt: skip


@given(permit_values)
def test_the_permit_text_is_the_models(values: dict[str, Any]) -> None:
    proposal = Proposal(proposal_id="p-1", bot="b", strategy="s", symbol="ETHUSDT",
                        side="SELL", qty=1.0, price=2.0, notional_usd=2.0, ts=NOW)  # fmt: skip
    model = Permit(proposal_id="p-1", symbol="ETHUSDT", side="SELL", **values)
    text = Permit.encode(proposal, **values)
    assert list(text.items()) == list(model.to_fields().items())
    assert Permit.parse(text, None) == model


def test_a_permit_figure_that_is_not_finite_is_refused_by_name() -> None:
    proposal = Proposal(proposal_id="p-1", bot="b", strategy="s", symbol="ETHUSDT",
                        side="BUY", qty=1.0, price=2.0, notional_usd=2.0, ts=NOW)  # fmt: skip
    with pytest.raises(ValueError, match="permit stress: nan"):
        Permit.encode(proposal, granted=True, reason="ok", heat=0.1, conc=0.1, corr_proxy=0.1,
                      k=0.1, k_source="proxy", stress=math.nan, issued_ts=NOW)  # fmt: skip


def verdict(permit: bool, reason: str, source: str = "cluster", fallback: str | None = None,
            stress: float = 0.2) -> Verdict:  # fmt: skip
    return Verdict(permit, reason, 0.1, 0.05, 0.02, 0.748, source, stress, 0.1,  # type: ignore[arg-type]
                   fallback)  # fmt: skip


BATCH = [
    verdict(True, "ok"),
    verdict(False, "heat_limit", "proxy", "uncovered"),
    verdict(True, "reducing"),
    verdict(False, "heat_limit", "proxy", "stale"),
    verdict(True, "ok", stress=0.3),
]


def test_a_batch_is_counted_by_outcome_source_and_fallback() -> None:
    tally = Tally.of(BATCH)
    assert (tally.proposals, tally.granted, tally.denied()) == (5, 3, {"heat_limit": 2})
    assert tally.k_sources == {"cluster": 3, "proxy": 2}
    assert tally.k_fallbacks == {"uncovered": 1, "stale": 1}
    assert tally.last is BATCH[-1]


def test_metrics_take_a_batch_in_one_update_per_label() -> None:
    registry = CollectorRegistry()
    metrics = GateMetrics.create(registry)
    metrics.record(Tally.of(BATCH), 0.003)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("p26_proposals_processed_total") == 5
    assert value("p26_permits_issued_total", reason="ok") == 2
    assert value("p26_permits_issued_total", reason="reducing") == 1
    assert value("p26_permits_denied_total", reason="heat_limit") == 2
    assert value("p26_k_source_total", source="proxy") == 2
    assert value("p26_cluster_fallback_total", reason="stale") == 1
    # Latency per proposal, as before batching: five observations of the batch's time.
    assert value("p26_decision_latency_seconds_count") == 5
    assert value("p26_decision_latency_seconds_bucket", le="0.005") == 5
    assert value("p26_decision_latency_seconds_bucket", le="0.002") == 0
    assert (value("p26_cluster_stress_used"), value("p26_stress")) == (1.0, 0.3)


def test_snapshot_ages_are_the_last_reads_and_a_symbol_gone_loses_its_series() -> None:
    registry = CollectorRegistry()
    metrics = GateMetrics.create(registry)

    def ages() -> dict[str, float]:
        return {
            s.labels["symbol"]: s.value
            for family in registry.collect()
            if family.name == "p26_snapshot_age_seconds"
            for s in family.samples
        }

    assert ages() == {}
    metrics.snapshot_ages({"BTCUSDT": 1.5, "ETHUSDT": 0.25})
    assert ages() == {"BTCUSDT": 1.5, "ETHUSDT": 0.25}
    metrics.snapshot_ages({"ETHUSDT": 3.0})  # BTC's snapshot was not read: no stale series
    assert ages() == {"ETHUSDT": 3.0}
    assert registry.get_sample_value("p26_snapshot_age_seconds", {"symbol": "ETHUSDT"}) == 3.0


def test_the_batch_line_names_refusals_only_and_the_last_figures() -> None:
    made = [
        Proposal(proposal_id=f"p-{i}", bot="b", strategy="s", symbol="ETHUSDT", side="BUY",
                 qty=1.0, price=2.0, notional_usd=2.0, ts=NOW)
        for i in range(len(BATCH))
    ]  # fmt: skip
    decided = [(f"{i}-0", p, v) for i, (p, v) in enumerate(zip(made, BATCH, strict=True))]
    msg, fields = batch_line(decided, Tally.of(BATCH), repeated=1, seconds=0.0031234567)
    assert msg == figures_message(BATCH[-1])
    assert msg == "heat=0.100, conc=0.050, corr_proxy=0.020, K=0.748 (cluster), stress=0.300"
    assert [(r["proposal_id"], r["reason"], r["entry"]) for r in fields["refused"]] == [
        ("p-1", "heat_limit", "1-0"),
        ("p-3", "heat_limit", "3-0"),
    ]
    assert (fields["proposals"], fields["granted"], fields["repeated"]) == (5, 3, 1)
    assert (fields["first_entry"], fields["last"]["entry"]) == ("0-0", "4-0")
    assert fields["last"]["proposal_id"] == "p-4"
    assert fields["seconds"] == 0.003123


def test_reservations_are_parsed_once_while_their_text_stays() -> None:
    a = Reservation("a", "ETHUSDT", 2.0, 100.0, NOW + 60)
    b = Reservation("b", "BTCUSDT", -1.0, 3e4, NOW + 60)
    parsed = ParsedReservations()
    first, bad = parsed.parse({"a": a.to_json(), "b": b.to_json(), "x": "{"})
    assert (first, bad) == ([a, b], ["x"])
    again, _ = parsed.parse({"a": a.to_json(), "b": b.to_json()})
    assert again[0] is first[0]  # not parsed again
    moved = replace(a, qty=3.0)
    changed, _ = parsed.parse({"a": moved.to_json()})
    assert changed == [moved]  # a changed value is parsed again


def test_known_reservations_stand_only_while_nothing_but_grants_changed_the_hash() -> None:
    a = Reservation("a", "ETHUSDT", 2.0, 100.0, NOW + 60)
    grants = Grants(3, 600.0, {"ETHUSDT": 3})
    known = KnownReservations.read([a], grants, 1, now=NOW)

    current = known.current
    assert current(grants, 1)
    # Another gate granted: its grant is checked at the write (Since), not read.
    assert current(replace(grants, count=4), 2)
    # A gate pruned a field, and counted it.
    assert current(replace(grants, pruned=1), 0)
    assert not current(grants, 0)  # a fill removed a field
    assert not current(replace(grants, count=4), 1)  # a grant and a fill
    assert not current(replace(grants, count=4, pruned=1), 2)  # a grant, a prune, a fill
    assert not current(replace(grants, count=0), 1)  # totals reset
    assert not current(replace(grants, pruned=-1), 2)
    b = Reservation("b", "BTCUSDT", -1.0, 3e4, NOW + 30)
    known.granted([(b, 3e4)])
    after = Grants(4, 30_600.0, {"ETHUSDT": 3, "BTCUSDT": 1})
    assert current(after, 2)
    assert known.reserved == {"ETHUSDT": Reserved(2.0, 0.0, 100.0),
                              "BTCUSDT": Reserved(0.0, -1.0, 3e4)}  # fmt: skip
    assert (known.grants, known.symbols) == (after, {"ETHUSDT", "BTCUSDT"})


def test_known_reservations_expire_by_id_and_are_queued_to_be_pruned() -> None:
    live = Reservation("a", "ETHUSDT", 2.0, 100.0, NOW + 1)
    gone = Reservation("b", "ETHUSDT", 50.0, 100.0, NOW - 1)
    short = Reservation("c", "ETHUSDT", -3.0, 101.0, NOW + 60)
    known = KnownReservations.read([live, gone, short], Grants(3), 4, now=NOW,
                                   unreadable=["bad"])  # fmt: skip
    assert known.reserved == {"ETHUSDT": Reserved(2.0, -3.0, 101.0)}
    assert known.to_prune == ["bad", "b"]
    assert known.expire(NOW + 2) == [live]
    assert known.reserved == {"ETHUSDT": Reserved(0.0, -3.0, 101.0)}
    assert known.to_prune == ["bad", "b", "a"]
    # A write pruned three of them; another gate had pruned the fourth first.
    known.pruned(["bad", "b", "a"], 2)
    assert (known.to_prune, known.length, known.grants.pruned) == ([], 2, 2)
    assert known.current(Grants(3, pruned=3), 1)
    assert known.expire(NOW + 61) == [short]
    assert known.reserved == {}
    assert known.symbols == {"ETHUSDT"}  # its snapshot is still read


def test_released_reservations_are_dropped_by_name_while_the_log_accounts_for_them() -> None:
    a = Reservation("a", "ETHUSDT", 2.0, 100.0, NOW + 60)
    b = Reservation("b", "ETHUSDT", -1.0, 100.0, NOW + 1)
    known = KnownReservations.read([a, b], Grants(2, released=5), 2, now=NOW, after="9-0")
    # Another gate's grant c since (not known), then a, c and an unknown x released.
    grants = Grants(3, released=8)
    assert not known.current(grants, 0)  # releases not yet dropped
    assert known.release(8, [("10-0", "a"), ("11-0", "c")]) is None  # one missing
    assert (known.after, known.length, known.grants.released) == ("9-0", 2, 5)  # untouched
    assert known.release(8, [("10-0", "a"), ("11-0", "c"), ("12-0", "x")]) == ["a"]
    assert (known.after, known.grants.released) == ("12-0", 8)
    assert known.current(grants, 0)  # b, a gone, c granted and gone, x gone
    assert known.reserved == {"ETHUSDT": Reserved(0.0, -1.0, 100.0)}
    # b released after it expired here: it is not queued to be pruned twice, nor counted.
    assert known.expire(NOW + 2) == [b]
    assert known.release(9, [("13-0", "b")]) == []
    assert known.current(replace(grants, released=9), -1)
    assert known.reserved == {}
    # A released one is skipped when its expiry comes.
    c = Reservation("c", "BTCUSDT", 1.0, 3e4, NOW + 10)
    known.granted([(c, 3e4)])
    assert known.release(10, [("14-0", "c")]) == ["c"]
    assert known.expire(NOW + 11) == []
    assert known.to_prune == ["b"]
    assert known.release(9, []) is None  # the totals went back: read the hash again


reservations = st.builds(
    Reservation,
    proposal_id=st.uuids().map(str),
    symbol=st.sampled_from(SYMBOLS[:3]),
    qty=st.sampled_from([-1.0, 1.0]).flatmap(lambda sign: units.map(lambda u: sign * u)),
    price=prices,
    expires_ts=st.floats(NOW, NOW + 60),
)


@given(
    st.lists(reservations, max_size=20),
    st.lists(
        st.tuples(
            st.lists(reservations, max_size=5), st.floats(0.0, 10.0), st.sets(st.integers(0, 30))
        ),
        max_size=8,
    ),
)
def test_known_reservations_kept_across_grants_expiries_and_releases_equal_a_fresh_read(
    first: list[Reservation], batches: list[tuple[list[Reservation], float, set[int]]]
) -> None:
    """Grants added, releases dropped and expiries taken out one by one give the sums of
    the unexpired, unreleased ones (the same symbols and sides, to rounding; an emptied
    side is exactly 0). Releases name any field: live, expired or never known."""
    now = NOW
    known = KnownReservations.read(first, Grants(), len(first), now=now, after="0-0")
    live = [r for r in first if r.expires_ts >= now]
    released, everything = 0, list(first)
    for n, (granted, step, picks) in enumerate(batches):
        known.granted((r, 0.0) for r in granted)
        live += granted
        everything += granted
        names = [everything[i].proposal_id if i < len(everything) else f"x{i}"
                 for i in sorted(picks)]  # fmt: skip
        released += len(names)
        assert known.release(released, [(f"{n}-{i}", m) for i, m in enumerate(names)]) is not None
        live = [r for r in live if r.proposal_id not in names]
        now += step
        known.expire(now)
        live = [r for r in live if r.expires_ts >= now]
        fresh: dict[str, Reserved] = {}
        for r in live:
            fresh[r.symbol] = add(fresh.get(r.symbol, NOTHING), r)
        kept = known.reserved
        assert kept.keys() == fresh.keys()
        for symbol, sums in fresh.items():
            assert close(kept[symbol].long, sums.long)
            assert close(kept[symbol].short, sums.short)
            assert (kept[symbol].long == 0.0) == (sums.long == 0.0)
            assert (kept[symbol].short == 0.0) == (sums.short == 0.0)
