"""Every worker tunable: whatever the spec admits, the worker accepts at start, and what
is out of a tunable's bounds is refused naming it.

Spec values are drawn anywhere inside each field's own bounds (read from the spec
models), the stack rendered, and every worker and bot environment loaded with the
worker's settings, as its pod would at start. A spec value the worker refused would be
a pod that exits and restarts for ever after the API server stored the spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from tests.unit.test_render_env import literal_env, worker_pods
from tests.unit.tunables_corpus import TunableCase, tunable_cases

from tradingstack_operator.render.stack import stack_from_manifest
from tradingstack_operator.spec import API_VERSION, KIND, SpecError
from tradingstack_operator.spec.bots import FeedSpec
from tradingstack_operator.spec.workers import (
    AlertThresholds,
    ClustersWorker,
    GateWorker,
    GovernorWorker,
    IntelWorker,
)
from tradingstack_workers.kinds import SETTINGS
from tradingstack_workers.runtime.settings import load_settings

TUNABLE_CASES = tunable_cases()


def within(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Any value of each scalar field of ``model`` its own declaration admits (camelCase)."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        kind = info.annotation
        low: float | None = None
        high: float | None = None
        for item in info.metadata:
            if isinstance(item, annotated_types.Ge | annotated_types.Gt):
                low = float(item.ge if isinstance(item, annotated_types.Ge) else item.gt)  # type: ignore[arg-type]
            if isinstance(item, annotated_types.Le | annotated_types.Lt):
                high = float(item.le if isinstance(item, annotated_types.Le) else item.lt)  # type: ignore[arg-type]
        exclusive = any(
            isinstance(m, annotated_types.Gt | annotated_types.Lt) for m in info.metadata
        )
        alias = info.alias or name
        if kind is bool:
            fields[alias] = st.booleans()
        elif kind is int:
            fields[alias] = st.integers(int(low or 0), int(high or 10**6))
        elif kind is float:
            fields[alias] = st.floats(
                low, high, exclude_min=exclusive, exclude_max=exclusive, allow_nan=False
            )
        elif get_origin(kind) is Literal:
            fields[alias] = st.sampled_from(get_args(kind))
    return st.fixed_dictionaries({}, optional=fields)


TUNABLES = st.fixed_dictionaries(
    {
        "clusters": within(ClustersWorker),
        "gate": within(GateWorker),
        "governor": within(GovernorWorker),
        "intel": within(IntelWorker),
        "thresholds": within(AlertThresholds),
        "feed": within(FeedSpec),
    }
)


@settings(max_examples=60)
@given(tunables=TUNABLES)
def test_any_admitted_tunable_is_accepted_by_its_worker(
    tmp_path_factory: Any, tunables: dict[str, dict[str, Any]]
) -> None:
    t = tunables
    bot = {"name": "alpha", "strategy": "breakout_momentum", "symbols": ["BTCUSDT"],
           "feed": t["feed"]}  # fmt: skip
    workers = {"clusters": t["clusters"], "gate": t["gate"], "governor": t["governor"],
               "intel": {**t["intel"], "alertThresholds": t["thresholds"]}}  # fmt: skip
    manifest = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "t"},
                "spec": {"symbols": ["BTCUSDT"], "workers": workers, "bots": [bot]}}  # fmt: skip
    try:
        stack = stack_from_manifest(manifest)
    except SpecError:
        assume(False)  # a cross-field rule refused it: nothing reaches a worker
        return
    password: Path = tmp_path_factory.mktemp("secret") / "password"
    password.write_text("s3cret\n", encoding="utf-8")
    for kind, container, _ in worker_pods(stack):
        load_settings(SETTINGS[kind], literal_env(container, password))


@pytest.mark.parametrize("case", TUNABLE_CASES, ids=lambda c: c.name)
def test_every_bad_tunable_is_refused_by_the_model_and_render_naming_it(case: TunableCase) -> None:
    """The generated corpus (tests/unit/tunables_corpus.py): render and up refuse what
    the API server refuses (tests/controlplane/test_tunable_admission.py), by field."""
    with pytest.raises(SpecError) as refused:
        stack_from_manifest(case.manifest())
    problems = [str(p) for p in refused.value.problems]
    assert any(p.startswith(f"{case.path}: ") for p in problems), problems
