"""SyntheticFeed: reproducible, correlated as configured, restartable, and a valid Feed.

Statistical tolerances: with n = 20 000 bar returns, a sample correlation's standard
error is below 1/sqrt(n) ~ 0.0071 and a sample volatility's relative standard error is
1/sqrt(2n) ~ 0.005; the assertions allow about five standard errors (0.035 and 3 %),
and the seeds are fixed, so they are deterministic, not flaky.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tradingstack_workers.bots.marketdata import (
    Bar,
    Feed,
    FeedError,
    PathParams,
    SyntheticConfig,
    SyntheticFeed,
)

N_BARS = 20_000
#: 2026-01-01T00:00:00Z: bars carry epoch seconds, like every time the workers read.
ORIGIN = 1_767_225_600.0
CORR_TOL = 0.035
MATRIX = ((1.0, 0.8, 0.1), (0.8, 1.0, 0.3), (0.1, 0.3, 1.0))


def config(**overrides: object) -> SyntheticConfig:
    fields: dict[str, object] = {
        "symbols": ("A", "B", "C"),
        "seed": 42,
        "interval_s": 60.0,
        "origin_ts": ORIGIN,
    }
    fields.update(overrides)
    return SyntheticConfig.model_validate(fields)


def log_returns(bars: list[Bar], symbols: tuple[str, ...]) -> np.ndarray:
    closes = np.array([b.close for b in bars]).reshape(-1, len(symbols))
    return np.diff(np.log(closes), axis=0)


def test_same_seed_same_bars_and_another_seed_another_market() -> None:
    first = SyntheticFeed(config(correlation=MATRIX)).bars(1, 500)
    again = SyntheticFeed(config(correlation=MATRIX)).bars(1, 500)
    other = SyntheticFeed(config(correlation=MATRIX, seed=43)).bars(1, 500)
    assert first == again
    assert [b.close for b in first] != [b.close for b in other]


def test_empirical_correlation_matches_the_matrix() -> None:
    cfg = config(correlation=MATRIX)
    returns = log_returns(SyntheticFeed(cfg).bars(1, N_BARS), cfg.symbols)
    np.testing.assert_allclose(np.corrcoef(returns.T), np.array(MATRIX), atol=CORR_TOL)


def test_factor_model_gives_product_of_loadings_within_groups_and_zero_across() -> None:
    cfg = config(
        symbols=("BTC", "ETH", "SPY", "QQQ"),
        factors={"crypto": {"BTC": 0.9, "ETH": 0.8}, "equity": {"SPY": 0.7, "QQQ": 0.7}},
    )
    corr = np.corrcoef(log_returns(SyntheticFeed(cfg).bars(1, N_BARS), cfg.symbols).T)
    expected = np.array(
        [[1, 0.72, 0, 0], [0.72, 1, 0, 0], [0, 0, 1, 0.49], [0, 0, 0.49, 1]], dtype=float
    )
    np.testing.assert_allclose(corr, expected, atol=CORR_TOL)


def test_volatility_start_price_and_bar_shape_follow_the_config() -> None:
    cfg = config(
        default=PathParams(start_price=250.0, volatility=0.8),
        paths={"C": PathParams(start_price=10.0, volatility=0.2)},
    )
    bars = SyntheticFeed(cfg).bars(1, N_BARS)
    assert bars[0].open == pytest.approx(250.0)
    assert bars[2].open == pytest.approx(10.0)
    annualised = log_returns(bars, cfg.symbols).std(axis=0) * math.sqrt(365 * 24 * 60)
    np.testing.assert_allclose(annualised, [0.8, 0.8, 0.2], rtol=0.03)
    assert all(b.problem() is None for b in bars)
    by_symbol = [b for b in bars if b.symbol == "A"]
    assert all(p.close == n.open for p, n in itertools.pairwise(by_symbol))


def test_a_restarted_feed_continues_the_same_path() -> None:
    cfg = config(correlation=MATRIX)
    running = SyntheticFeed(cfg)
    seen: list[Bar] = []
    for now in range(0, 60 * 300, 170):  # polled at odd moments: 0-3 bars per call
        seen.extend(running.poll(ORIGIN + now))
    k = 137
    restarted = SyntheticFeed(cfg)
    restarted.seek(restarted.bar_ts(k))
    resumed = restarted.poll(ORIGIN + 60 * 300 - 170)
    assert resumed == [b for b in seen if b.ts > restarted.bar_ts(k)]
    assert resumed[0].ts == restarted.bar_ts(k + 1)


def test_any_bar_is_a_function_of_its_index_alone() -> None:
    feed = SyntheticFeed(config())
    assert feed.bars(120, 130) == feed.bars(1, 130)[119 * 3 :]
    far = 10**9  # thirty years of one-second bars: still one cheap call
    assert feed.bars(far, far + 3)[3:] == feed.bars(far + 1, far + 3)


def test_adding_a_symbol_leaves_the_others_paths_unchanged() -> None:
    for extra in ({}, {"factors": {"f": {"A": 0.5, "B": 0.5}}}):
        two = SyntheticFeed(config(symbols=("A", "B"), **extra)).bars(1, 50)
        three = SyntheticFeed(config(symbols=("A", "B", "C"), **extra)).bars(1, 50)
        assert [b for b in three if b.symbol != "C"] == two
    pair = SyntheticFeed(config(symbols=("A", "B"), correlation=((1, 0.5), (0.5, 1)))).bars(1, 50)
    triple = SyntheticFeed(config(correlation=((1, 0.5, 0.2), (0.5, 1, 0.2), (0.2, 0.2, 1))))
    assert [b for b in triple.bars(1, 50) if b.symbol != "C"] == pair


def test_perfectly_correlated_symbols_are_psd_and_move_together() -> None:
    cfg = config(symbols=("A", "B"), correlation=((1.0, 1.0), (1.0, 1.0)))
    returns = log_returns(SyntheticFeed(cfg).bars(1, 200), cfg.symbols)
    np.testing.assert_allclose(returns[:, 0], returns[:, 1], atol=1e-12)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"correlation": ((1, 0.9, 0.9), (0.9, 1, -0.9), (0.9, -0.9, 1))},
            "correlation: not positive semi-definite (smallest eigenvalue -0.8",
        ),
        ({"correlation": ((1, 0.5), (0.5, 1))}, "correlation: needs 3x3 for symbols A, B, C"),
        (
            {"correlation": ((1, 0.5, 0), (0.4, 1, 0), (0, 0, 1))},
            "correlation[A][B]: 0.5 differs from its mirror 0.4",
        ),
        ({"correlation": ((1, 0, 0), (0, 0.9, 0), (0, 0, 1))}, "correlation[B][B]: must be 1"),
        ({"correlation": ((1, 2, 0), (2, 1, 0), (0, 0, 1))}, "correlation[A][B]: 2.0 is outside"),
        ({"factors": {"f": {"A": 0.8}, "g": {"A": 0.8}}}, "A's loadings have squares summing"),
        ({"factors": {"f": {"Z": 0.5}}}, "factors.f.Z: not one of the feed's symbols"),
    ],
)
def test_bad_correlation_structures_are_refused_naming_the_problem(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(FeedError) as caught:
        SyntheticFeed(config(**overrides))
    assert message in str(caught.value)


def test_poll_honours_the_feed_contract() -> None:
    o = ORIGIN + 1000.0
    feed: Feed = SyntheticFeed(config(origin_ts=o))
    assert feed.poll(o + 59) == []
    first = feed.poll(o + 180)
    assert [b.ts for b in first] == [o + 60] * 3 + [o + 120] * 3 + [o + 180] * 3
    assert [b.symbol for b in first[:3]] == ["A", "B", "C"]
    assert feed.cursor == o + 180
    assert feed.poll(o + 180) == []
    limited = feed.poll(o + 60 * 100, max_steps=4)
    assert len(limited) == 12
    assert max(b.ts for b in limited) == o + 60 * 7
    rest = feed.poll(o + 60 * 100)
    assert rest[0].ts == o + 60 * 8
    assert all(b.ts <= o + 60 * 100 for b in rest)


def test_history_is_the_latest_bars_per_symbol_and_does_not_move_the_cursor() -> None:
    feed = SyntheticFeed(config())
    history = feed.history(until=ORIGIN + 60 * 50 + 30, count=10)
    assert feed.cursor == ORIGIN
    assert [b.ts for b in history["B"]] == [ORIGIN + 60.0 * i for i in range(41, 51)]
    assert history["B"] == [b for b in feed.bars(41, 50) if b.symbol == "B"]
    assert feed.history(until=ORIGIN + 59, count=10) == {"A": [], "B": [], "C": []}


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="either correlation or factors"):
        config(correlation=MATRIX, factors={"f": {"A": 0.5}})
    with pytest.raises(ValueError, match="paths: Z not among symbols"):
        config(paths={"Z": PathParams()})
    with pytest.raises(ValueError, match="interval_s"):
        config(interval_s=0)
    with pytest.raises(ValueError, match="origin_ts"):
        config(origin_ts=ORIGIN * 1000)  # milliseconds: the bot would wait for ever
