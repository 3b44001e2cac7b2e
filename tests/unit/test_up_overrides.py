"""``up --env``: each value routed to the kinds that have it and checked by their settings
models before anything starts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
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
    check_environments(
        found, overrides, planned_endpoint(stack, Path("/nonexistent/data")), time.time()
    )


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


def _csv_feed(path: Path, start_ts: float | None = None) -> str:
    """``--env`` item pointing both bots of examples/paper.yaml at a replay of ``path``."""
    spec: dict[str, object] = {"kind": "csv", "path": str(path)}
    if start_ts is not None:
        spec["start_ts"] = start_ts
    return f"bots:TS_FEED={json.dumps(spec)}"


def _bars(path: Path, symbols: list[str], first_ts: float) -> Path:
    rows = [f"{first_ts + 60 * i},{s},100,101,99,100,1" for i in range(3) for s in symbols]
    path.write_text("\n".join(["ts,symbol,open,high,low,close,volume", *rows]) + "\n")
    return path


@pytest.mark.parametrize(
    ("write", "problem"),
    [
        (None, "cannot read: No such file or directory"),
        (lambda p: p.write_text("ts,symbol,close\n1767225600,BTCUSDT,1\n"), ":1: header"),
        # Bars of only one of the bot's symbols: the bot would exit at start for the other.
        (lambda p: _bars(p, ["BTCUSDT"], 1767225600), "symbols: no bars for"),
    ],
)
def test_a_csv_feed_the_bot_cannot_read_is_refused_before_start(
    tmp_path: Path, write: Callable[[Path], object] | None, problem: str
) -> None:
    """The bot reads its replay at start; ``up`` reads it first, as the bot will, rather
    than restarting a bot that exits at once (its file relative to the same directory)."""
    path = tmp_path / "bars.csv"
    if write is not None:
        write(path)
    with pytest.raises(PlanError) as err:
        check([_csv_feed(path, start_ts=1767225600)])
    assert "the bots worker" in str(err.value)
    assert f"TS_FEED: {path}" in str(err.value)
    assert problem in str(err.value)
    assert "\n" not in str(err.value)


def test_a_readable_csv_feed_passes(tmp_path: Path) -> None:
    path = _bars(tmp_path / "bars.csv", ["BTCUSDT", "ETHUSDT", "SOLUSDT"], 1767225600)
    check([_csv_feed(path, start_ts=1767225600)])
