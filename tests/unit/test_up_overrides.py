"""``up --env``: each value routed to the kinds that have it and checked by their settings
models before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradingstack_operator.manifests import load_manifest
from tradingstack_operator.render import render
from tradingstack_operator.render.stack import stack_from_manifest
from tradingstack_workers.kinds import SETTINGS
from tradingstack_workers.up.local_redis import planned_endpoint
from tradingstack_workers.up.overrides import SET_BY_UP, check_environments, parse_overrides
from tradingstack_workers.up.plan import Container, PlanError, containers

ROOT = Path(__file__).resolve().parents[2]


def paper() -> tuple[list[Container], set[str]]:
    found = containers(render(stack_from_manifest(load_manifest(ROOT / "examples/paper.yaml"))))
    return found, {c.kind for c in found}


def check(items: list[str], manifest: str = "examples/paper.yaml") -> None:
    stack = stack_from_manifest(load_manifest(ROOT / manifest))
    found = containers(render(stack))
    overrides = parse_overrides(items, {c.kind for c in found})
    check_environments(found, overrides, planned_endpoint(stack, Path("/nonexistent/data")))


def test_a_kindless_variable_goes_only_to_the_kinds_that_have_that_setting() -> None:
    _, kinds = paper()
    assert parse_overrides(["TS_LEVERAGE_CAP=2"], kinds) == {"gate": {"TS_LEVERAGE_CAP": "2"}}
    every = parse_overrides(["TS_LOG_LEVEL=DEBUG"], kinds)
    assert every == {kind: {"TS_LOG_LEVEL": "DEBUG"} for kind in kinds}


def test_a_kind_sends_the_variable_to_that_kind_only() -> None:
    _, kinds = paper()
    assert parse_overrides(["bots:TS_CYCLE_SECONDS=0.5"], kinds) == {
        "bots": {"TS_CYCLE_SECONDS": "0.5"}
    }


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ("TS_X", "expected [KIND:]NAME=VALUE"),
        ("bots:PATH=/x", "only TS_* variables"),
        ("nope:TS_X=1", "unknown worker kind 'nope' (kinds: clusters, gate, governor, intel"),
        ("TS_NO_SUCH_SETTING=1", "TS_NO_SUCH_SETTING is a setting of no worker this stack runs"),
        ("gate:TS_HTTP_PORT=abc", "TS_HTTP_PORT is set by `up`"),
        ("TS_INSTANCE=x", "TS_INSTANCE is set by `up`"),
        ("gate:TS_REDIS_URL=redis://elsewhere:6379/0", "TS_REDIS_URL is set by `up`"),
    ],
)
def test_a_bad_item_is_refused_naming_it_and_the_problem(item: str, problem: str) -> None:
    _, kinds = paper()
    with pytest.raises(PlanError) as err:
        parse_overrides([item], kinds)
    assert problem in str(err.value)
    assert repr(item) in str(err.value)
    assert "\n" not in str(err.value)


def test_a_kind_the_stack_does_not_run_is_refused() -> None:
    with pytest.raises(PlanError, match="this stack runs no clusters worker"):
        check(["clusters:TS_LOG_LEVEL=DEBUG"], "tests/data/specs/valid/clusters-off.yaml")


def test_every_variable_up_sets_is_a_worker_setting() -> None:
    """SET_BY_UP names real settings: a renamed field would leave it guarding nothing."""
    known = {cls.env_name(f) for cls in SETTINGS.values() for f in cls.model_fields}
    assert set(SET_BY_UP) <= known


@pytest.mark.parametrize(
    ("item", "named", "problem"),
    [
        ("TS_LEVERAGE_CAP=-1", "the gate worker", "TS_LEVERAGE_CAP=-1: Input should be greater"),
        ("TS_LOG_LEVEL=LOUD", "worker", "TS_LOG_LEVEL=LOUD: Input should be 'DEBUG'"),
        ("gate:TS_NOPE=1", "the gate worker", "TS_NOPE: not a setting of the gate worker"),
        ("bots:TS_FEED=xx", "the bots worker", "TS_FEED=xx: Invalid JSON"),
        # Valid alone, refused beside the rendered heartbeat (5 s): the whole environment
        # is checked, as the worker will read it.
        ("gate:TS_LIVENESS_TIMEOUT_SECONDS=1", "the gate worker", "must exceed"),
    ],
)
def test_a_value_the_worker_would_refuse_is_refused_before_start(
    item: str, named: str, problem: str
) -> None:
    with pytest.raises(PlanError) as err:
        check([item])
    assert named in str(err.value)
    assert problem in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "manifest",
    ["examples/paper.yaml", "tests/data/specs/valid/single-redis.yaml",
     "tests/data/specs/valid/full.yaml"],
)  # fmt: skip
def test_every_rendered_environment_passes(manifest: str) -> None:
    check([], manifest)


def test_good_values_pass() -> None:
    check(["TS_LEVERAGE_CAP=2", "bots:TS_CYCLE_SECONDS=0.5", "TS_LOG_LEVEL=DEBUG",
           "gate:TS_REDIS_SENTINEL_QUORUM=3"])  # fmt: skip
