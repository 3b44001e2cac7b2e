"""parse_spec: the operator's one door for a TradingStack spec."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from tradingstack_operator.spec import SpecError, TradingStackSpec, parse_spec


def test_error_lists_every_offending_field() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({"symbols": ["btc"], "mode": "real", "redis": {"replicas": 0}})
    assert caught.value.paths == ("spec.mode", "spec.symbols[0]", "spec.redis.replicas")
    assert "spec.mode: Input should be 'paper' or 'live' (got 'real')" in str(caught.value)


def test_rule_errors_list_every_broken_rule() -> None:
    spec = {
        "symbols": ["BTCUSDT"],
        "redis": {"replicas": 3, "sentinel": {"quorum": 4}},
        "workers": {"governor": {"intervalSeconds": 30, "budgetTtlSeconds": 20}},
    }
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    assert [str(p) for p in caught.value.problems] == [
        "spec.redis.sentinel.quorum: 4 is not allowed with spec.redis.replicas 3: use 2"
        " (a majority of the sentinels, and fewer than all of them)",
        "spec.workers.governor.budgetTtlSeconds: 20 is not more than"
        " spec.workers.governor.intervalSeconds (30): budgets would expire between runs",
    ]


def test_python_names_are_snake_case_and_the_wire_is_camel_case() -> None:
    spec = parse_spec({"symbols": ["BTCUSDT"], "keyPrefix": "desk", "workers": {}})
    assert spec.key_prefix == "desk"
    assert spec.workers.gate.cluster_stale_seconds == 120
    with pytest.raises(SpecError, match=r"spec\.key_prefix: Extra inputs"):
        parse_spec({"symbols": ["BTCUSDT"], "key_prefix": "desk"})


BOT = {"name": "a", "strategy": "rsi_mean_reversion", "symbols": ["BTCUSDT"]}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"key_prefix": "x"}, "spec.key_prefix: Extra inputs are not permitted"
         " (did you mean keyPrefix?)"),
        ({"redis": {"replica": 3}}, "spec.redis.replica: Extra inputs are not permitted"
         " (did you mean replicas?)"),
        ({"redis": {"sentinel": {"quorom": 2}}}, "spec.redis.sentinel.quorom: Extra inputs"
         " are not permitted (did you mean quorum?)"),
        ({"bots": [{**BOT, "feed": {"intervalSecond": 5}}]}, "spec.bots[0].feed.intervalSecond:"
         " Extra inputs are not permitted (did you mean intervalSeconds?)"),
        ({"zzz": 1}, "spec.zzz: Extra inputs are not permitted"),  # nothing close: no guess
    ],
)  # fmt: skip
def test_an_unknown_field_names_the_closest_known_one(spec: dict[str, Any], expected: str) -> None:
    """kubectl-style camelCase is the wire's; a snake_case or misspelt name is the common
    slip, so the error says which field was meant."""
    with pytest.raises(SpecError) as raised:
        parse_spec({"symbols": ["BTCUSDT"], **spec})
    assert str(raised.value) == expected


@pytest.mark.parametrize(
    ("redis", "expected"),
    [
        ({}, True),
        ({"replicas": 1}, False),
        ({"replicas": 5, "sentinel": {"enabled": False}}, False),
        ({"replicas": 3, "sentinel": {"enabled": True}}, True),
    ],
)
def test_sentinel_default_follows_the_replica_count(
    redis: dict[str, object], expected: bool
) -> None:
    assert parse_spec({"symbols": ["BTCUSDT"], "redis": redis}).redis.sentinel_enabled is expected


def test_spec_is_immutable() -> None:
    spec = parse_spec({"symbols": ["BTCUSDT"]})
    with pytest.raises(pydantic.ValidationError):
        spec.halted = True  # type: ignore[misc]
    assert isinstance(spec, TradingStackSpec)
