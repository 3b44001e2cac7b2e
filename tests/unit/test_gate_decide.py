"""The P2.6 decision on crafted views: figures, K source, limits, reducing trades, bounds."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from tradingstack_workers.gate.decide import (
    ClusterState,
    GateLimits,
    PortfolioView,
    Position,
    decide,
    is_reducing,
)
from tradingstack_workers.gate.figures import figures
from tradingstack_workers.wire.proposal import Proposal, Side

NOW = 1_769_492_127.0
LIMITS = GateLimits()
#: The symbols a crafted cluster state covers (NEWUSDT is left out on purpose).
COVERED = frozenset({"BTCUSDT", "ETHUSDT", "SOLUSDT", *(f"S{i}USDT" for i in range(6))})


def proposal(
    symbol: str = "ETHUSDT", side: Side = "BUY", qty: float = 0.1, price: float = 100.0, **kw: float
) -> Proposal:
    return Proposal(
        proposal_id="p-1",
        bot="bot-a",
        strategy="rsi_mean_reversion",
        symbol=symbol,
        side=side,
        qty=qty,
        price=price,
        notional_usd=qty * price,
        ts=kw.get("ts", NOW),
    )


def view(
    positions: dict[str, float] | None = None,
    *,
    equity: float | None = 10_000.0,
    equity_age: float = 1.0,
    cluster: float | None = None,
    cluster_age: float = 10.0,
    price: float = 100.0,
    covers: frozenset[str] | None = COVERED,
    unreadable: frozenset[str] = frozenset(),
) -> PortfolioView:
    """``positions`` maps symbol -> signed units, all marked at ``price``."""
    return PortfolioView(
        equity_usd=equity,
        equity_ts=NOW - equity_age,
        positions={
            s: Position(symbol=s, amt=a, mark_price=price, ts=NOW - 5)
            for s, a in (positions or {}).items()
        },
        cluster=None if cluster is None else ClusterState(cluster, 1, NOW - cluster_age, covers),
        now=NOW,
        unreadable=unreadable,
    )


def test_seed_001_line_is_reproduced() -> None:
    # One long ETH position at the leverage cap, fresh cluster stress 0.748.
    v = view({"ETHUSDT": 300.0}, cluster=0.748)  # 30 000 USD on 10 000 equity = 3x
    verdict = decide(proposal(), v, LIMITS)
    line = (
        f"heat={verdict.heat:.3f}, conc={verdict.conc:.3f}, corr_proxy={verdict.corr_proxy:.3f}, "
        f"K={verdict.k:.3f} ({verdict.k_source}), stress={verdict.stress:.3f}"
    )
    assert line == "heat=1.000, conc=1.000, corr_proxy=1.000, K=0.748 (cluster), stress=0.962"
    # The seed issued a permit at the heat cap; here the cap is a limit.
    assert not verdict.permit
    assert verdict.reason == "heat_limit"


def test_figures_follow_their_definitions() -> None:
    # Capacity C = 1 000 USD equity x 2 = 2 000 USD.
    fig = figures({"A": 600.0, **{f"S{i}": 50.0 for i in range(8)}}, 1000.0, 2.0)
    assert fig.heat == pytest.approx(1000.0 / 2000.0)
    assert fig.conc == pytest.approx(600.0 / 2000.0)  # the largest position's own heat
    assert fig.corr_proxy == pytest.approx(1000.0 / 2000.0)  # all one way
    hedged = figures({"A": 1000.0, "B": -1000.0}, 10_000.0, 3.0)
    assert hedged.corr_proxy == 0.0
    assert hedged.conc == pytest.approx(1000.0 / 30_000.0)
    assert figures({"A": 1000.0, "B": -500.0}, 10_000.0, 3.0).corr_proxy == pytest.approx(
        500.0 / 30_000.0
    )
    assert figures({}, 1000.0, 3.0) == figures({"A": 0.0}, 1000.0, 3.0)
    big = figures({"A": 1e9}, 1.0, 3.0)
    assert (big.heat, big.conc, big.corr_proxy) == (1.0, 1.0, 1.0)
    assert big.load == pytest.approx(1e9 / 3.0)  # uncapped: the stress's heat term
    for equity in (None, 0.0, -5.0):  # no capacity: every figure 1 once anything is held
        unknown = figures({"A": 1.0}, equity, 3.0)
        assert (unknown.heat, unknown.conc, unknown.corr_proxy) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("cluster", "age", "source", "fallback"),
    [
        (0.5, 0.0, "cluster", None),
        (0.5, 119.999, "cluster", None),
        (0.5, 120.0, "cluster", None),  # exactly 120 s is still fresh
        (0.5, 120.001, "proxy", "stale"),
        (0.5, 3600.0, "proxy", "stale"),
        (0.5, -5.0, "cluster", None),  # within the clock-skew allowance
        (0.5, -5.001, "proxy", "future"),
        (None, 0.0, "proxy", "missing"),
        (math.nan, 0.0, "proxy", "invalid"),
        (math.inf, 0.0, "proxy", "invalid"),
        (1.5, 0.0, "proxy", "invalid"),
        (-0.1, 0.0, "proxy", "invalid"),
        (0.0, 0.0, "cluster", None),
        (1.0, 0.0, "cluster", None),
    ],
)
def test_k_source_and_the_stale_boundary(
    cluster: float | None, age: float, source: str, fallback: str | None
) -> None:
    v = view({"BTCUSDT": 10.0, "ETHUSDT": -4.0}, cluster=cluster, cluster_age=age)
    verdict = decide(proposal(), v, LIMITS)
    assert verdict.k_source == source
    assert verdict.k_fallback == fallback
    assert verdict.k == (cluster if source == "cluster" else verdict.corr_proxy)


@pytest.mark.parametrize(
    ("covers", "frozen", "why"),
    [
        (frozenset({"BTCUSDT", "ETHUSDT"}), ("SOLUSDT",), None),  # left out, not in this book
        (frozenset({"BTCUSDT"}), (), "uncovered"),  # ETH not correlated yet
        (frozenset({"BTCUSDT"}), ("ETHUSDT",), "degraded"),  # ETH's feed froze: left out
    ],
)
def test_a_symbol_left_out_as_frozen_is_named_as_the_reason(
    covers: frozenset[str], frozen: tuple[str, ...], why: str | None
) -> None:
    """Case 07: the gate says why the cluster state does not describe the book."""
    v = view({"BTCUSDT": 10.0}, cluster=0.3, covers=covers)
    assert v.cluster is not None
    v = replace(v, cluster=replace(v.cluster, frozen=frozen))
    verdict = decide(proposal("ETHUSDT"), v, LIMITS)
    assert verdict.k_fallback == why
    if why is not None:  # judged at least as strictly as by the proxy, whatever the reason
        assert verdict.k == max(0.3, verdict.corr_proxy)


def test_stale_limit_is_a_setting() -> None:
    v = view({"BTCUSDT": 10.0}, cluster=0.3, cluster_age=61.0)
    assert decide(proposal(), v, GateLimits(cluster_stale_s=60)).k_source == "proxy"
    assert decide(proposal(), v, GateLimits(cluster_stale_s=61)).k_source == "cluster"


def test_cluster_k_changes_stress_only_through_its_weight() -> None:
    v_proxy = view({"BTCUSDT": 50.0})
    v_cluster = view({"BTCUSDT": 50.0}, cluster=0.2)
    a, b = decide(proposal(), v_proxy, LIMITS), decide(proposal(), v_cluster, LIMITS)
    assert (a.heat, a.conc, a.corr_proxy) == (b.heat, b.conc, b.corr_proxy)
    assert a.stress - b.stress == pytest.approx(LIMITS.w_k * (a.k - b.k))


def test_a_small_trade_on_a_healthy_book_is_permitted() -> None:
    verdict = decide(proposal(), view({"BTCUSDT": 20.0, "ETHUSDT": 10.0}), LIMITS)
    assert verdict.permit
    assert verdict.reason == "ok"


def test_a_flat_books_first_trade_is_never_denied_for_shape_alone() -> None:
    verdict = decide(proposal(qty=1.0), view({}), LIMITS)
    assert verdict.conc == pytest.approx(100.0 / 30_000.0)
    assert verdict.corr_proxy == pytest.approx(100.0 / 30_000.0)
    assert verdict.stress < LIMITS.max_stress
    assert verdict.permit


def test_heat_limit_counts_the_trade() -> None:
    # 25 000 gross now (heat 0.833); +3 000 -> 28 000 (heat 0.933 > 0.90).
    v = view({"BTCUSDT": 150.0, "ETHUSDT": -100.0})
    assert decide(proposal("BTCUSDT", qty=1.0), v, LIMITS).permit
    denied = decide(proposal("BTCUSDT", qty=30.0), v, LIMITS)
    assert denied.reason == "heat_limit"
    assert denied.heat_now == pytest.approx(25_000 / 10_000 / 3)
    assert denied.heat == pytest.approx(28_000 / 10_000 / 3)


def test_stress_limit() -> None:
    # Heat 0.86 (below 0.90) in one long position: conc and proxy 0.86 too, stress 0.86.
    v = view({"ETHUSDT": 257.0})
    verdict = decide(proposal(qty=1.0), v, LIMITS)
    assert verdict.heat == pytest.approx(0.86)
    assert verdict.stress == pytest.approx(0.86)
    assert verdict.reason == "stress_limit"
    # The same size split across a hedge passes: conc and the proxy both fall.
    hedged = view({"ETHUSDT": 129.0, "BTCUSDT": -128.0})
    passed = decide(proposal(qty=1.0), hedged, LIMITS)
    assert passed.heat == pytest.approx(0.86)
    assert passed.permit


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"equity": None}, "equity_unknown"),
        ({"equity": 0.0}, "equity_unknown"),
        ({"equity_age": 30.0}, "ok"),
        ({"equity_age": 30.001}, "portfolio_stale"),
    ],
)
def test_portfolio_inputs_fail_closed(kwargs: dict[str, float], reason: str) -> None:
    v = view({"BTCUSDT": 1.0}, **kwargs)  # type: ignore[arg-type]
    assert decide(proposal(), v, LIMITS).reason == reason


@pytest.mark.parametrize(
    ("age", "reason"),
    [(60.0, "ok"), (60.5, "proposal_expired"), (-5.0, "ok"), (-5.001, "proposal_expired")],
)  # fmt: skip
# A proposal stamped in milliseconds never reaches the decision: its parse refuses it and
# it is dead-lettered (tests/unit/test_wire_contracts.py, tests/integration/test_poison_*).
def test_an_old_or_future_proposal_is_denied(age: float, reason: str) -> None:
    assert decide(proposal(ts=NOW - age), view({}), LIMITS).reason == reason


def test_a_portfolio_state_in_milliseconds_is_not_fresh() -> None:
    """Review D5: a millisecond timestamp 10 minutes old once read as fresh."""
    v = view({"BTCUSDT": 1.0}, equity_age=NOW - (NOW - 600) * 1000)
    assert decide(proposal(), v, LIMITS).reason == "portfolio_stale"


def test_an_unreadable_snapshot_denies_new_risk_but_not_a_reduction() -> None:
    """Review D7: a held position whose snapshot cannot be read is not taken as flat."""
    v = view({"ETHUSDT": 10.0}, unreadable=frozenset({"BTCUSDT"}))
    assert decide(proposal("ETHUSDT", qty=0.5), v, LIMITS).reason == "snapshot_malformed"
    assert decide(proposal("BTCUSDT", qty=0.5), v, LIMITS).reason == "snapshot_malformed"
    assert decide(proposal("ETHUSDT", side="SELL", qty=5.0), v, LIMITS).reason == "reducing"


def test_a_symbol_the_cluster_state_does_not_cover_is_judged_at_least_by_the_proxy() -> None:
    """Review D4: long BTC, cluster state (S = 0) over BTC alone, BUY 30 ETH."""
    held = {"BTCUSDT": 1.0}
    v = view(held, price=60_000.0, equity=100_000.0, cluster=0.0, covers=frozenset({"BTCUSDT"}))
    verdict = decide(proposal("ETHUSDT", qty=30.0, price=60_000.0), v, LIMITS)
    assert (verdict.k_source, verdict.k_fallback) == ("proxy", "uncovered")
    assert verdict.k == verdict.corr_proxy > 0
    covered = view(held, price=60_000.0, equity=100_000.0, cluster=0.0,
                   covers=frozenset({"BTCUSDT", "ETHUSDT"}))  # fmt: skip
    trusted = decide(proposal("ETHUSDT", qty=30.0, price=60_000.0), covered, LIMITS)
    assert (trusted.k, trusted.k_source) == (0.0, "cluster")
    # A cluster state from a writer that names no symbols covers nothing for sure.
    unnamed = view(held, equity=100_000.0, cluster=0.2, covers=None)
    assert decide(proposal("BTCUSDT"), unnamed, LIMITS).k_fallback == "uncovered"


def test_denials_are_checked_in_the_documented_order() -> None:
    v = view({"ETHUSDT": 1000.0}, equity=None)
    assert decide(proposal(ts=NOW - 999), v, LIMITS).reason == "proposal_expired"
    assert decide(proposal(), v, LIMITS).reason == "equity_unknown"


@pytest.mark.parametrize(
    ("held", "side", "qty", "reducing"),
    [
        (10.0, "SELL", 4.0, True),
        (10.0, "SELL", 10.0, True),  # closing
        (10.0, "SELL", 10.5, False),  # flips short
        (10.0, "BUY", 1.0, False),
        (-10.0, "BUY", 3.0, True),
        (-10.0, "SELL", 3.0, False),
        (0.0, "SELL", 1.0, False),
        (None, "SELL", 1.0, False),
    ],
)
def test_is_reducing(held: float | None, side: Side, qty: float, reducing: bool) -> None:
    position = None if held is None else Position("ETHUSDT", held, 100.0, NOW)
    assert is_reducing(proposal(side=side, qty=qty), position) is reducing


def test_a_reducing_trade_is_always_permitted() -> None:
    # Everything that could deny: over the heat cap, no fresh equity, expired proposal.
    v = view({"ETHUSDT": 1000.0}, equity=None, cluster=1.0)
    verdict = decide(proposal(side="SELL", qty=400.0, ts=NOW - 999), v, LIMITS)
    assert verdict.permit
    assert verdict.reason == "reducing"
    closed = decide(proposal(side="SELL", qty=1000.0), view({"ETHUSDT": 1000.0}), LIMITS)
    assert closed.permit
    assert (closed.heat, closed.conc, closed.corr_proxy) == (0.0, 0.0, 0.0)


def test_a_flip_is_judged_like_any_increase() -> None:
    v = view({"ETHUSDT": 200.0})  # heat 0.667
    flip = decide(proposal(side="SELL", qty=500.0), v, LIMITS)  # -> 300 short, heat 1.0
    assert flip.reason == "heat_limit"


def test_a_symbol_without_snapshot_is_priced_at_the_proposal() -> None:
    verdict = decide(proposal("SOLUSDT", qty=10.0, price=150.0), view({}), LIMITS)
    assert verdict.heat == pytest.approx(1500 / 10_000 / 3)


def test_limits_are_settings() -> None:
    v = view({"ETHUSDT": 150.0})
    assert decide(proposal(), v, LIMITS).permit
    assert decide(proposal(), v, GateLimits(max_heat=0.4)).reason == "heat_limit"
    assert decide(proposal(), v, GateLimits(leverage_cap=1.0)).reason == "heat_limit"
    assert decide(proposal(), v, GateLimits(max_stress=0.5)).reason == "stress_limit"


@pytest.mark.parametrize("seed", range(300))
def test_bounds_and_consistency_on_random_views(seed: int) -> None:
    rng = random.Random(seed)
    positions = {
        f"S{i}USDT": rng.choice([-1, 1]) * rng.uniform(0, 500) for i in range(rng.randint(0, 6))
    }
    v = view(
        positions,
        equity=rng.choice([None, rng.uniform(-10, 100_000)]),
        equity_age=rng.uniform(0, 60),
        cluster=rng.choice([None, rng.uniform(-0.5, 1.5)]),
        cluster_age=rng.uniform(-10, 240),
        price=rng.uniform(1, 1000),
    )
    p = proposal(
        symbol=rng.choice([*positions, "NEWUSDT"]),
        side=rng.choice(["BUY", "SELL"]),
        qty=rng.uniform(0.001, 600),
        ts=NOW - rng.uniform(0, 90),
    )
    verdict = decide(p, v, LIMITS)
    for value in (verdict.heat, verdict.conc, verdict.corr_proxy, verdict.k, verdict.stress):
        assert 0.0 <= value <= 1.0
    assert verdict.heat_now <= 1.0
    expected = LIMITS.w_heat * verdict.heat + LIMITS.w_conc * verdict.conc + LIMITS.w_k * verdict.k
    if verdict.heat < 1.0:
        assert verdict.stress == pytest.approx(expected)
    else:  # past the cap the heat term keeps growing inside the stress
        assert verdict.stress >= expected - 1e-12
    assert verdict.permit == (verdict.reason in ("ok", "reducing"))
    if verdict.k_source == "proxy":
        assert verdict.k_fallback is not None
    if verdict.reason == "ok":
        assert verdict.heat <= LIMITS.max_heat
        assert verdict.stress <= LIMITS.max_stress
    if is_reducing(p, v.positions.get(p.symbol)):
        assert verdict.reason == "reducing"
